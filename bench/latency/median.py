"""Median over several `run.py` result files, per engine and figure (benchmarks report the median of runs).

    python bench/latency/median.py bench/results/http-latency-1.json bench/results/http-latency-2.json ...
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

FIGURES = (
    ("p50_ms", "p50 ms", "{:.0f}"),
    ("p95_ms", "p95 ms", "{:.0f}"),
    ("p95_warm_ms", "p95 ms without first request per place", "{:.0f}"),
    ("p50_model_ms", "p50 ms of model answers", "{:.0f}"),
    ("cache_hit_rate", "cache hits", "{:.0%}"),
    ("evaluated_tokens_per_model_request", "prompt tokens evaluated / model answer", "{:.1f}"),
    ("first_line_match_rate", "first line = typed next", "{:.0%}"),
)


def main(paths: list[str]) -> int:
    runs = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
    names = [summary["name"] for summary in runs[0]["summaries"]]
    medians: dict[str, dict[str, float]] = {}
    for name in names:
        per_run = [next(s for s in run["summaries"] if s["name"] == name) for run in runs]
        medians[name] = {key: statistics.median(summary[key] for summary in per_run) for key, _, _ in FIGURES}
    print(f"median of {len(runs)} runs; requests per run: {runs[0]['summaries'][0]['requests']}")
    print("| engine | " + " | ".join(label for _, label, _ in FIGURES) + " |")
    print("|---" * (len(FIGURES) + 1) + "|")
    for name in names:
        cells = [fmt.format(medians[name][key]) for key, _, fmt in FIGURES]
        print(f"| {name} | " + " | ".join(cells) + " |")
    ratios = []
    for ours, theirs in (("http", "llama-server"), ("seekcode", "llama-server"), ("http", "seekcode")):
        if ours in medians and theirs in medians:
            # ratios within each run (same process, same load), then their median
            p50 = statistics.median(_figure(run, ours, "p50_ms") / _figure(run, theirs, "p50_ms") for run in runs)
            p95 = statistics.median(_figure(run, ours, "p95_ms") / _figure(run, theirs, "p95_ms") for run in runs)
            model = statistics.median(
                _figure(run, ours, "p50_model_ms") / _figure(run, theirs, "p50_model_ms") for run in runs
            )
            ratios.append(f"{ours} / {theirs}: p50 {p50:.2f}, p95 {p95:.2f}, p50 of model answers {model:.2f}")
    print("\n" + "\n".join(ratios))
    return 0


def _figure(run: dict, name: str, key: str) -> float:
    return next(s for s in run["summaries"] if s["name"] == name)[key]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
