"""Unit tests for the function or class at the cursor, in the project's framework and file.

    plan_tests(path, text, offset, language, root, framework="auto") -> TestsPlan
    generate_tests(plan, writer, abort) -> TestsResult        # parse-checked, one retry
    run_and_filter(plan, result, runs=3, timeout=60) -> TestsResult   # --run / tests.run only

The plan says which framework (pytest or unittest, Jest or Vitest from package.json, Go
`testing`, Rust `#[test]` in the module's `tests` submodule, JUnit 5), which file
(`tests/test_<module>.py`, `<name>.test.ts`, `<name>_test.go`, `src/test/java/...Test.java`,
or the Rust file itself), and the import that makes the symbol reachable from there. The
writer (features/test_writers.py) writes only test code; the header with the imports is
ours, so the imports resolve by construction. Nothing here runs code unless
`run_and_filter` is called, and then only in a subprocess in the project root.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsp_server.engine.symbols import Symbol, first_syntax_error, language_of, parse, symbol_at
from lsp_server.features.edits import EditError, FileEdit, TextEdit, inside_root

logger = logging.getLogger(__name__)

FRAMEWORKS = ("pytest", "unittest", "jest", "vitest", "go", "rust", "junit5")
FRAMEWORK_CHOICES = ("auto", *FRAMEWORKS)
_FRAMEWORKS_BY_LANGUAGE = {
    "python": ("pytest", "unittest"), "javascript": ("jest", "vitest"), "typescript": ("jest", "vitest"),
    "tsx": ("jest", "vitest"), "go": ("go",), "rust": ("rust",), "java": ("junit5",),
}
RUNS_TO_KEEP = 3


class TestsError(Exception):
    """Nothing could be generated; the message is one sentence for the user."""

    __test__ = False  # not a pytest test class


# -- framework and file -----------------------------------------------------------


def detect_framework(path: Path, language: str, root: Path) -> str:
    grammar = language_of(language) or language_of(str(path))
    if grammar == "python":
        return "unittest" if _uses_unittest(root) else "pytest"
    if grammar in ("javascript", "typescript", "tsx"):
        package = _package_json(path, root)
        dependencies = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
        scripts = " ".join(str(value) for value in package.get("scripts", {}).values())
        if "vitest" in dependencies or "vitest" in scripts:
            return "vitest"
        return "jest"
    if grammar == "go":
        return "go"
    if grammar == "rust":
        return "rust"
    if grammar == "java":
        return "junit5"
    raise TestsError(f"seekcode writes tests for Python, JavaScript/TypeScript, Go, Rust and Java, not '{language}'.")


def _uses_unittest(root: Path) -> bool:
    """unittest when the project's tests subclass TestCase and nothing configures pytest."""
    for config in ("pytest.ini", "conftest.py", "tests/conftest.py"):
        if (root / config).exists():
            return False
    for name in ("pyproject.toml", "setup.cfg", "tox.ini"):
        config = root / name
        if config.exists() and re.search(r"^\[(tool:pytest|tool\.pytest|pytest)", config.read_text("utf-8", "replace"), re.M):
            return False
    for directory in (root / "tests", root / "test", root):
        if not directory.is_dir():
            continue
        for test_file in sorted(directory.glob("test*.py"))[:20]:
            source = test_file.read_text("utf-8", "replace")
            if "unittest.TestCase" in source or re.search(r"^from unittest import .*TestCase", source, re.M):
                return True
            if "import pytest" in source:
                return False
    return False


def _package_json(path: Path, root: Path) -> dict:
    directory = path.resolve().parent
    while True:
        candidate = directory / "package.json"
        if candidate.exists():
            try:
                return json.loads(candidate.read_text("utf-8"))
            except (OSError, ValueError):
                return {}
        if directory == root.resolve() or directory.parent == directory:
            return {}
        directory = directory.parent


