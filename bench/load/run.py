"""Load on the real server: a typing storm, many big documents, a review during the storm.

    python bench/load/run.py [--model M.gguf] [--threads 1] [--rate 100] [--seconds 60] \\
        [--documents 50 --document-mb 1]

1. Typing storm: `--rate` pairs per second of didChange (one character typed) followed by
   inlineCompletion at the new cursor, for `--seconds`, with a `seekcode.review` and a
   `seekcode.generateDocstring` every 5 s. Twice: "storm" aims them at another open
   document (a docstring asked for, or a saved file reviewed, while typing goes on in
   another file), "storm_same_document" at the document
   being typed in (whose docstrings are refused, "document changed", by design). Reports
   completion latency (p50/p95 of every answer, and of answers that carried a suggestion),
   how many answers were superseded (empty or cancelled), reviews and docstrings answered,
   applied and their latency, the worker queue length sampled every 0.5 s
   (seekcode/debug/state), and the server's RSS before and after.
2. Big workspace: `--documents` documents of `--document-mb` MB opened at once; the time
   until the server has them all, RSS growth, and completion latency in one of them
   against a single-document baseline.

The machine's load average is printed with the figures (a shared machine's figures move
with it). JSON goes to bench/results/load-<time>.json. Uses the test-only debug requests
(SEEKCODE_DEBUG_REQUESTS=1, see lsp_server/protocol/debug.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from lsp_server.default_model import bundled_model_path  # noqa: E402
from tests.lsp.lsp_client import LspClient  # noqa: E402

URI = "file:///bench/storm.py"
OTHER_URI = "file:///bench/other.py"
OTHER_TEXT = (
    "import json\n\n\ndef load_settings(path, defaults=None):\n    with open(path) as handle:\n"
    "        values = json.load(handle)\n    return {**(defaults or {}), **values}\n\n\n"
    "def save_settings(path, values):\n    with open(path, 'w') as handle:\n        json.dump(values, handle)\n"
)
SEED_TEXT = (
    "import os\n\n\ndef read_config(path):\n    with open(path) as handle:\n        return handle.read()\n\n\n"
    "def main():\n    config = read_config(os.environ['CONFIG'])\n    "
)
TYPED = "print(config.strip())\n    values = [line.split('=') for line in config.splitlines()]\n    "


class TimedClient(LspClient):
    """Records when each response arrived; says yes to workspace/applyEdit (applies nothing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.arrived: dict[Any, float] = {}
        super().__init__(*args, **kwargs)

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/applyEdit":
            return {"applied": True}
        return super()._answer(request)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message and "id" in message:
            self.arrived[message["id"]] = time.monotonic()
        super()._dispatch(message)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def state(client: TimedClient) -> dict[str, Any]:
    return client.request("seekcode/debug/state", {}, 60)


def position_after(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


def typing_storm(client: TimedClient, rate: float, seconds: float, review_every: float = 5.0,
                 target: str = "other", assist_count: int | None = None) -> dict[str, Any]:
    text = SEED_TEXT
    client.open(URI, text)
    client.open(OTHER_URI, OTHER_TEXT)
    assist_uri = OTHER_URI if target == "other" else URI
    line, character = position_after(text)
    client.inline(URI, line, character, timeout=120)  # warm: the first prompt is evaluated in full
    rss_before = rss_mb(client.process.pid)
    queue_samples: list[int] = []
    stop = threading.Event()

    rss_samples: list[tuple[float, float]] = []

    def sample_queue() -> None:
        while not stop.is_set():
            queue_samples.append(state(client)["queued"])
            rss_samples.append((time.monotonic(), rss_mb(client.process.pid)))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample_queue, daemon=True)
    sampler.start()
    sent: dict[int, float] = {}
    reviews: dict[int, float] = {}
    docstrings: dict[int, float] = {}
    version, typed_index = 1, 0
    started = time.monotonic()
    next_review = started + review_every
    pairs = int(rate * seconds)
    for number in range(pairs):
        due = started + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        char = TYPED[typed_index % len(TYPED)]
        typed_index += 1
        version += 1
        client.change(URI, version, [{"range": {"start": {"line": line, "character": character},
                                                "end": {"line": line, "character": character}}, "text": char}])
        text += char
        line, character = position_after(text)
        sent[client.inline_async(URI, line, character)] = time.monotonic()
        if time.monotonic() >= next_review and (assist_count is None or len(reviews) < assist_count):
            next_review += review_every
            review_id = client.request_async("workspace/executeCommand",
                                             {"command": "seekcode.review", "arguments": [{"uri": assist_uri}]})
            reviews[review_id] = time.monotonic()
            docstring_id = client.request_async("workspace/executeCommand", {
                "command": "seekcode.generateDocstring",
                "arguments": [{"uri": assist_uri, "position": {"line": 3, "character": 5}}]})
            docstrings[docstring_id] = time.monotonic()
    send_seconds = time.monotonic() - started
    storm_end = time.monotonic()
    answers = {request_id: client.response(request_id, timeout=120) for request_id in sent}
    review_answers = {request_id: client.response(request_id, timeout=300) for request_id in reviews}
    docstring_answers = {request_id: client.response(request_id, timeout=300) for request_id in docstrings}
    stop.set()
    sampler.join()
    latencies = {request_id: (client.arrived[request_id] - at) * 1000 for request_id, at in sent.items()}
    with_items = [latencies[i] for i, answer in answers.items() if answer.get("result", {}).get("items")]
    empty = sum(1 for answer in answers.values() if "result" in answer and not answer["result"]["items"])
    errors = [answer["error"]["code"] for answer in answers.values() if "error" in answer]
    all_latencies = list(latencies.values())
    return {
        "pairs": pairs,
        "rate_achieved": round(pairs / send_seconds, 1),
        "answered": len(answers),
        "with_suggestion": len(with_items),
        "empty_superseded_or_nothing": empty,
        "errors": {str(code): errors.count(code) for code in sorted(set(errors))},
        "latency_ms_p50_all": round(percentile(all_latencies, 0.5), 1),
        "latency_ms_p95_all": round(percentile(all_latencies, 0.95), 1),
        "latency_ms_max_all": round(max(all_latencies), 1),
        "latency_ms_p50_with_suggestion": round(percentile(with_items, 0.5), 1),
        "latency_ms_p95_with_suggestion": round(percentile(with_items, 0.95), 1),
        "assist_target": target,
        "reviews": len(reviews),
        # finished = a review that ran to its end (not superseded by the next one, not cancelled)
        "reviews_finished": sum(1 for a in review_answers.values() if _review_finished(a)),
        "reviews_finished_during_storm": sum(1 for i, a in review_answers.items()
                                             if _review_finished(a) and client.arrived[i] <= storm_end),
        "review_ms": [round((client.arrived[i] - at) * 1000) for i, at in reviews.items()],
        "review_errors": sum(1 for answer in review_answers.values() if "error" in answer),
        "review_results": [answer.get("result") for answer in review_answers.values()],
        "docstrings": len(docstrings),
        "docstrings_applied": sum(1 for a in docstring_answers.values() if a.get("result", {}).get("applied")),
        "docstrings_applied_during_storm": sum(1 for i, a in docstring_answers.items()
                                               if a.get("result", {}).get("applied") and client.arrived[i] <= storm_end),
        "docstring_ms": [round((client.arrived[i] - at) * 1000) for i, at in docstrings.items()],
        "docstring_results": [answer.get("result", answer.get("error")) for answer in docstring_answers.values()],
        "rss_mb_every_10s": [round(rss) for at, rss in rss_samples if int((at - started) * 2) % 20 == 0],
        "queue_max": max(queue_samples or [0]),
        "queue_samples": len(queue_samples),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_mb(client.process.pid), 1),
    }


