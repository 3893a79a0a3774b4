"""Docstring benchmark: seekcode's placed, template-and-holes docstrings vs a plain chat.

    python -m bench.assist.docstrings --model PATH [--label NAME] [--limit 50] [--threads 2]
        [--arms seekcode,baseline] [--out bench/assist/results]

Cases: CPython standard-library functions with their docstring removed (stdlib_cases.py).
Arms:
- seekcode: the docstring feature at a cursor in the body (chat writer + grammar for a
  model with a chat template, FIM writer otherwise), style auto (Google: the file has no
  other docstrings);
- baseline: the same model asked in one chat message to add a docstring; the first code
  block of its answer replaces the function, as a user pasting it would.
Per case: code unchanged (AST equal apart from docstrings), placed right (the function
has a docstring afterwards), ROUGE-L (word LCS F1) against the original docstring, and
seconds to the result. Prints a table (shares, mean ROUGE-L, median seconds); writes JSON.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.stdlib_cases import StdlibFunction, stdlib_functions, without_docstring  # noqa: E402
from lsp_server.backend.base import PromptTooLongError  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.features.docstring import DocstringError, generate_docstring, plan_docstring  # noqa: E402
from lsp_server.features.writers import writer_for  # noqa: E402

ARMS = ("seekcode", "baseline")
BASELINE_PROMPT = "Add a docstring to this Python function. Reply with the whole function.\n\n```python\n{code}```"


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens."""
    a = re.findall(r"\w+", candidate.lower())
    b = re.findall(r"\w+", reference.lower())
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for word in a:
        current = [0]
        for index, other in enumerate(b):
            current.append(previous[index] + 1 if word == other else max(previous[index + 1], current[-1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def stripped_dump(source: str) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(node, False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def function_docstring(source: str, name: str) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_docstring(node)
    return None


def measure(case: StdlibFunction, bare: str, new_text: str | None, seconds: float) -> dict:
    unchanged = new_text is not None and stripped_dump(new_text) == stripped_dump(bare)
    docstring = function_docstring(new_text, case.name) if new_text is not None else None
    return {
        "case": case.label,
        "code_unchanged": bool(unchanged),
        "placed_right": bool(unchanged and docstring),
        "rouge_l": rouge_l(docstring or "", case.docstring),
        "seconds": seconds,
        "docstring": docstring,
    }


def run_seekcode(backend: LocalBackend, writer, case: StdlibFunction) -> dict:
    bare = without_docstring(case.source)
    offset = bare.index("def ") + len("def ")  # the cursor on the function's name (a nested def may open the body)
    started = time.perf_counter()
    try:
        plan = plan_docstring(bare, offset, "python")
        new_text = generate_docstring(plan, writer).new_text
    except DocstringError:
        new_text = None
    return measure(case, bare, new_text, time.perf_counter() - started)


def run_baseline(backend: LocalBackend, case: StdlibFunction, max_tokens: int = 512) -> dict:
    from lsp_server.engine import chat

    bare = without_docstring(case.source)
    message = BASELINE_PROMPT.format(code=bare)
    started = time.perf_counter()
    try:
        prompt = chat.chat_prompt(backend, [{"role": "user", "content": message}])
    except chat.ChatTemplateError:  # a base model: the request as plain text, answer as a code block
        prompt = backend.tokenize(message + "\n\n```python\n")
    try:
        answer = backend.generate(prompt, max_tokens=max_tokens, temperature=0.0).text
    except PromptTooLongError:  # the request does not fit the model's window: the user gets nothing
        answer = ""
    match = re.search(r"```(?:python)?\n(.*?)(?:```|$)", answer, re.S)
    pasted = match.group(1) if match else answer
    return measure(case, bare, pasted, time.perf_counter() - started)


def summarize(rows: list[dict]) -> dict:
    return {
        "cases": len(rows),
        "code_unchanged": sum(row["code_unchanged"] for row in rows) / len(rows),
        "placed_right": sum(row["placed_right"] for row in rows) / len(rows),
        "rouge_l": statistics.fmean(row["rouge_l"] for row in rows),
        "median_seconds": statistics.median(row["seconds"] for row in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--label", default=None)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out", default="bench/assist/results")
    args = parser.parse_args(argv)
    label = args.label or Path(args.model).stem
    arms = [arm for arm in args.arms.split(",") if arm]
    cases = stdlib_functions(args.limit)
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    writer = writer_for(backend)
    results: dict[str, list[dict]] = {arm: [] for arm in arms}
    try:
        from tqdm import tqdm
    except ImportError:
        def tqdm(items, **_):
            return items
    try:
        for case in tqdm(cases, desc=f"docstrings {label}", file=sys.stderr):
            for arm in arms:
                row = run_seekcode(backend, writer, case) if arm == "seekcode" else run_baseline(backend, case)
                results[arm].append(row)
    finally:
        backend.close()
    summary = {arm: summarize(rows) for arm, rows in results.items() if rows}
    print(f"docstrings, {label}, {len(cases)} stdlib functions ({writer.name} writer for seekcode)")
    print(f"{'arm':10} {'unchanged':>10} {'placed':>8} {'ROUGE-L':>8} {'median s':>9}")
    for arm, figures in summary.items():
        print(f"{arm:10} {figures['code_unchanged']:>10.0%} {figures['placed_right']:>8.0%} "
              f"{figures['rouge_l']:>8.3f} {figures['median_seconds']:>9.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"docstrings-{label}.json").write_text(
        json.dumps({"model": str(args.model), "label": label, "writer": writer.name, "summary": summary, "rows": results}, indent=1),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