def python_module(path: Path, root: Path) -> str:
    """The dotted module name of `path` as imported from the project root (src layout aware)."""
    relative = path.resolve().relative_to(root.resolve())
    parts = list(relative.with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        raise TestsError(f"{relative} is not importable as a Python module (names must be identifiers).")
    return ".".join(parts)


def python_test_dir(root: Path) -> Path:
    for name in ("tests", "test"):
        if (root / name).is_dir():
            return root / name
    return root / "tests"


@dataclass
class TestsPlan:
    __test__ = False

    path: Path
    text: str
    language: str  # grammar name
    symbol: Symbol
    root: Path
    framework: str
    test_path: Path
    header: str  # imports (and the package clause) a new test file starts with
    existing: str | None  # the test file's text when it exists (appended to)
    names: tuple[str, ...]  # what the tests call: the symbol, or Class for a method

    @property
    def code_language(self) -> str:
        return self.language

    def file_edit(self, code: str) -> FileEdit:
        """Create the test file (header + code) or append the code to it."""
        code = code.strip("\n") + "\n"
        if self.framework == "rust":
            return self._rust_edit(code)
        if self.existing is None:
            gap = "\n\n\n" if self.language == "python" else "\n\n"
            return FileEdit(self.test_path, (TextEdit(0, 0, self.header + gap + code),), None)
        existing = self.existing
        missing_imports = [line for line in self.header.splitlines() if line.startswith(("from ", "import ")) and line not in existing]
        edits = []
        if missing_imports:
            at = _import_insertion_point(existing, self.language)
            edits.append(TextEdit(at, at, "\n".join(missing_imports) + "\n"))
        separator = "" if existing.endswith("\n") else "\n"
        edits.append(TextEdit(len(existing), len(existing), separator + "\n\n" + code))
        return FileEdit(self.test_path, tuple(edits), existing)

    def _rust_edit(self, code: str) -> FileEdit:
        text = self.text
        indented = "".join(("    " + line if line.strip() else line) for line in code.splitlines(keepends=True))
        module = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
        if module is not None:
            tree = parse(text, "rust")
            closing = _rust_module_end(tree.root_node, text, module.start())
            if closing is not None:
                return FileEdit(self.path, (TextEdit(closing, closing, "\n" + indented),), text)
        separator = "" if text.endswith("\n") else "\n"
        block = f"{separator}\n#[cfg(test)]\nmod tests {{\n    use super::*;\n\n{indented}}}\n"
        return FileEdit(self.path, (TextEdit(len(text), len(text), block),), text)


def _rust_module_end(root, text: str, near: int) -> int | None:
    data = text.encode("utf-8")
    for node in root.named_children:
        if node.type == "mod_item" and node.child_by_field_name("name") is not None:
            name = data[node.child_by_field_name("name").start_byte : node.child_by_field_name("name").end_byte]
            body = node.child_by_field_name("body")
            if name == b"tests" and body is not None:
                return len(data[: body.end_byte - 1].decode("utf-8"))  # before its closing brace
    return None


def _import_insertion_point(text: str, language: str) -> int:
    """After the last top-level import line (or at the start)."""
    position = 0
    for match in re.finditer(r"^(?:from \S+ import .*|import .*)$", text, re.M):
        position = match.end() + 1
    return min(position, len(text))


def plan_tests(path: Path, text: str, offset: int, language: str, root: Path, framework: str = "auto") -> TestsPlan:
    grammar = language_of(language) or language_of(str(path))
    if grammar is None:
        raise TestsError(f"seekcode writes tests for Python, JavaScript/TypeScript, Go, Rust and Java, not '{language}'.")
    symbol = symbol_at(text, offset, grammar)
    if symbol is None:
        raise TestsError("there is no function, method or class at the cursor; place it inside one.")
    if framework not in FRAMEWORK_CHOICES:
        raise TestsError(f"framework '{framework}' is not one of {', '.join(FRAMEWORK_CHOICES)}.")
    _inside(path, root)
    chosen = detect_framework(path, grammar, root) if framework == "auto" else framework
    if chosen not in _FRAMEWORKS_BY_LANGUAGE[grammar]:
        raise TestsError(f"{chosen} does not test {grammar} code; use one of {', '.join(_FRAMEWORKS_BY_LANGUAGE[grammar])}.")
    names = _public_names(text, symbol, grammar)
    test_path, header = _test_file(path, text, grammar, root, chosen, names)
    _inside(test_path, root)  # before reading it, generating, or running anything there
    existing = None
    if test_path.exists() and test_path.resolve() != path.resolve():
        existing = test_path.read_bytes().decode("utf-8")
    return TestsPlan(path, text, grammar, symbol, root, chosen, test_path, header, existing, names)


def _inside(path: Path, root: Path) -> None:
    try:
        inside_root(path, root)
    except EditError as error:
        raise TestsError(str(error)) from None


def _public_names(text: str, symbol: Symbol, grammar: str) -> tuple[str, ...]:
    """What the tests import: the symbol itself, or its enclosing class for a method."""
    if symbol.kind == "method":
        for candidate in reversed([s for s in _symbols(text, grammar) if s.kind == "class"]):
            if candidate.start <= symbol.start and symbol.end <= candidate.end:
                return (candidate.name,)
    return (symbol.name,)


def _symbols(text: str, grammar: str):
    from lsp_server.engine.symbols import symbols_in

    return symbols_in(text, grammar)


def _test_file(path: Path, text: str, grammar: str, root: Path, framework: str, names: tuple[str, ...]) -> tuple[Path, str]:
    stem = path.stem
    if grammar == "python":
        module = python_module(path, root)
        header = f"from {module} import {', '.join(names)}"
        if framework == "unittest":
            header = "import unittest\n\n" + header
        else:
            header = "import pytest\n\n" + header
        return python_test_dir(root) / f"test_{module.split('.')[-1]}.py", header
    if grammar in ("javascript", "typescript", "tsx"):
        suffix = path.suffix
        test_path = path.with_name(f"{stem}.test{suffix}")
        header = f"import {{ {', '.join(names)} }} from './{stem}';"
        if framework == "vitest":
            header = "import { describe, it, test, expect } from 'vitest';\n" + header
        return test_path, header
    if grammar == "go":
        package = re.search(r"^package\s+(\w+)", text, re.M)
        if package is None:
            raise TestsError(f"{path.name} has no package clause; add one first.")
        return path.with_name(f"{stem}_test.go"), f"package {package.group(1)}\n\nimport \"testing\""
    if grammar == "rust":
        return path, ""
    if grammar == "java":
        package = re.search(r"^package\s+([\w.]+)\s*;", text, re.M)
        parts = path.resolve().parts
        if "main" in parts and "src" in parts:
            main_index = len(parts) - 1 - parts[::-1].index("main")
            test_dir = Path(*parts[:main_index]) / "test" / Path(*parts[main_index + 1 : -1])
        else:
            test_dir = path.parent
        lines = [f"package {package.group(1)};", ""] if package else []
        lines += ["import static org.junit.jupiter.api.Assertions.*;", "", "import org.junit.jupiter.api.Test;"]
        return test_dir / f"{stem}Test.java", "\n".join(lines)
    raise TestsError(f"no test file convention for '{grammar}'.")


# -- generation -------------------------------------------------------------------------


class TestWriter:
    """Writes test code (without the header) for a plan; `error` is the parse error of the
    previous attempt when retrying."""

    name = "writer"
    __test__ = False

    def write(self, plan: TestsPlan, abort: threading.Event, error: str | None = None) -> str:
        raise NotImplementedError


@dataclass
class TestsResult:
    __test__ = False

    file_edit: FileEdit
    code: str
    attempts: int
    dropped: int = 0
    kept: int | None = None
    repaired: int = 0  # kept tests whose expected values --run took from the current code
    notes: list[str] = field(default_factory=list)


class Aborted(Exception):
    """Generation stopped because it was cancelled or preempted."""


def strip_fences(text: str) -> str:
    """The code inside a ``` block if there is one, else the text."""
    match = re.search(r"```[\w+-]*\n(.*?)(?:```|$)", text, re.S)
    return match.group(1) if match else text


def test_names(code: str, plan: TestsPlan) -> list[str]:
    pattern = {
        "python": r"^\s*(?:async\s+)?def (test\w*)\s*\(",
        "go": r"^func (Test\w+)\s*\(",
        "rust": r"#\[test\]\s*(?:#\[[^\]]*\]\s*)*fn (\w+)",
        "java": r"@Test\s+(?:public\s+)?void (\w+)\s*\(",
    }.get(plan.language, r"\b(?:it|test)\(\s*['\"`]([^'\"`]+)")
    return re.findall(pattern, code, re.M)


def check_code(plan: TestsPlan, code: str) -> str | None:
    """None when the file with `code` parses and has tests; else the problem, one line."""
    if not test_names(code, plan):
        return "the answer contains no test functions."
    full = plan.file_edit(code).new_text()
    error = first_syntax_error(full, plan.language)
    if error is None and plan.language == "python":
        # tree-sitter accepts some incomplete blocks (`if x:` at the end); Python's own parser does not.
        try:
            ast.parse(full)
        except SyntaxError as syntax_error:
            error = ((syntax_error.lineno or 1) - 1, max((syntax_error.offset or 1) - 1, 0))
    if error is None:
        return None
    line, column = error
    offending = full.splitlines()[line] if line < len(full.splitlines()) else ""
    return f"syntax error at line {line + 1}, column {column + 1}: {offending.strip()[:80]}"


def generate_tests(plan: TestsPlan, writer: TestWriter, abort: threading.Event | None = None) -> TestsResult:
    """Write tests; on a parse error write them once more with the error in the prompt."""
    abort = abort or threading.Event()
    problem = None
    for attempt in (1, 2):
        code = strip_fences(writer.write(plan, abort, problem))
        if abort.is_set():
            raise Aborted()
        code = _drop_header_duplicates(code, plan)
        problem = check_code(plan, code)
        if problem is None:
            return TestsResult(plan.file_edit(code), code, attempt)
    raise TestsError(f"the generated tests did not parse twice ({problem}); try again or use a larger model.")


def _drop_header_duplicates(code: str, plan: TestsPlan) -> str:
    header_lines = {line.strip() for line in plan.header.splitlines() if line.strip()}
    if plan.language == "go":
        code = re.sub(r"^package \w+\s*\n", "", code, flags=re.M)
        code = re.sub(r"^import \"testing\"\s*\n", "", code, flags=re.M)
    return "\n".join(line for line in code.splitlines() if line.strip() not in header_lines).strip("\n")


# -- running (only with --run / tests.run) -------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    passed: frozenset[str]
    failed: frozenset[str]
    output: str
    timed_out: bool = False


def timed_out(timeout: float) -> RunOutcome:
    return RunOutcome(frozenset(), frozenset(), f"timed out after {timeout:g} s", timed_out=True)


def run_bounded(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(stdout, stderr) of `command`, or None when it outlived `timeout`: then it and every
    process it started (its own session) are killed, so a hanging test leaves nothing behind."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(process)
        return None
    except BaseException:
        _kill_session(process)
        raise


def _kill_session(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    try:
        process.communicate(timeout=5)  # reap it; a grandchild that left the session may hold the pipes
    except subprocess.TimeoutExpired:
        pass


def run_and_filter(
    plan: TestsPlan, result: TestsResult, runs: int = RUNS_TO_KEEP, timeout: float = 60.0,
    python: str | None = None, on_run: Callable[[int, int], None] | None = None, repair: bool = True,
) -> TestsResult:
    """Run the new tests `runs` times in a subprocess and keep those that passed every time;
    a run that outlives `timeout` seconds is killed and nothing is kept.

    Python tests that fail only on a wrong expected value are repaired first (features/oracles.py):
    the value the current code gives becomes the expected one, then the runs decide."""
    names = test_names(result.code, plan)
    code, repaired = result.code, []
    passing = set(names)
    done = 0
    if repair and plan.language == "python":
        if on_run is not None:
            on_run(0, runs)
        first = _run_within(plan, code, timeout, python)
        failing = [name for name in names if name not in first.passed]
        if failing:
            from lsp_server.features.oracles import repair_failing

            code, repaired = repair_failing(plan, code, failing, timeout, python or sys.executable, _python_environment(plan))
        if repaired:
            names = test_names(code, plan)
            passing = set(names)
        else:  # nothing changed: the first run counts as the first of the three
            passing = _still_passing(passing, first, 0, runs)
            done = 1
    for number in range(done, runs):
        if not passing:
            break
        if on_run is not None:
            on_run(number, runs)
        passing = _still_passing(passing, _run_within(plan, code, timeout, python), number, runs)
    dropped = [name for name in names if name not in passing]
    if not passing:
        raise TestsError(f"none of the {len(names)} generated tests passed {runs} runs in a row"
                         f"{_repaired_clause(repaired)}; nothing was kept.")
    code = remove_tests(code, plan, dropped) if dropped else code
    kept_repaired = [name for name in repaired if name in passing]
    notes = [f"kept {len(passing)} of {len(names)} tests{_repaired_clause(kept_repaired)}; "
             f"dropped {len(dropped)} that did not pass {runs} runs in a row"]
    return replace(result, file_edit=plan.file_edit(code), code=code, dropped=len(dropped), kept=len(passing),
                   repaired=len(kept_repaired), notes=notes)


def _run_within(plan: TestsPlan, code: str, timeout: float, python: str | None) -> RunOutcome:
    outcome = run_once(plan, code, timeout, python)
    if outcome.timed_out:
        raise TestsError(f"the generated tests were still running after {timeout:g} s (setting tests.timeout) "
                         "and were stopped; nothing was kept.")
    return outcome


def _still_passing(passing: set[str], outcome: RunOutcome, number: int, runs: int) -> set[str]:
    passing = passing & set(outcome.passed)
    if not passing:
        logger.info("generated tests: run %d of %d kept none; its output ends:\n%s", number + 1, runs, outcome.output[-2000:])
    return passing


def _repaired_clause(repaired: list[str]) -> str:
    if not repaired:
        return ""
    return f" ({len(repaired)} with expected values repaired from the current code)"


def run_once(plan: TestsPlan, code: str, timeout: float, python: str | None = None) -> RunOutcome:
    if plan.framework in ("pytest", "unittest"):
        return _run_python(plan, code, timeout, python or sys.executable)
    if plan.framework == "rust" and shutil.which("cargo"):
        return _run_rust(plan, code, timeout)
    if plan.framework in ("jest", "vitest"):
        from lsp_server.features.js_runs import run_js

        return run_js(plan, code, timeout)
    if plan.framework in ("go", "junit5"):
        from lsp_server.features.compiled_runs import run_go, run_junit

        return (run_go if plan.framework == "go" else run_junit)(plan, code, timeout)
    raise TestsError(f"--run supports Python, Rust (with cargo), Go, JUnit 5, Jest and Vitest tests, not {plan.framework}; "
                     "run without --run to get the tests unrun.")


def _run_rust(plan: TestsPlan, code: str, timeout: float) -> RunOutcome:
    """`cargo test` on a copy of the crate (the tests live in the source file, which stays untouched)."""
    scratch = Path(tempfile.mkdtemp(prefix="seekcode-cargo-"))
    try:
        crate = scratch / "crate"
        shutil.copytree(plan.root, crate, ignore=shutil.ignore_patterns("target", ".git", "node_modules"))
        relative = plan.path.resolve().relative_to(plan.root.resolve())
        (crate / relative).write_bytes(plan.file_edit(code).new_text().encode("utf-8"))
        command = ["cargo", "test", "--offline", "--", "--test-threads=1"]
        streams = run_bounded(command, crate, timeout)
        if streams is None:
            return timed_out(timeout)
        output = streams[0] + streams[1]
        passed = {name.rsplit("::", 1)[-1] for name, verdict in re.findall(r"^test (\S+) \.\.\. (\w+)", output, re.M) if verdict == "ok"}
        failed = {name.rsplit("::", 1)[-1] for name, verdict in re.findall(r"^test (\S+) \.\.\. (\w+)", output, re.M) if verdict != "ok"}
        return RunOutcome(frozenset(passed - failed), frozenset(failed), output[-4000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_python(plan: TestsPlan, code: str, timeout: float, python: str) -> RunOutcome:
    full = plan.file_edit(code).new_text()
    directory = plan.test_path.parent
    created_dir = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix="test_seekcode_", suffix=".py", dir=directory)
    report = Path(tempfile.mkdtemp(prefix="seekcode-run-")) / "report.xml"
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(full)
        command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", f"--junitxml={report}", temporary]
        streams = run_bounded(command, plan.root, timeout, _python_environment(plan))
        if streams is None:
            return timed_out(timeout)
        return _junit_outcome(report, streams[0][-4000:] + streams[1][-2000:])
    finally:
        Path(temporary).unlink(missing_ok=True)
        shutil.rmtree(report.parent, ignore_errors=True)
        if created_dir:
            shutil.rmtree(directory, ignore_errors=True)


def _python_environment(plan: TestsPlan) -> dict[str, str]:
    """The project root (and src/) first on the path, so the tests import the current code."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(
        [str(plan.root), str(plan.root / "src")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}


def _junit_outcome(report: Path, output: str) -> RunOutcome:
    passed, failed = set(), set()
    if report.exists():
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            name = case.get("name", "").split("[", 1)[0]
            if any(child.tag in ("failure", "error", "skipped") for child in case):
                failed.add(name)
            else:
                passed.add(name)
    passed -= failed  # a parametrized test counts only if every case passed
    return RunOutcome(frozenset(passed), frozenset(failed), output)


def remove_tests(code: str, plan: TestsPlan, names: list[str]) -> str:
    """`code` without the named test functions (Python: top-level or in a TestCase; Rust:
    `#[test]` functions with their attributes; Jest/Vitest: `it`/`test` calls by title; Go and
    Java: the test functions and methods)."""
    if plan.language == "rust":
        return _remove_rust_tests(code, names)
    if plan.framework in ("jest", "vitest"):
        from lsp_server.features.js_runs import remove_js_tests

        return remove_js_tests(code, names, plan.language)
    if plan.language in ("go", "java"):
        from lsp_server.features.compiled_runs import remove_declared_tests

        return remove_declared_tests(code, plan.language, names)
    if plan.language != "python":
        return code
    tree = parse(code, "python")
    data = code.encode("utf-8")
    cuts: list[tuple[int, int]] = []
    stack = [tree.root_node]
    def dropped(node) -> bool:
        target = node.child_by_field_name("definition") if node.type == "decorated_definition" else node
        if target is None or target.type != "function_definition":
            return False
        name = target.child_by_field_name("name")
        return name is not None and data[name.start_byte : name.end_byte].decode() in names

    while stack:
        node = stack.pop()
        if dropped(node):
            cuts.append((node.start_byte, node.end_byte))
            continue
        target = node.child_by_field_name("definition") if node.type == "decorated_definition" else node
        if target is not None and target.type == "class_definition":
            body = target.child_by_field_name("body")
            members = [child for child in (body.named_children if body else []) if child.type != "comment"]
            if members and all(dropped(member) for member in members):
                cuts.append((node.start_byte, node.end_byte))  # a TestCase left empty goes too
                continue
        if node.type in ("module", "class_definition", "block", "decorated_definition"):
            stack.extend(node.named_children)
    data = cut_lines(data, cuts)
    cleaned = re.sub(r"\n{3,}", "\n\n\n", data.decode("utf-8"))
    return cleaned


def cut_lines(data: bytes, cuts: list[tuple[int, int]]) -> bytes:
    """`data` without the whole lines that the byte ranges `cuts` touch (ranges do not overlap)."""
    for start, end in sorted(cuts, reverse=True):
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", end)
        data = data[:line_start] + data[(len(data) if line_end == -1 else line_end + 1) :]
    return data


def _remove_rust_tests(code: str, names: list[str]) -> str:
    tree = parse(code, "rust")
    data = code.encode("utf-8")
    cuts = []
    for node in tree.root_node.named_children:
        if node.type != "function_item":
            continue
        name = node.child_by_field_name("name")
        if name is None or data[name.start_byte : name.end_byte].decode() not in names:
            continue
        first = node
        while first.prev_named_sibling is not None and first.prev_named_sibling.type == "attribute_item":
            first = first.prev_named_sibling
        cuts.append((first.start_byte, node.end_byte))
    data = cut_lines(data, cuts)
    return re.sub(r"\n{3,}", "\n\n", data.decode("utf-8"))
