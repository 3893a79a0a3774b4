"""Does shifted KV reuse (llama-server's --cache-reuse) give a fresh evaluation's answer?

Evaluates 80 lines of the standard library's textwrap.py, then the same window moved N lines
down, once with the shifted reuse (`BackendOptions.shift_reuse`) and once on a fresh backend,
and compares the greedy continuations:

    python bench/latency/shift_reuse.py --model MODEL.gguf [--offsets 10 20 40 60] [--threads 2]

Prints, per offset, the tokens reused, and whether the two continuations are the same.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsp_server.backend.local import OPENMP_WAIT_POLICY, BackendOptions, LocalBackend  # noqa: E402

WINDOW = (100, 180)  # lines of textwrap.py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--offsets", type=int, nargs="+", default=[10, 20, 40, 60])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args(argv)
    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    lines = Path(inspect.getsourcefile(importlib.import_module("textwrap"))).read_text(encoding="utf-8").split("\n")
    shifting = LocalBackend(args.model, BackendOptions(context_size=2048, threads=args.threads, warm_places=2,
                                                       shift_reuse=True))
    fresh = LocalBackend(args.model, BackendOptions(context_size=2048, threads=args.threads))
    first, last = WINDOW
    same = 0
    try:
        for offset in args.offsets:
            before = shifting.tokenize("\n".join(lines[first:last]) + "\n")
            after = shifting.tokenize("\n".join(lines[first + offset : last + offset]) + "\n")
            shifting.reset()
            shifting.generate(before, max_tokens=4)
            reused = shifting.generate(after, max_tokens=args.max_tokens)
            fresh.reset()
            reference = fresh.generate(after, max_tokens=args.max_tokens)
            equal = reused.token_ids == reference.token_ids
            same += equal
            print(f"moved {offset:3d} lines: {reused.stats.reused_tokens:4d} of {len(after)} tokens reused, "
                  f"{'same continuation' if equal else 'different continuation'}: "
                  f"{reused.text[:40]!r} / {reference.text[:40]!r}")
    finally:
        shifting.close()
        fresh.close()
    print(f"{same} of {len(args.offsets)} continuations equal a fresh evaluation's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
