"""Recall against false alarms for every threshold: surprise alone vs surprise + focused verification.

    python -m bench.assist.review_curve --model PATH [--label NAME] [--limit 50] [--threads 2]

The review benchmark (bench/assist/review.py) reports one operating point, the calibrated one.
This scores the same cases once and sweeps the thresholds, so the two signals can be compared
at equal false-alarm rates (a report, not a tuning: the review never reads these figures).
- surprise: a function alarms at threshold t when any line scores >= t; a mutant is found when a
  line within the mutated line ±1 scores >= t (at most the 3 top lines count, as in the review);
- verified: the top 3 lines at or above the calibrated info threshold are asked "is line N
  correct?"; a line is flagged when log P(no) - log P(yes) >= v.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.review_cases import cases  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.features.review import (  # noqa: E402
    LineTable, ReviewRequest, WrittenReviewUnavailable, scored_lines, verify_messages,
)
from lsp_server.features.review_calibration import calibration_for  # noqa: E402
from lsp_server.features.review_model import LocalReviewModel  # noqa: E402

TOP = 3


def score(model, text: str, metric: str, info: float, verify: bool) -> dict:
    lines = sorted(scored_lines(text, "python", model.surprise_scorer(), None, metric), key=lambda line: -line.score)[:TOP]
    table = LineTable(text)
    verdicts = {}
    if verify:
        for line in lines:
            if line.score >= info:
                try:
                    verdicts[line.line] = model.yes_no(verify_messages(ReviewRequest(text, language="python"), table, 1,
                                                                       table.count, line.line), None)
                except WrittenReviewUnavailable:  # too long for the model's context: not asked, as in the review
                    break
    return {"lines": [[line.line, line.score] for line in lines], "verdicts": verdicts}


def sweep(records: list[dict], flagged) -> list[tuple[float, float, float]]:
    """(threshold, recall, false-alarm rate) for every distinct threshold of `flagged(record, kind)`'s values."""
    values = sorted({value for record in records for kind in ("mutant", "clean")
                     for _, value in flagged(record, kind)}, reverse=True)
    points = []
    for threshold in [math.inf, *values]:
        hits = sum(any(value >= threshold and abs(line - record["mutated_line"]) <= 1
                       for line, value in flagged(record, "mutant")) for record in records)
        alarms = sum(any(value >= threshold for _, value in flagged(record, "clean")) for record in records)
        points.append((threshold, hits / len(records), alarms / len(records)))
    return points


def best_recall(points, rate: float) -> tuple[float, float]:
    """The highest recall among thresholds with a false-alarm rate at most `rate`, and that threshold."""
    allowed = [(recall, threshold) for threshold, recall, alarms in points if alarms <= rate + 1e-9]
    return max(allowed) if allowed else (0.0, math.inf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench/assist/results")
    args = parser.parse_args(argv)
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    model = LocalReviewModel(backend)
    try:
        calibration = calibration_for(model, Path(args.model))
        verify = calibration.verify is not None
        records = []
        for case in cases(args.limit):
            records.append({"case": case.name, "mutated_line": case.mutated_line,
                            "mutant": score(model, case.mutant, calibration.metric, calibration.info, verify),
                            "clean": score(model, case.clean, calibration.metric, calibration.info, verify)})
            print(f"  {case.name}", file=sys.stderr, flush=True)
    finally:
        backend.close()
    surprise = sweep(records, lambda record, kind: record[kind]["lines"])
    verified = sweep(records, lambda record, kind: [(int(line), value) for line, value in record[kind]["verdicts"].items()])
    label = args.label or Path(args.model).stem
    print(f"\n{label}, {len(records)} functions; calibrated: info {calibration.info:.1f}, warning "
          f"{calibration.warning:.1f}, verify {calibration.verify}")
    print("| false-alarm rate at most | surprise: best recall (threshold) | surprise + verification: best recall (threshold) |")
    print("|---|---|---|")
    for rate in (0.0, 0.02, 0.06, 0.1, 0.2, 0.3):
        s_recall, s_threshold = best_recall(surprise, rate)
        v_recall, v_threshold = best_recall(verified, rate)
        print(f"| {rate:.0%} | {s_recall:.0%} ({s_threshold:.1f}) | {v_recall:.0%} ({v_threshold:.2f}) |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"review-curve-{label}.json"
    path.write_text(json.dumps({"model": args.model, "calibration": calibration.__dict__, "records": records,
                                "surprise": surprise, "verified": verified}, indent=1), encoding="utf-8")
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
