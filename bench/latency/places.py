"""Latency when the cursor moves: cold requests (the first after a move) and warm ones, apart.

Three typing patterns over real standard-library files, the same engines as run.py:

  move        type at a new place every K requests (K = --every, e.g. 5, 10, 20), 12 places a module
              (--modules, textwrap by default; --requests each, one module after the other)
  open        open a file, then type K requests at a place in it; next file
  back-forth  two functions of one file, switching between them every K requests

    python bench/latency/places.py --model MODEL.gguf --pattern move --every 10 [--modules textwrap,shlex] \\
        [--engines seekcode,seekcode@512/128,seekcode-before,naive,llama-server] [--runs 3] [--requests 60] [--threads 2] \\
        [--pause-ms 0] [--type-ms-per-char 0] [--rest-ms 0] [--quick-prefix-tokens 320] [--no-prefill] [--shift-reuse]

seekcode@P/S is seekcode with a short first window of P prefix and S suffix tokens (the default
is 320/80; seekcode@0/0 has none, so every request uses the full window). seekcode+shift is seekcode
with shifted reuse on; the two combine (seekcode+shift@0/0). seekcode-short-first is seekcode
whose idle work always evaluates the short window before the full one (before FULL_FIRST_WITHIN). seekcode-before is
seekcode without the short first window, idle work and the generation time limit (what issue 16
started from). --pause-ms gives each engine the user's time between an
answer and the next request; seekcode's idle work (widening a short window, speculating the
next completion, the prefill that an edit asks for) runs in it on the server's worker thread,
and goes on past it until a request that needs the model aborts it (a type-through answer
does not). --type-ms-per-char adds the time the user takes to type the characters
between two requests at a place (200 ms is about 50 words a minute). --rest-ms is the time the cursor rests at a new place before the first
request there (the user reads, then starts typing): seekcode's editor clients report the
resting cursor (seekcode/cursor) and the server prefills there meanwhile; the other engines
hear of a place only from its first request.

Each run replays the same requests to every engine in the same process, one engine after
the other (seekcode's idle work runs in the background); the table gives
the median over runs of each figure (p50/p95 over cold requests, warm requests and all),
the ratio against llama-server where it runs, and first-line match. JSON goes to
bench/results/places-<pattern>-<time>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as latency  # noqa: E402  (bench/latency/run.py: arms, typing script, records)

from lsp_server.settings import Settings  # noqa: E402

PATTERNS = ("move", "open", "back-forth")
OPEN_MODULES = ("textwrap", "shlex", "fnmatch", "calendar", "difflib", "argparse", "csv", "tokenize")


def source_of(module: str) -> str:
    return Path(inspect.getsourcefile(importlib.import_module(module))).read_text(encoding="utf-8")


def place_scripts(source: str, count: int, chars: int) -> list[list[latency.TypingRequest]]:
    """The typing requests at each of `count` places of `source`, one list a place."""
    spans = latency.choose_places(source, count, chars)
    scripts: list[list[latency.TypingRequest]] = [[] for _ in spans]
    for request in latency.typing_requests(source, spans):
        scripts[request.place].append(request)
    return [script for script in scripts if script]


def visits(scripts: list[list[latency.TypingRequest]], order: Iterator[int], every: int,
           total: int, first_visit: int = 0) -> list[latency.TypingRequest]:
    """`every` requests per visit, at the place `order` names; each place resumes where its typing stopped.

    A request's `place` is the visit's number, so the first request of every visit counts as cold.
    """
    done = [0] * len(scripts)
    out: list[latency.TypingRequest] = []
    visit = first_visit
    while len(out) < total:
        place = next(order, None)
        if place is None:  # every place visited
            break
        script = scripts[place]
        if done[place] >= len(script):
            continue
        for request in script[done[place] : done[place] + every][: total - len(out)]:
            out.append(dataclasses.replace(request, place=visit))
        done[place] += every
        visit += 1
        if all(count >= len(script) for count, script in zip(done, scripts)):
            break
    return out


def requests_for(pattern: str, every: int, total: int, chars: int,
                 modules: tuple[str, ...] = ("textwrap",)) -> list[latency.TypingRequest]:
    if pattern == "move":  # `total` requests in each module, one module after the other
        out: list[latency.TypingRequest] = []
        for module in modules:
            scripts = [[dataclasses.replace(request, path=f"{module}.py") for request in script]
                       for script in place_scripts(source_of(module), 12, chars)]
            first_visit = out[-1].place + 1 if out else 0
            out += visits(scripts, (i % len(scripts) for i in range(10**6)), every, total, first_visit)
        return out
    if pattern == "back-forth":
        scripts = place_scripts(source_of("textwrap"), 2, chars * 4)
        return visits(scripts, (i % 2 for i in range(10**6)), every, total)
    scripts = [[dataclasses.replace(request, path=f"{module}.py") for request in place_scripts(source_of(module), 1, chars)[0]]
               for module in OPEN_MODULES]
    return visits(scripts, iter(range(len(scripts))), every, total)


def add_request_arguments(parser: argparse.ArgumentParser, requests: int = 60, modules: str = "textwrap") -> None:
    """The options that choose the requests (requests_from), shared by the scripts over these patterns."""
    parser.add_argument("--pattern", choices=PATTERNS, default="move")
    parser.add_argument("--every", type=int, default=10, help="requests between moves (K)")
    parser.add_argument("--requests", type=int, default=requests, help="requests per run (per module with --modules)")
    parser.add_argument("--modules", default=modules,
                        help="move pattern: the standard-library modules typed in, one after the other")
    parser.add_argument("--chars", type=int, default=150, help="characters typed per place")


def requests_from(args: argparse.Namespace) -> list[latency.TypingRequest]:
    modules = tuple(name.strip() for name in args.modules.split(",") if name.strip())
    return requests_for(args.pattern, args.every, args.requests, args.chars, modules)


EARLY_REQUESTS = 4  # first-line matches are shown apart for the first requests after a move


def positions(records: list[latency.Record]) -> list[int]:
    """Each request's position at its place: 0 for the cold one, then 1, 2, ..."""
    out: list[int] = []
    for record in records:
        out.append(0 if record.first_at_place or not out else out[-1] + 1)
    return out


