"""How much of a new place's full prompt any KV reuse could spare: a bound, from tokens alone.

At each cold request of a pattern (the first after a move), the full prompt is compared with
the last full prompts of the places visited before (what the warm places could hold), under
three rules, each more permissive than the last:

  prefix     the longest common prefix (exact reuse; what the backend does by default)
  forward    the prefix, then cached runs of at least 32 tokens in cache order (places.shift_plan,
             `shiftReuse`; approximate)
  anywhere   every run of at least 32 prompt tokens found anywhere in a cached prompt, in any
             order and with gaps between (no backend can do this: llama.cpp needs a sequence's
             positions to stay consecutive; it bounds what any shifted reuse could spare)

and with the short window's prompt, for comparison. No model evaluation: the model file is
loaded for its tokenizer only.

    python bench/latency/reuse_bound.py --model MODEL.gguf [--pattern move --every 10 --requests 60 \\
        --modules textwrap,shlex,csv,difflib --places-kept 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import places  # noqa: E402

from lsp_server.backend.base import common_prefix_length  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.backend.places import MIN_SHIFTED_RUN, reused_by, shift_plan  # noqa: E402
from lsp_server.features.completion import CompletionEngine, CompletionRequest, quick_settings  # noqa: E402
from lsp_server.settings import Settings  # noqa: E402

KEY = 8  # tokens that index a cached position


def prefix_reuse(cached: Sequence[int], prompt: Sequence[int]) -> int:
    return min(common_prefix_length(list(cached), list(prompt)), len(prompt) - 1)


def forward_reuse(cached: Sequence[int], prompt: Sequence[int]) -> int:
    start = prefix_reuse(cached, prompt)
    return reused_by(shift_plan(cached, prompt, start), start)


def anywhere_reuse(cached: Sequence[int], prompt: Sequence[int], min_run: int = MIN_SHIFTED_RUN) -> int:
    """Prompt tokens (all but the last) inside a run of at least `min_run` that `cached` holds somewhere."""
    starts: dict[tuple[int, ...], list[int]] = {}
    for index in range(len(cached) - KEY + 1):
        starts.setdefault(tuple(cached[index : index + KEY]), []).append(index)
    covered, at, end = 0, 0, len(prompt) - 1
    while at < end:
        longest = 0
        for index in starts.get(tuple(prompt[at : at + KEY]), ()):
            length = 0
            while index + length < len(cached) and at + length < end and cached[index + length] == prompt[at + length]:
                length += 1
            longest = max(longest, length)
        if longest >= min_run:
            covered += longest
            at += longest
        else:
            at += 1
    return covered


RULES = {"prefix": prefix_reuse, "forward": forward_reuse, "anywhere": anywhere_reuse}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    places.add_request_arguments(parser, modules="textwrap,shlex,csv,difflib")
    parser.add_argument("--places-kept", type=int, default=5, help="earlier places' prompts a new place may reuse")
    args = parser.parse_args(argv)
    requests = places.requests_from(args)
    backend = LocalBackend(args.model, BackendOptions(threads=1, warm_places=0))
    engine = CompletionEngine(backend)
    settings = Settings()
    short = quick_settings(settings)
    kept: list[list[int]] = []  # the last full prompt at each place left, newest last
    rows: list[dict[str, int]] = []
    try:
        last: list[int] | None = None
        for index, request in enumerate(requests):
            completion = CompletionRequest(request.doc_text, request.cursor, "python", settings=settings,
                                           uri=f"file:///{request.path}")
            full = engine.heal(engine.build_prompt(completion))[0]
            if index == 0 or request.place != requests[index - 1].place:
                if last is not None:
                    kept.append(last)
                candidates = kept[-args.places_kept :]
                row = {"full": len(full)}
                if short is not None:
                    row["short"] = len(engine.heal(engine.build_prompt(dataclasses.replace(completion, settings=short)))[0])
                for name, rule in RULES.items():
                    row[name] = len(full) - max((rule(cached, full) for cached in candidates), default=0)
                rows.append(row)
            last = full
    finally:
        backend.close()
    print(f"{len(rows)} cold requests ({len(requests)} in all); tokens to evaluate at each, median (mean):")
    print("| full prompt | short window | left after prefix reuse | after forward shifted runs | after runs from anywhere |")
    print("|---|---|---|---|---|")
    cells = [f"{statistics.median(r[k] for r in rows):.0f} ({statistics.fmean(r[k] for r in rows):.0f})" if k in rows[0]
             else "-" for k in ("full", "short", "prefix", "forward", "anywhere")]
    print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
