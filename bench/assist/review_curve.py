"""Recall against false alarms for every threshold: surprise alone vs surprise + focused verification.

    python -m bench.assist.review_curve --model PATH [--label NAME] [--limit 50] [--mutants 3] [--threads 2]
        [--no-verify] [--corpus-points]

The review benchmark (bench/assist/review.py) reports one operating point, the calibrated one.
This scores the same cases once and sweeps the thresholds, so the two signals can be compared
at equal false-alarm rates (a report, not a tuning: the review never reads these figures).
- surprise: a function alarms at threshold t when any line scores >= t; a mutant is found when a
  line within the mutated line ±1 scores >= t (at most the 3 top lines count, as in the review);
- verified: the top 3 lines at or above the calibrated info threshold are asked "is line N
  correct?"; a line is flagged when log P(no) - log P(yes) >= v (skipped with --no-verify).
Recall is over the behaviour-changing mutants, false alarms over the clean functions.
With --corpus-points it also scores the held-out calibration corpus (surprise only) and reports the
benchmark's recall and false alarms at the thresholds that at most 0% (the corpus maximum), 1% and
2% of the corpus functions reach: stricter calibration points, chosen on the corpus, not here.
"Surprise with a same-shaped fix" counts only lines whose surprising token the model would swap for
a same-shaped one (an operator, a number: the review's quick-fix rule), thresholds set the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.review_cases import functions  # noqa: E402
from lsp_server.engine import calibration as cal  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.features.review import (  # noqa: E402
    LineTable, ReviewRequest, WrittenReviewUnavailable, same_shaped_fix, scored_lines, verify_messages,
)
from lsp_server.features.review_calibration import calibration_for  # noqa: E402
from lsp_server.features.review_model import LocalReviewModel  # noqa: E402

TOP = 3


def score(model, text: str, metric: str, info: float, verify: bool) -> dict:
    every = sorted(scored_lines(text, "python", model.surprise_scorer(), None, metric), key=lambda line: -line.score)
    lines = every[:TOP]
    table = LineTable(text)
    # Lines whose surprising token the model would swap for a same-shaped one (an operator for an
    # operator, a number for a number): the review's own quick-fix rule (features/review.py).
    fixable = [line for line in every if same_shaped_fix(line, table) is not None][:TOP]
    verdicts = {}
    if verify:
        for line in lines:
            if line.score >= info:
                try:
                    verdicts[line.line] = model.yes_no(verify_messages(ReviewRequest(text, language="python"), table, 1,
                                                                       table.count, line.line), None)
                except WrittenReviewUnavailable:  # too long for the model's context: not asked, as in the review
                    break
    return {"lines": [[line.line, line.score] for line in lines], "verdicts": verdicts,
            "fixable": [[line.line, line.score] for line in fixable]}


def sweep(records: list[dict], flagged) -> list[tuple[float, float, float]]:
    """(threshold, recall, false-alarm rate) for every distinct threshold of `flagged(scores)`'s values."""
    mutants = [mutant for record in records for mutant in record["mutants"]]
    values = sorted({value for record in records for scores in [record["clean"], *(m["scores"] for m in record["mutants"])]
                     for _, value in flagged(scores)}, reverse=True)
    return [at(records, mutants, flagged, threshold) for threshold in [math.inf, *values]]


def at(records: list[dict], mutants: list[dict], flagged, threshold: float) -> tuple[float, float, float]:
    hits = sum(any(value >= threshold and abs(line - mutant["mutated_line"]) <= 1 for line, value in flagged(mutant["scores"]))
               for mutant in mutants)
    alarms = sum(any(value >= threshold for _, value in flagged(record["clean"])) for record in records)
    return threshold, hits / len(mutants), alarms / len(records)


