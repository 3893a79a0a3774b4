"""Test-generation benchmark: seekcode's tests (with and without --run) vs a plain chat.

    python -m bench.assist.testgen --model PATH [--label NAME] [--limit 50] [--threads 2]
        [--mutants 3] [--out bench/assist/results]

Each case is a CPython standard-library function (stdlib_cases.py). Its whole module is
copied into a scratch project as `subject.py`, so the function keeps its globals; tests
import it from there. Arms:
- seekcode: the tests feature (tests/test_subject.py, our header and imports);
- seekcode+run: the same tests after --run (wrong expected values repaired from the code,
  then three runs, only always-passing tests kept);
- baseline: the same model asked in one chat message for pytest tests of the function in
  subject.py; the first code block of its answer is saved as the test file, as a user would;
- baseline+run: that file through the same --run (oracle repair, then the three-run filter).
In the +run arms "written" counts the kept tests; "repaired" those kept with an expected
value taken from the code by the regression oracles, "dropped" those removed.
Per case and arm: tests written (test functions in a file that parses), share of them
passing on the correct code, mutation score (mutants = one comparison/arithmetic/boolean
operator, integer constant or `not` edit inside the function; killed when a test that
passes on the correct code fails on the mutant), seconds to the result. Mutants are not
checked for equivalence; an equivalent mutant counts as a miss for every arm alike.
Generated tests run only in subprocesses, in the scratch project.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.stdlib_cases import StdlibFunction, stdlib_functions  # noqa: E402
from lsp_server.backend.base import PromptTooLongError  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.features.test_writers import test_writer_for  # noqa: E402
from lsp_server.features.tests import (  # noqa: E402
    TestsError,
    TestsResult,
    generate_tests,
    plan_tests,
    run_and_filter,
    run_once,
    test_names,
)

ARMS = ("seekcode", "seekcode+run", "baseline", "baseline+run")
BASELINE_PROMPT = (
    "Write pytest unit tests for the function `{name}` below. It is defined in subject.py "
    "(import it with `from subject import {name}`). Reply with the test file.\n\n```python\n{code}```"
)
SWAPS = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "==",
         ast.Add: "-", ast.Sub: "+", ast.Mult: "//", ast.And: "or", ast.Or: "and"}
SPELLINGS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
             ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.And: "and", ast.Or: "or"}


def module_source(case: StdlibFunction) -> str | None:
    source = inspect.getsource(importlib.import_module(case.module))
    return None if re.search(r"^\s*from \.", source, re.M) else source


def find_function(tree: ast.AST, name: str) -> ast.FunctionDef:
    """The module's function `name`: top level first, else the first one (e.g. under an `if`)."""
    candidates = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == name]
    return min(candidates, key=lambda node: node.col_offset)


