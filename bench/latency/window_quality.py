"""First-line match of prompt windows alone: the same requests, each answered by the model, no clock.

places.py measures what a user gets, where the short first window, the idle work and the time
limit all mix. This isolates the prompt: every request of a pattern is answered by the model
(no type-through cache, no time limit) with each window, so two windows differ only in what
they show the model.

    python bench/latency/window_quality.py --model MODEL.gguf --pattern move --every 10 \\
        --modules textwrap,shlex --windows 1024/256,320/80

A window is PREFIX/SUFFIX tokens. Prints first-line matches over all requests and over the
first 4 at each place, and writes every answer to bench/results/window-quality-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import places  # noqa: E402
import run as latency  # noqa: E402

from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.features.completion import CompletionEngine, CompletionRequest  # noqa: E402
from lsp_server.settings import Settings  # noqa: E402


def parse_window(text: str) -> tuple[int, int]:
    try:
        prefix, suffix = (int(part) for part in text.split("/"))
    except ValueError:
        raise SystemExit(f"window {text!r}: write it as PREFIX/SUFFIX tokens, e.g. 320/80.")
    return prefix, suffix


def answers(engine: CompletionEngine, settings: Settings, requests: list[latency.TypingRequest], bar) -> list[dict]:
    out = []
    for request in requests:
        completion = CompletionRequest(request.doc_text, request.cursor, "python", settings=settings,
                                       uri=f"file:///{request.path}")
        result = engine.complete(completion)
        text = result.suggestions[0].text if result.suggestions else ""
        expected = request.expected_line.rstrip()
        out.append({"place": request.place, "cursor": request.cursor, "path": request.path, "expected": expected,
                    "text": text, "raw": result.raw_text,
                    "evaluated": result.stats.evaluated_tokens if result.stats else 0,
                    "match": (latency.first_line(text) == expected) if expected.strip() else None})
        bar.update(1)
    return out


def place_positions(records: list[dict]) -> list[int]:
    """Each request's position at its place: 0 for the first one there, then 1, 2, ..."""
    out: list[int] = []
    for index, record in enumerate(records):
        out.append(0 if index == 0 or record["place"] != records[index - 1]["place"] else out[-1] + 1)
    return out


def rates(records: list[dict]) -> tuple[float, float, int]:
    """First-line matches over the judged requests, over the first ones at each place, and how many were judged."""
    judged = [(record, position) for record, position in zip(records, place_positions(records))
              if record["match"] is not None]
    early = [record for record, position in judged if position < places.EARLY_REQUESTS]
    share = lambda rows: sum(bool(row["match"]) for row in rows) / len(rows) if rows else 0.0  # noqa: E731
    return share([record for record, _ in judged]), share(early), len(judged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    places.add_request_arguments(parser, requests=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", default="1024/256,320/80")
    parser.add_argument("--context-size", type=int, default=BackendOptions.context_size,
                        help="tokens of context (a prefix window over about 2500 tokens needs more than 4096)")
    parser.add_argument("--shift-reuse", action="store_true",
                        help="reuse cached runs at shifted positions (approximate) instead of evaluating them")
    args = parser.parse_args(argv)
    os.environ.setdefault(*latency.OPENMP_WAIT_POLICY)
    requests = places.requests_from(args)
    backend = LocalBackend(args.model, BackendOptions(context_size=args.context_size, threads=args.threads, warm_places=0, shift_reuse=args.shift_reuse))

    from tqdm import tqdm

    results: dict[str, list[dict]] = {}
    try:
        for window in (name.strip() for name in args.windows.split(",") if name.strip()):
            prefix, suffix = parse_window(window)
            settings = Settings(threads=args.threads, context_size=args.context_size, prefix_tokens=prefix, suffix_tokens=suffix,
                                quick_prefix_tokens=0, prefill=False, max_generation_ms=0)
            engine = CompletionEngine(backend, use_cache=False)
            with tqdm(total=len(requests), unit="req", desc=window) as bar:
                results[window] = answers(engine, settings, requests, bar)
    finally:
        backend.close()
    print(f"shifted reuse: {'on' if args.shift_reuse else 'off'}")
    print("| window | first line matches | first 4 at a place | tokens evaluated / first request at a place |")
    print("|---|---|---|---|")
    for window, records in results.items():
        overall, early, judged = rates(records)
        cold = [record["evaluated"] for record, position in zip(records, place_positions(records)) if position == 0]
        print(f"| {window} | {overall:.1%} of {judged} | {early:.1%} | {sum(cold) / len(cold):.0f} |")
    output = latency.RESULTS_DIR / f"window-quality-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"command": " ".join([sys.executable, *sys.argv]), "results": results}, indent=1),
                      encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