def best_recall(points, rate: float) -> tuple[float, float]:
    """The highest recall among thresholds with a false-alarm rate at most `rate`, and that threshold."""
    allowed = [(recall, threshold) for threshold, recall, alarms in points if alarms <= rate + 1e-9]
    return max(allowed) if allowed else (0.0, math.inf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--mutants", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench/assist/results")
    parser.add_argument("--no-verify", action="store_true", help="surprise alone (no focused questions)")
    parser.add_argument("--corpus-points", action="store_true", help="also score the calibration corpus (see above)")
    args = parser.parse_args(argv)
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    model = LocalReviewModel(backend)
    corpus_worst, corpus_fixable = [], []
    try:
        calibration = calibration_for(model, Path(args.model))
        verify = calibration.verify is not None and not args.no_verify
        records = []
        for function in functions(args.limit, args.mutants):
            records.append({"case": function.name,
                            "clean": score(model, function.clean, calibration.metric, calibration.info, verify),
                            "mutants": [{"mutated_line": case.mutated_line, "edit": case.edit,
                                         "scores": score(model, case.mutant, calibration.metric, calibration.info, verify)}
                                        for case in function.mutants]})
            print(f"  {function.name}", file=sys.stderr, flush=True)
        if args.corpus_points:
            scorer = model.surprise_scorer()
            for function in cal.corpus():
                lines = scored_lines(function.source, "python", scorer, None, calibration.metric)
                table = LineTable(function.source)
                corpus_worst.append(max((line.score for line in lines if math.isfinite(line.score)), default=-math.inf))
                corpus_fixable.append(max((line.score for line in lines if math.isfinite(line.score)
                                           and same_shaped_fix(line, table) is not None), default=-math.inf))
    finally:
        backend.close()
    surprise_of = lambda scores: scores["lines"]  # noqa: E731
    surprise = sweep(records, surprise_of)
    verified = sweep(records, lambda scores: [(int(line), value) for line, value in scores["verdicts"].items()])
    fixable_of = lambda scores: scores["fixable"]  # noqa: E731
    fixable = sweep(records, fixable_of)
    label = args.label or Path(args.model).stem
    mutant_count = sum(len(record["mutants"]) for record in records)
    print(f"\n{label}, {len(records)} functions, {mutant_count} mutants; calibrated: info {calibration.info:.1f}, warning "
          f"{calibration.warning:.1f}, verify {calibration.verify}")
    print("| false-alarm rate at most | surprise: best recall (threshold) | surprise + verification: best recall "
          "(threshold) | surprise with a same-shaped fix: best recall (threshold) |")
    print("|---|---|---|---|")
    for rate in (0.0, 0.02, 0.06, 0.1, 0.2, 0.3):
        s_recall, s_threshold = best_recall(surprise, rate)
        v_recall, v_threshold = best_recall(verified, rate)
        f_recall, f_threshold = best_recall(fixable, rate)
        print(f"| {rate:.0%} | {s_recall:.1%} ({s_threshold:.1f}) | {v_recall:.1%} ({v_threshold:.2f}) | "
              f"{f_recall:.1%} ({f_threshold:.1f}) |")
    corpus_points = []
    if corpus_worst:
        mutants = [mutant for record in records for mutant in record["mutants"]]
        print(f"\nsurprise warning thresholds set on the {len(corpus_worst)} corpus functions:")
        print("| signal | corpus functions reaching it at most | threshold | recall | false alarms |")
        print("|---|---|---|---|---|")
        for name, of, values in (("surprise", surprise_of, corpus_worst), ("same-shaped fix", fixable_of, corpus_fixable)):
            for rate in (0.0, 0.01, 0.02):
                threshold, recall, alarms = at(records, mutants, of, cal.threshold(values, rate))
                corpus_points.append({"signal": name, "rate": rate, "threshold": threshold, "recall": recall,
                                      "false_alarm_rate": alarms})
                print(f"| {name} | {rate:.0%} | {threshold:.1f} | {recall:.1%} ({round(recall * len(mutants))}/"
                      f"{len(mutants)}) | {alarms:.0%} ({round(alarms * len(records))}/{len(records)}) |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"review-curve-{label}.json"
    path.write_text(json.dumps({"model": args.model, "calibration": calibration.__dict__, "records": records,
                                "surprise": surprise, "verified": verified, "fixable": fixable,
                                "corpus_worst": corpus_worst, "corpus_fixable": corpus_fixable,
                                "corpus_points": corpus_points}, indent=1), encoding="utf-8")
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