def match_rate(records: list[latency.Record]) -> float:
    judged = [record for record in records if record.first_line_match is not None]
    return sum(bool(record.first_line_match) for record in judged) / len(judged) if judged else 0.0


def summarize(records: list[latency.Record]) -> dict[str, float]:
    cold = [record.latency_ms for record in records if record.first_at_place]
    warm = [record.latency_ms for record in records if not record.first_at_place]
    everything = [record.latency_ms for record in records]
    at = positions(records)
    return {
        "cold_p50": latency.percentile(cold, 0.5), "cold_p95": latency.percentile(cold, 0.95),
        "warm_p50": latency.percentile(warm, 0.5) if warm else 0.0,
        "warm_p95": latency.percentile(warm, 0.95) if warm else 0.0,
        "p50": latency.percentile(everything, 0.5), "p95": latency.percentile(everything, 0.95),
        "cold_evaluated": statistics.fmean(r.evaluated_tokens for r in records if r.first_at_place),
        "short_window": sum(record.quick for record in records) / len(records),
        "first_line": match_rate(records),
        "first_line_early": match_rate([r for r, place_at in zip(records, at) if place_at < EARLY_REQUESTS]),
        "first_line_later": match_rate([r for r, place_at in zip(records, at) if place_at >= EARLY_REQUESTS]),
        "requests": len(records), "cold_requests": len(cold),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def print_table(pattern: str, every: int, medians: dict[str, dict[str, float]], runs: int) -> None:
    print(f"\npattern {pattern}, a move every {every} requests, median of {runs} runs")
    print("| engine | requests (cold) | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | p50 ms | p95 ms "
          "| tokens evaluated / cold request | short-window answers | first line matches "
          f"(first {EARLY_REQUESTS} requests at a place / later) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in medians.items():
        print(f"| {name} | {row['requests']:.0f} ({row['cold_requests']:.0f}) | {row['cold_p50']:.0f} | "
              f"{row['cold_p95']:.0f} | {row['warm_p50']:.0f} | {row['warm_p95']:.0f} | {row['p50']:.0f} | "
              f"{row['p95']:.0f} | {row['cold_evaluated']:.0f} | {row['short_window']:.0%} | {row['first_line']:.0%} "
              f"({row['first_line_early']:.0%} / {row['first_line_later']:.0%}) |")
    if "seekcode" in medians and "llama-server" in medians:
        ours, theirs = medians["seekcode"], medians["llama-server"]
        print(f"\nseekcode / llama-server: cold p50 {ours['cold_p50'] / theirs['cold_p50']:.2f} (target <= 0.25), "
              f"p95 {ours['p95'] / theirs['p95']:.2f} (target <= 0.5)")


class BeforeArm(latency.SeekcodeArm):
    """seekcode as it was before the short first window, idle work and the generation time limit."""

    name = "seekcode-before"

    def __init__(self, model, settings: Settings) -> None:
        super().__init__(model, dataclasses.replace(
            settings, quick_prefix_tokens=0, prefill=False, max_generation_ms=0, shift_reuse=False, warm_places=2))


def seekcode_arm(name: str, args: argparse.Namespace, settings: Settings) -> Any:
    """`seekcode[+shift][@P/S]`: seekcode, with shifted reuse on (`+shift`) and a short first window
    of P prefix and S suffix tokens (`@P/S`; `@0/0`: none)."""
    base, _, window = name.partition("@")
    if base not in ("seekcode", "seekcode+shift"):
        raise SystemExit(f"unknown engine {name!r}; choose from seekcode[+shift][@PREFIX/SUFFIX], seekcode-short-first, seekcode-before, "
                         "naive, llama-server.")
    if base == "seekcode+shift":
        settings = dataclasses.replace(settings, shift_reuse=True)
    if window:
        try:
            prefix, suffix = (int(part) for part in window.split("/"))
        except ValueError:
            raise SystemExit(f"engine {name!r}: write the short window as seekcode@PREFIX/SUFFIX, e.g. seekcode@512/128.")
        settings = dataclasses.replace(settings, quick_prefix_tokens=prefix, quick_suffix_tokens=suffix)
    arm = latency.SeekcodeArm(args.model, settings)
    arm.name = name
    return arm


def make_arm(name: str, args: argparse.Namespace, settings: Settings) -> Any:
    if name == "seekcode-short-first":  # idle work always evaluates the short window first, as before
        arm = seekcode_arm("seekcode", args, settings)
        arm.engine.full_first_within = 0.0
        arm.name = name
        return arm
    if name == "seekcode-before":
        return BeforeArm(args.model, settings)
    if name == "naive":
        return latency.NaiveArm(args.model, settings)
    if name == "llama-server":
        return latency.LlamaServerArm(args.llama_server, args.model, args.threads, args.ctx_size)
    return seekcode_arm(name, args, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    add_request_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-size", type=int, default=4096)
    parser.add_argument("--warm-places", type=int, default=Settings.warm_places)
    parser.add_argument("--engines", default="seekcode,naive,llama-server")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="the user's time between an answer and the next request; seekcode's idle work runs in it")
    parser.add_argument("--type-ms-per-char", type=float, default=0.0,
                        help="the user types at this pace between two requests at a place (on top of --pause-ms); "
                             "seekcode's idle work runs meanwhile")
    parser.add_argument("--rest-ms", type=float, default=0.0,
                        help="the cursor rests at each new place this long before its first request; "
                             "seekcode prefills there meanwhile")
    parser.add_argument("--quick-prefix-tokens", type=int, default=Settings.quick_prefix_tokens,
                        help="the short first window's prefix tokens (0: off)")
    parser.add_argument("--quick-suffix-tokens", type=int, default=Settings.quick_suffix_tokens)
    parser.add_argument("--shift-reuse", action="store_true", help="seekcode reuses cached runs at shifted positions")
    parser.add_argument("--prefill", action=argparse.BooleanOptionalAction, default=True,
                        help="seekcode's idle work (widening, speculation) during pauses")
    parser.add_argument("--llama-server", type=Path, default=latency.DEFAULT_SERVER)
    args = parser.parse_args(argv)
    os.environ.setdefault(*latency.OPENMP_WAIT_POLICY)
    names = [name.strip() for name in args.engines.split(",") if name.strip()]
    if "llama-server" in names and not args.llama_server.is_file():
        parser.error(f"{args.llama_server} is missing; build it (bench/latency/README.md) or drop it from --engines.")
    settings = Settings(threads=args.threads, context_size=args.ctx_size, warm_places=args.warm_places,
                        quick_prefix_tokens=args.quick_prefix_tokens, quick_suffix_tokens=args.quick_suffix_tokens,
                        prefill=args.prefill,
                        shift_reuse=args.shift_reuse)
    requests = requests_from(args)
    print(f"{len(requests)} requests, {sum(r.place != p.place for r, p in zip(requests[1:], requests))+1} visits")

    from tqdm import tqdm

    per_run: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    last_records: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.runs):
        arms = [make_arm(name, args, settings) for name in names]  # fresh caches every run
        try:
            with tqdm(total=len(requests) * len(arms), unit="req") as bar:
                records = latency.run(arms, requests, lambda index: bar.update(1), args.pause_ms / 1000,
                                      args.rest_ms / 1000, args.type_ms_per_char / 1000)
        finally:
            for arm in arms:
                arm.close()
        for name in names:
            per_run[name].append(summarize(records[name]))
        last_records = {name: [dataclasses.asdict(record) for record in records[name]] for name in names}
    medians = {name: median_of(rows) for name, rows in per_run.items()}
    print_table(args.pattern, args.every, medians, args.runs)
    output = latency.RESULTS_DIR / f"places-{args.pattern}-{args.every}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "command": " ".join([sys.executable, *sys.argv]), "model": str(args.model), "pattern": args.pattern,
        "every": args.every, "pause_ms": args.pause_ms, "rest_ms": args.rest_ms,
        "type_ms_per_char": args.type_ms_per_char, "runs": per_run, "medians": medians, "load_average_after": os.getloadavg(),
        "last_run_records": last_records,
    }, indent=1), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