def mutants(source: str, name: str, limit: int) -> list[str]:
    """Up to `limit` one-edit mutants of function `name` in `source` (first sites in order)."""
    tree = ast.parse(source)
    function = find_function(tree, name)
    lines = source.splitlines(keepends=True)
    sites: list[tuple[int, int, int, str]] = []  # (line, start col, end col, replacement)
    for node in ast.walk(function):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
            left, right = node.left, node.comparators[0]
            segment = lines[left.end_lineno - 1]
            if left.end_lineno == right.lineno:
                gap = segment[left.end_col_offset : right.col_offset]
                spelled = SPELLINGS[type(node.ops[0])]
                if gap.strip() == spelled:
                    at = left.end_col_offset + gap.index(spelled)
                    sites.append((left.end_lineno, at, at + len(spelled), SWAPS[type(node.ops[0])]))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAPS and node.left.end_lineno == node.right.lineno:
            segment = lines[node.left.end_lineno - 1]
            gap = segment[node.left.end_col_offset : node.right.col_offset]
            spelled = SPELLINGS[type(node.op)]
            if gap.strip() == spelled:
                at = node.left.end_col_offset + gap.index(spelled)
                sites.append((node.left.end_lineno, at, at + len(spelled), SWAPS[type(node.op)]))
        elif isinstance(node, ast.Constant) and type(node.value) is int and node.lineno == node.end_lineno:
            sites.append((node.lineno, node.col_offset, node.end_col_offset, str(node.value + 1)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and node.lineno == node.operand.lineno:
            sites.append((node.lineno, node.col_offset, node.operand.col_offset, ""))
    sites.sort()
    found = []
    for line, start, end, new in sites:
        mutated = list(lines)
        text = mutated[line - 1]
        mutated[line - 1] = text[:start] + new + text[end:]
        candidate = "".join(mutated)
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        found.append(candidate)
        if len(found) >= limit:
            break
    return found


def scratch_project(source: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="seekcode-testgen-"))
    (root / "pyproject.toml").write_text("[project]\nname = 'subject'\n", encoding="utf-8")
    (root / "subject.py").write_text(source, encoding="utf-8")
    return root


def evaluate(plan, code: str, mutant_sources: list[str], timeout: float) -> dict:
    written = len(test_names(code, plan))
    if written == 0:
        return {"written": 0, "passing": 0, "killed": 0, "mutants": len(mutant_sources)}
    correct = run_once(plan, code, timeout)
    passing = set(correct.passed)
    killed = 0
    subject = plan.root / "subject.py"
    original = subject.read_text(encoding="utf-8")
    try:
        for mutant in mutant_sources if passing else []:
            subject.write_text(mutant, encoding="utf-8")
            outcome = run_once(plan, code, timeout)
            if passing - set(outcome.passed):
                killed += 1
    finally:
        subject.write_text(original, encoding="utf-8")
    return {"written": written, "passing": len(passing & set(test_names(code, plan))), "killed": killed,
            "mutants": len(mutant_sources)}


def baseline_code(backend: LocalBackend, case: StdlibFunction, max_tokens: int = 768) -> str:
    from lsp_server.engine import chat

    message = BASELINE_PROMPT.format(name=case.name, code=case.source)
    try:
        prompt = chat.chat_prompt(backend, [{"role": "user", "content": message}])
    except chat.ChatTemplateError:
        prompt = backend.tokenize(message + "\n\n```python\n")
    try:
        answer = backend.generate(prompt, max_tokens=max_tokens, temperature=0.0).text
    except PromptTooLongError:  # the request does not fit the model's window: the user gets nothing
        return ""
    match = re.search(r"```(?:python)?\n(.*?)(?:```|$)", answer, re.S)
    return match.group(1) if match else answer


def run_case(backend, writer, case: StdlibFunction, mutant_limit: int, timeout: float) -> dict[str, dict] | None:
    source = module_source(case)
    if source is None:
        return None
    mutant_sources = mutants(source, case.name, mutant_limit)
    if not mutant_sources:
        return None
    root = scratch_project(source)
    rows: dict[str, dict] = {}
    try:
        path = root / "subject.py"
        function = find_function(ast.parse(source), case.name)
        offset = sum(len(line) for line in source.splitlines(keepends=True)[: function.lineno - 1])
        offset += source.splitlines()[function.lineno - 1].index("def ") + 4  # on the name
        plan = plan_tests(path, source, offset, "python", root, "pytest")
        started = time.perf_counter()
        try:
            result = generate_tests(plan, writer)
            code = result.code
        except TestsError:
            result, code = None, ""
        generated = time.perf_counter() - started
        rows["seekcode"] = {**evaluate(plan, code, mutant_sources, timeout), "seconds": generated}
        rows["seekcode+run"] = _with_run(plan, result, mutant_sources, timeout, generated)

        bare_plan = replace(plan, header="", existing=None)  # the pasted file carries its own imports
        started = time.perf_counter()
        pasted = baseline_code(backend, case)
        generated = time.perf_counter() - started
        rows["baseline"] = {**evaluate(bare_plan, pasted, mutant_sources, timeout), "seconds": generated}
        pasted_result = TestsResult(bare_plan.file_edit(pasted), pasted, 1) if test_names(pasted, bare_plan) else None
        rows["baseline+run"] = _with_run(bare_plan, pasted_result, mutant_sources, timeout, generated)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def _with_run(plan, result, mutant_sources, timeout, generated, repair: bool = True) -> dict:
    started = time.perf_counter()
    code, repaired, dropped = "", 0, 0
    if result is not None:
        try:
            kept = run_and_filter(plan, result, timeout=timeout, repair=repair)
            code, repaired, dropped = kept.code, kept.repaired, kept.dropped
        except TestsError:
            code, dropped = "", len(test_names(result.code, plan))
    seconds = generated + time.perf_counter() - started
    return {**evaluate(plan, code, mutant_sources, timeout), "seconds": seconds, "repaired": repaired, "dropped": dropped}


def summarize(rows: list[dict]) -> dict:
    written = sum(row["written"] for row in rows)
    mutants_total = sum(row["mutants"] for row in rows)
    return {
        "cases": len(rows),
        "tests_written": written,
        "cases_with_tests": sum(row["written"] > 0 for row in rows) / len(rows),
        "passing_share": (sum(row["passing"] for row in rows) / written) if written else 0.0,
        "mutation_score": sum(row["killed"] for row in rows) / mutants_total if mutants_total else 0.0,
        "repaired": sum(row.get("repaired", 0) for row in rows),
        "dropped": sum(row.get("dropped", 0) for row in rows),
        "median_seconds": statistics.median(row["seconds"] for row in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", default=None)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mutants", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", default="bench/assist/results")
    parser.add_argument("--resume", action="store_true",
                        help="keep the cases already in this label's results file and run only the rest")
    args = parser.parse_args(argv)
    label = args.label or Path(args.model).stem
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    writer = test_writer_for(backend)
    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    labels: list[str] = []
    if args.resume:
        labels, results = previous_results(args, label)
    try:
        from tqdm import tqdm
    except ImportError:
        def tqdm(items, **_):
            return items
    try:
        for case in tqdm(stdlib_functions(args.limit * 4, per_module=8), desc=f"tests {label}", file=sys.stderr):
            if len(labels) >= args.limit:
                break
            if case.label in labels:
                continue
            try:
                rows = run_case(backend, writer, case, args.mutants, args.timeout)
            except Exception as error:  # a case the harness cannot set up is skipped, and said so
                print(f"skipped {case.label}: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            if rows is None:
                continue
            labels.append(case.label)
            for arm in ARMS:
                results[arm].append({"case": case.label, **rows[arm]})
            write_results(args, label, writer.name, labels, results)  # after every case: a long run can be stopped
    finally:
        backend.close()
    summary = write_results(args, label, writer.name, labels, results)
    print(f"tests, {label}, {len(labels)} stdlib functions, up to {args.mutants} mutants each ({writer.name} writer)")
    print(f"{'arm':13} {'written':>8} {'cases w/ tests':>15} {'passing':>8} {'mutation':>9} {'median s':>9}"
          f" {'repaired':>9} {'dropped':>8}")
    for arm, figures in summary.items():
        print(f"{arm:13} {figures['tests_written']:>8} {figures['cases_with_tests']:>15.0%} "
              f"{figures['passing_share']:>8.0%} {figures['mutation_score']:>9.0%} {figures['median_seconds']:>9.1f}"
              f" {figures['repaired']:>9} {figures['dropped']:>8}")
    return 0


def previous_results(args, label: str) -> tuple[list[str], dict[str, list[dict]]]:
    path = Path(args.out) / f"tests-{label}.json"
    if not path.exists():
        return [], {arm: [] for arm in ARMS}
    saved = json.loads(path.read_text(encoding="utf-8"))
    return list(saved["cases"]), {arm: list(saved["rows"].get(arm, [])) for arm in ARMS}


def write_results(args, label: str, writer_name: str, labels: list[str], results: dict[str, list[dict]]) -> dict:
    summary = {arm: summarize(rows) for arm, rows in results.items() if rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"tests-{label}.json").write_text(
        json.dumps({"model": str(args.model), "label": label, "writer": writer_name, "cases": labels,
                    "summary": summary, "rows": results}, indent=1),
        encoding="utf-8",
    )
    return summary


if __name__ == "__main__":
    sys.exit(main())