def _review_finished(answer: dict[str, Any]) -> bool:
    result = answer.get("result") or {}
    return "error" not in answer and not result.get("superseded") and not result.get("cancelled") and "message" not in result


def big_workspace(client: TimedClient, documents: int, megabytes: float) -> dict[str, Any]:
    line = "value_{:07d} = compute(alpha, beta)  # padding to make a realistic line\n"
    per_doc = int(megabytes * 1024 * 1024 // len(line.format(0)))
    baseline_uri = "file:///bench/one.py"
    client.open(baseline_uri, SEED_TEXT)
    base_line, base_char = position_after(SEED_TEXT)
    client.inline(baseline_uri, base_line, base_char, timeout=120)
    baseline = []
    for version in range(2, 7):  # a character typed before each, as below, so the cache cannot answer
        client.change(baseline_uri, version, [{"range": {"start": {"line": base_line, "character": base_char},
                                                         "end": {"line": base_line, "character": base_char}}, "text": "x"}])
        base_char += 1
        start = time.monotonic()
        client.inline(baseline_uri, base_line, base_char, timeout=120)
        baseline.append((time.monotonic() - start) * 1000)
    rss_before = rss_mb(client.process.pid)
    start = time.monotonic()
    for number in range(documents):
        body = "".join(line.format(number * per_doc + index) for index in range(per_doc))
        client.open(f"file:///bench/big{number}.py", body + SEED_TEXT)
    opened = state(client)["documents"]
    open_seconds = time.monotonic() - start
    target = "file:///bench/big0.py"
    target_line, target_char = per_doc + position_after(SEED_TEXT)[0], position_after(SEED_TEXT)[1]
    client.inline(target, target_line, target_char, timeout=300)
    loaded = []
    for version in range(2, 7):
        client.change(target, version, [{"range": {"start": {"line": target_line, "character": target_char},
                                                   "end": {"line": target_line, "character": target_char}}, "text": "x"}])
        target_char += 1
        start = time.monotonic()
        client.inline(target, target_line, target_char, timeout=300)
        loaded.append((time.monotonic() - start) * 1000)
    return {
        "documents": opened,
        "document_mb": megabytes,
        "open_all_seconds": round(open_seconds, 2),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_mb(client.process.pid), 1),
        "completion_ms_median_one_document": round(statistics.median(baseline), 1),
        "completion_ms_median_with_big_workspace": round(statistics.median(loaded), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(bundled_model_path()))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--documents", type=int, default=50)
    parser.add_argument("--document-mb", type=float, default=1.0)
    parser.add_argument("--log-file", help="the server's log (one per part: PART is appended to the name)")
    parser.add_argument("--assist-every", type=float, default=5.0, help="seconds between review+docstring requests")
    parser.add_argument("--assist-count", type=int, help="send only this many review+docstring pairs (default: no limit)")
    parser.add_argument("--skip", choices=["storm", "storm_same_document", "workspace"], action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    load_start = os.getloadavg()
    results: dict[str, Any] = {"model": args.model, "threads": args.threads, "cpus": os.cpu_count(),
                               "loadavg_start": load_start}
    for part in ("storm", "storm_same_document", "workspace"):
        if part in args.skip:
            continue
        client = TimedClient(["--model", args.model, "--threads", str(args.threads), "--max-tokens", str(args.max_tokens)],
                             env={"SEEKCODE_MODEL": "", "SEEKCODE_DEBUG_REQUESTS": "1"},
                             log_path=Path(f"{args.log_file}.{part}") if args.log_file else None)
        try:
            client.initialize()
            if Path(args.model).exists():  # a missing model measures the protocol alone (empty answers)
                client.wait_model_ready(timeout=300)
            if part.startswith("storm"):
                target = "same" if part == "storm_same_document" else "other"
                results[part] = typing_storm(client, args.rate, args.seconds, args.assist_every, target=target,
                                             assist_count=args.assist_count)
                print(json.dumps({part: {k: v for k, v in results[part].items() if not k.endswith("_results")}}), flush=True)
            else:
                results["workspace"] = big_workspace(client, args.documents, args.document_mb)
        finally:
            client.shutdown(timeout=120)
    results["loadavg_end"] = os.getloadavg()
    out = REPO / "bench" / "results" / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
