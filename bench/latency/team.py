"""Team run: several simulated users typing at once against one shared llama-server.

Each user types a different place of the same file (the places of run.py's typing script)
and waits `--pause-ms` after each answer before the next request, like someone reading a
suggestion and typing on. All users share one `llama-server -np USERS` (each slot with
`--ctx-size` tokens, llama.vim's server flags). Two arms, each on a fresh server:

  seekcode-http  every user runs seekcode's engine (prompt layout, completion cache,
                 early stop) over HTTP: /completion with our prompt tokens, cache_prompt;
                 the server puts each user back in the slot whose cached prompt is most similar
  llama-vim      every user sends llama.vim's /infill request (run.py's LLAMA_VIM_REQUEST),
                 with id_slot -1 so the server picks the slot (llama.vim pins slot 0, which
                 is meant for one user per server and would serialise a team on one slot)

    python bench/latency/team.py --model ~/.cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \\
        --threads 2 --users 4 --runs 3

Reports p50/p95 latency per user (median over the runs) and pooled; writes JSON to
bench/results/team-<time>.json.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as latency  # noqa: E402  (bench/latency/run.py)

from lsp_server.backend.local import OPENMP_WAIT_POLICY  # noqa: E402
from lsp_server.settings import Settings  # noqa: E402

ARMS = ("seekcode-http", "llama-vim")


def requests_per_user(source: str, users: int, chars: int) -> list[list[latency.TypingRequest]]:
    spans = latency.choose_places(source, users, chars)
    if len(spans) < users:
        raise SystemExit(f"only {len(spans)} places found for {users} users; lower --users or --chars.")
    by_place: list[list[latency.TypingRequest]] = [[] for _ in spans]
    for request in latency.typing_requests(source, spans):
        by_place[request.place].append(request)
    return by_place


def make_user_arm(name: str, server: latency.LlamaServer, args: argparse.Namespace, settings: Settings) -> Any:
    if name == "seekcode-http":
        return latency.HttpArm(args.llama_server, args.model, settings, server=server)
    return latency.LlamaVimArm(args.llama_server, args.model, args.threads, args.ctx_size, server=server, slot=-1)


def team_run(name: str, args: argparse.Namespace, settings: Settings, source: str,
             plans: list[list[latency.TypingRequest]]) -> dict[str, Any]:
    """One run of one arm on a fresh server: latencies per user."""
    server = latency.LlamaServer(args.llama_server, args.model, args.threads, args.ctx_size, parallel=len(plans))
    arms = []
    try:
        arms = [make_user_arm(name, server, args, settings) for _ in plans]
        line_end = source.find("\n", source.find("\n") + 1)
        arms[0].complete(latency.TypingRequest(-1, source, line_end, ""))  # pages the model in, unmeasured
        latencies: list[list[float]] = [[] for _ in plans]
        from_cache: list[list[bool]] = [[] for _ in plans]
        hits: list[int] = [0 for _ in plans]
        failures: list[str] = []
        start = threading.Barrier(len(plans))

        def user(index: int) -> None:
            try:
                start.wait()
                for request in plans[index]:
                    answer = arms[index].complete(request)
                    latencies[index].append(answer.latency_ms)
                    from_cache[index].append(answer.from_cache)
                    hits[index] += answer.from_cache
                    time.sleep(args.pause_ms / 1000)
            except Exception as error:  # reported, not swallowed: the run is then invalid
                failures.append(f"user {index}: {type(error).__name__}: {error}")

        began = time.perf_counter()
        threads = [threading.Thread(target=user, args=(index,)) for index in range(len(plans))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        if failures:
            raise RuntimeError("; ".join(failures))
        return {"latencies": latencies, "from_cache": from_cache, "cache_hits": hits, "wall_s": wall}
    finally:
        for arm in arms:
            arm.close()
        server.close()


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    users = len(runs[0]["latencies"])
    per_user = []
    for index in range(users):
        p50 = statistics.median(latency.percentile(run["latencies"][index], 0.5) for run in runs)
        p95 = statistics.median(latency.percentile(run["latencies"][index], 0.95) for run in runs)
        requests = len(runs[0]["latencies"][index])
        hit_rate = statistics.median(run["cache_hits"][index] / requests for run in runs)
        per_user.append({"user": index, "requests": requests, "p50_ms": p50, "p95_ms": p95, "cache_hit_rate": hit_rate})
    pooled = [[value for user in run["latencies"] for value in user] for run in runs]
    # answers the model produced: a cache hit's ~0 ms says nothing about the shared server
    model = [[value for user, hits in zip(run["latencies"], run["from_cache"]) for value, hit in zip(user, hits)
              if not hit] for run in runs]
    return {
        "p50_model_ms": statistics.median(latency.percentile(values, 0.5) for values in model if values),
        "per_user": per_user,
        "p50_ms": statistics.median(latency.percentile(values, 0.5) for values in pooled),
        "p95_ms": statistics.median(latency.percentile(values, 0.95) for values in pooled),
        "wall_s": statistics.median(run["wall_s"] for run in runs),
    }


def print_table(summaries: dict[str, dict[str, Any]]) -> None:
    print(f"{'arm':<15}{'user':>5}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'cache hits':>11}")
    for name, summary in summaries.items():
        for user in summary["per_user"]:
            print(f"{name:<15}{user['user']:>5}{user['requests']:>9}{user['p50_ms']:>9.0f}{user['p95_ms']:>9.0f}"
                  f"{user['cache_hit_rate']:>10.0%}")
        print(f"{name:<15}{'all':>5}{'':>9}{summary['p50_ms']:>9.0f}{summary['p95_ms']:>9.0f}"
              f"   p50 of model answers {summary['p50_model_ms']:.0f} ms, wall {summary['wall_s']:.0f} s")
    if set(ARMS) <= set(summaries):
        ours, theirs = summaries["seekcode-http"], summaries["llama-vim"]
        print(f"\nseekcode-http / llama-vim (pooled): p50 of model answers "
              f"{ours['p50_model_ms'] / theirs['p50_model_ms']:.2f}, p95 {ours['p95_ms'] / theirs['p95_ms']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-size", type=int, default=4096, help="context per slot (per user)")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--chars", type=int, default=80, help="characters each user types (whole lines)")
    parser.add_argument("--pause-ms", type=float, default=250.0, help="think time after each answer")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--source-module", default="textwrap")
    parser.add_argument("--llama-server", type=Path, default=latency.DEFAULT_SERVER)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.llama_server.is_file():
        parser.error(f"{args.llama_server} is missing; build it (see bench/latency/README.md).")
    names = [name.strip() for name in args.arms.split(",") if name.strip()]
    unknown = set(names) - set(ARMS)
    if unknown:
        parser.error(f"unknown arm(s) {sorted(unknown)}; choose from {', '.join(ARMS)}.")
    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    source_path = Path(inspect.getsourcefile(importlib.import_module(args.source_module)))
    source = source_path.read_text(encoding="utf-8")
    plans = requests_per_user(source, args.users, args.chars)
    settings = Settings(threads=args.threads, context_size=args.ctx_size)
    load = os.getloadavg()
    print(f"{args.users} users typing {[len(plan) for plan in plans]} requests each in {source_path}; "
          f"load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")

    from tqdm import tqdm

    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tqdm(total=args.runs * len(names), unit="run") as bar:
        for _ in range(args.runs):
            for name in names:  # arms alternate, so machine load drifts over both alike
                raw[name].append(team_run(name, args, settings, source, plans))
                bar.update(1)
    summaries = {name: summarize(raw[name]) for name in names}
    print_table(summaries)
    output = args.json or latency.RESULTS_DIR / f"team-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "command": " ".join([sys.executable, *sys.argv]),
        "model": str(args.model), "threads": args.threads, "users": args.users, "pause_ms": args.pause_ms,
        "load_average_before": load, "load_average_after": os.getloadavg(),
        "summaries": summaries, "runs": raw,
    }, indent=1), encoding="utf-8")
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
