"""Review benchmark: recall on one-edit mutants, false alarms on clean functions, time.

    python -m bench.assist.review --model PATH [--label NAME] [--limit 50] [--offset 0] [--threads 2]
        [--arms surprise,written,both,baseline] [--out bench/assist/results] [--uncalibrated]

Cases: the docstring benchmark's CPython standard-library functions (bench/assist/review_cases.py),
each reviewed clean and with up to 3 one-edit mutants that are shown to change behaviour (run
against the clean function; the others are dropped and counted). Thresholds: the model's calibration
(features/review_calibration.py, computed once on held-out standard-library modules that no case
comes from, then cached), exactly as the CLI and the editor use them. Arms:
- surprise: model surprise alone; written: the constrained written review alone;
- both: surprise candidates, each confirmed or not by a focused "is line N correct?" question,
  plus the written review steered to the surprising lines;
- baseline: the same model asked in one plain chat message for a JSON list of bugs, its
  answer read as a user would (every reported line is a finding, no grammar, no filtering).
Recall: the share of mutants with a finding at warning or above whose lines cover the mutated
line ±1. False alarm: the share of clean functions with any finding at warning or above. Time: seconds
per review (median). Prints a table; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.review_cases import Case, Function, functions  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.engine import calibration as cal  # noqa: E402
from lsp_server.features.review import SEVERITY_RANK, ReviewOptions, ReviewRequest, review  # noqa: E402
from lsp_server.features.review_calibration import calibration_for, options_for  # noqa: E402
from lsp_server.features.review_model import LocalReviewModel  # noqa: E402

ARMS = ("surprise", "baseline", "written", "both")
BASELINE_PROMPT = (
    "Find the bugs in this Python function. Answer with a JSON list; each bug is "
    '{{"line": <line number, counting the first line as 1>, "message": <what is wrong>}}. '
    "Answer [] if there is no bug.\n\n```python\n{code}```"
)


def baseline_lines(backend: LocalBackend, code: str, max_tokens: int = 384) -> list[tuple[int, int]]:
    """The (start, end) lines of the bugs the model lists when simply asked in a chat."""
    from lsp_server.engine import chat

    messages = [{"role": "user", "content": BASELINE_PROMPT.format(code=code)}]
    try:
        prompt = chat.chat_prompt(backend, messages)
    except chat.ChatTemplateError:
        prompt = backend.tokenize(messages[0]["content"] + "\n\nBugs as JSON:\n")
    room = backend.context_size - len(prompt)
    if room < 48:
        return []  # the function does not fit the model's context with an answer: nothing reported
    answer = backend.generate(prompt, max_tokens=min(max_tokens, room), temperature=0.0).text
    found = []
    for match in re.finditer(r"\{[^{}]*\}", answer):
        try:
            item = json.loads(match.group())
        except json.JSONDecodeError:
            continue
        line = item.get("line", item.get("start_line")) if isinstance(item, dict) else None
        if isinstance(line, int) and not isinstance(line, bool):
            end = item.get("end_line", line)
            found.append((line, end if isinstance(end, int) and end >= line else line))
    return found


def flagged_lines(arm: str, backend, model, code: str, options: ReviewOptions) -> list[tuple[int, int, str]]:
    """(start, end, severity) of the findings one arm reports for `code` (baseline: all "warning")."""
    if arm == "baseline":
        return [(start, end, "warning", None) for start, end in baseline_lines(backend, code)]
    result = review(ReviewRequest(code, path="case.py", language="python", signals=arm), model, options)
    return [(f.start_line, f.end_line, f.severity, f.suggestion) for f in result.findings]


def covers(lines, target: int, severity: str = "warning") -> bool:
    return any(start - 1 <= target <= end + 1 for start, end, level, _ in lines
               if SEVERITY_RANK[level] >= SEVERITY_RANK[severity])


def alarms(lines, severity: str = "warning") -> bool:
    return any(SEVERITY_RANK[level] >= SEVERITY_RANK[severity] for _, _, level, _ in lines)


def restores(lines, case: Case) -> bool:
    """A finding on the mutated line whose suggested replacement is the original line."""
    original = case.clean.splitlines()[case.mutated_line - 1]
    return any(start == end == case.mutated_line and suggestion == original for start, end, _, suggestion in lines)


def run_arm(arm: str, backend, model, items: list[Function], options: ReviewOptions) -> dict:
    seconds, records = [], []
    for function in items:
        started = time.perf_counter()
        clean_lines = flagged_lines(arm, backend, model, function.clean, options)
        seconds.append(time.perf_counter() - started)
        mutants = []
        for case in function.mutants:
            started = time.perf_counter()
            mutant_lines = flagged_lines(arm, backend, model, case.mutant, options)
            seconds.append(time.perf_counter() - started)
            mutants.append({"edit": case.edit, "mutated_line": case.mutated_line, "findings": mutant_lines,
                            "hit": covers(mutant_lines, case.mutated_line),
                            "hit_any": covers(mutant_lines, case.mutated_line, "info"),
                            "fix_restores": restores(mutant_lines, case)})
        records.append({"case": function.name, "clean_findings": clean_lines, "alarm": alarms(clean_lines),
                        "alarm_any": alarms(clean_lines, "info"), "mutants": mutants})
        print(f"  {arm:9s} {function.name:40s} hits={sum(m['hit'] for m in mutants)}/{len(mutants)} "
              f"alarm={int(records[-1]['alarm'])} (any severity: {sum(m['hit_any'] for m in mutants)}/"
              f"{int(records[-1]['alarm_any'])})", file=sys.stderr, flush=True)
    all_mutants = [mutant for record in records for mutant in record["mutants"]]
    count = len(items)
    return {"arm": arm, "functions": count, "mutants": len(all_mutants),
            "recall": sum(m["hit"] for m in all_mutants) / len(all_mutants),
            "false_alarm_rate": sum(r["alarm"] for r in records) / count,
            "recall_any_severity": sum(m["hit_any"] for m in all_mutants) / len(all_mutants),
            "false_alarm_rate_any_severity": sum(r["alarm_any"] for r in records) / count,
            "fixes_restoring_the_original": sum(m["fix_restores"] for m in all_mutants) / len(all_mutants),
            "hits": sum(m["hit"] for m in all_mutants), "alarms": sum(r["alarm"] for r in records),
            "median_seconds": statistics.median(seconds), "mean_seconds": statistics.fmean(seconds),
            "records": records}


def check_disjoint(items: list[Function], corpus: list[cal.CorpusFunction]) -> None:
    """No benchmark function calibrates a threshold (same label or same source text)."""
    labels = {function.label for function in corpus}
    sources = {function.source for function in corpus}
    overlap = [case.name for case in items if case.name in labels or case.clean in sources]
    if overlap:
        raise SystemExit(f"calibration corpus overlaps the benchmark: {', '.join(overlap)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0,
                        help="skip this many functions of the list first (--offset 50 --limit 50: functions 51-100, held out)")
    parser.add_argument("--mutants", type=int, default=3, help="behaviour-changing mutants per function, at most")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out", default="bench/assist/results")
    parser.add_argument("--uncalibrated", action="store_true", help="the fixed default thresholds instead of the calibration")
    args = parser.parse_args(argv)
    arms = [arm for arm in args.arms.split(",") if arm]
    bad = [arm for arm in arms if arm not in ARMS]
    if bad:
        parser.error(f"unknown arm {bad[0]}; choose from {', '.join(ARMS)}")
    if args.limit < 1 or args.offset < 0:
        parser.error("--limit must be at least 1 and --offset at least 0")
    items = functions(args.limit, args.mutants, offset=args.offset)
    mutant_count = sum(len(function.mutants) for function in items)
    dropped = sum(len(function.dropped) for function in items)
    print(f"{len(items)} functions (numbers {args.offset + 1}-{args.offset + len(items)} of the list), {mutant_count} mutants that change behaviour ({dropped} tried and dropped: "
          "no input told them apart)", file=sys.stderr)
    corpus = cal.corpus()
    check_disjoint(items, corpus)
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    model = LocalReviewModel(backend)
    label = (args.label or Path(args.model).stem) + (f"-from{args.offset + 1}" if args.offset else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"review-{label}.json"
    results = []
    load = {"start": os.getloadavg()}
    try:
        calibration = None
        if not args.uncalibrated:
            calibration = calibration_for(model, Path(args.model), progress=_tqdm_progress(), functions=corpus)
        options = options_for(calibration)
        print(f"thresholds: info {options.surprise_threshold:.2f}, warning {options.surprise_warning:.2f}, "
              f"fix warning {options.fix_warning}, fix margin {options.fix_margin}, verify {options.verify_threshold}",
              file=sys.stderr)
        for arm in arms:
            results.append(run_arm(arm, backend, model, items, options))
            load[f"after {arm}"] = os.getloadavg()
            # Saved after every arm: a long run that is stopped keeps what it measured.
            path.write_text(json.dumps({"model": str(args.model), "label": label, "threads": args.threads,
                                        "offset": args.offset, "functions": len(items), "mutants": mutant_count, "dropped_mutants": dropped,
                                        "dropped": {f.name: list(f.dropped) for f in items if f.dropped},
                                        "calibration": calibration.__dict__ if calibration else None,
                                        "load_average": load, "arms": results}, indent=1), encoding="utf-8")
    finally:
        backend.close()
    print(f"\nreview benchmark, {label}, {len(items)} clean functions (numbers {args.offset + 1}-{args.offset + len(items)}), {mutant_count} behaviour-changing mutants "
          f"({dropped} dropped); "
          f"load average (1, 5, 15 min) {load}")
    print("| arm | recall (warning+, line ±1) | false alarms (warning+, clean) | recall, any severity | "
          "false alarms, any severity | quick fix restores the original | median s / review | mean s / review |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['arm']} | {r['recall']:.0%} ({r['hits']}/{r['mutants']}) | {r['false_alarm_rate']:.0%} ({r['alarms']}/{r['functions']}) | {r['recall_any_severity']:.0%} | "
              f"{r['false_alarm_rate_any_severity']:.0%} | {r['fixes_restoring_the_original']:.0%} | {r['median_seconds']:.2f} | {r['mean_seconds']:.2f} |")
    print(f"\nwritten {path}")
    return 0


def _tqdm_progress():
    from tqdm import tqdm

    bar = tqdm(desc="calibrating", unit="step", mininterval=5)

    def report(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return report


if __name__ == "__main__":
    sys.exit(main())
