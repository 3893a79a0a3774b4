"""What evaluating a prompt in small chunks costs: the price of checking for an abort more often.

    python bench/prompt_chunks.py --model MODEL.gguf [--tokens 512] [--threads 2] [--runs 3]

Evaluates the same prompt (a standard-library file's first tokens) from an empty cache with
chunks of 16..256 tokens, `--runs` times each, interleaved, and prints the median time per
chunk size as a ratio against 256-token chunks (the server's batch size) measured in the same
process. JSON goes to bench/results/prompt_chunks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

CHUNKS = (16, 32, 64, 128, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import textwrap

    import llama_cpp

    llm = llama_cpp.Llama(args.model, n_ctx=args.tokens + 16, n_batch=256, n_ubatch=256,
                          n_threads=args.threads, verbose=False)
    tokens = llm.tokenize(Path(textwrap.__file__).read_bytes(), add_bos=False)[: args.tokens]
    times: dict[int, list[float]] = {chunk: [] for chunk in CHUNKS}
    for _ in range(args.runs):
        for chunk in CHUNKS:
            llm.reset()
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            started = time.perf_counter()
            for start in range(0, len(tokens), chunk):
                llm.eval(tokens[start : start + chunk])
            times[chunk].append(time.perf_counter() - started)
    baseline = statistics.median(times[256])
    rows = []
    print(f"{len(tokens)} prompt tokens, {args.threads} threads, median of {args.runs}, load {os.getloadavg()[0]:.1f}")
    print("| chunk | median s | ratio to 256 | worst-case wait for an abort (ms) |")
    print("|---|---|---|---|")
    for chunk in CHUNKS:
        median = statistics.median(times[chunk])
        rows.append({"chunk": chunk, "median_s": median, "ratio": median / baseline,
                     "chunk_ms": median / len(tokens) * chunk * 1000})
        print(f"| {chunk} | {median:.2f} | {median / baseline:.2f} | {median / len(tokens) * chunk * 1000:.0f} |")
    out = Path("bench/results/prompt_chunks.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "tokens": len(tokens), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
