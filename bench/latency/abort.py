"""How soon an abort frees the model in the middle of a long prompt, and what whole batches save.

    python bench/latency/abort.py --model MODEL.gguf [--threads 2] [--runs 5] [--tokens 1024]

A superseded request must free the model at once: the next keystroke waits for it. The local
backend evaluates prompts in whole batches and stops one through llama.cpp's abort callback,
which looks between the compute graph's operations. For each run, a `generate` over a
`--tokens` prompt (a standard-library file) starts from an empty cache and is aborted after a
random part of its evaluation; the figure is the time from setting the abort to `generate`
returning. The same process then times the prompt's evaluation in whole batches against the
chunks the backend used before (about 0.5 s each, re-checking between them), as a ratio.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import statistics
import sys
import threading
import time
import textwrap
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402


def timed_abort(backend: LocalBackend, prompt: list[int], after: float) -> float:
    """Milliseconds from setting the abort `after` seconds into the evaluation to `generate` returning."""
    backend.reset()
    abort = threading.Event()
    returned: list[float] = []
    worker = threading.Thread(
        target=lambda: (backend.generate(prompt, max_tokens=1, abort=abort), returned.append(time.perf_counter()))
    )
    worker.start()
    time.sleep(after)
    set_at = time.perf_counter()
    abort.set()
    worker.join()
    return (returned[0] - set_at) * 1000


def evaluation_seconds(backend: LocalBackend, prompt: list[int], chunk: int) -> float:
    backend.reset()
    started = time.perf_counter()
    for start in range(0, len(prompt), chunk):
        backend._decode(prompt[start : start + chunk])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args()
    backend = LocalBackend(args.model, BackendOptions(context_size=args.tokens + 64, threads=args.threads))
    try:
        prompt = backend.tokenize(Path(inspect.getsourcefile(textwrap)).read_text(encoding="utf-8"))[: args.tokens]
        batches = [evaluation_seconds(backend, prompt, backend.options.batch_size) for _ in range(args.runs)]
        whole = statistics.median(batches)
        old_chunk = max(64, min(backend.options.batch_size, int(0.5 * len(prompt) / whole)))
        chunked = statistics.median(evaluation_seconds(backend, prompt, old_chunk) for _ in range(args.runs))
        draw = random.Random(0)
        waits = [timed_abort(backend, prompt, draw.uniform(0.1, 0.9) * whole) for _ in range(args.runs)]
    finally:
        backend.close()
    print(f"{len(prompt)} prompt tokens, {args.threads} threads, median of {args.runs}, load {os.getloadavg()[0]:.1f}")
    print(f"abort to return: median {statistics.median(waits):.0f} ms, max {max(waits):.0f} ms")
    print(f"evaluation in {backend.options.batch_size}-token batches {whole:.2f} s; "
          f"in {old_chunk}-token chunks (about 0.5 s each, before) {chunked:.2f} s: ratio {whole / chunked:.2f}")


if __name__ == "__main__":
    main()
