"""Regression oracles: repair generated Python tests whose only fault is a wrong expected value.

Only under --run / tests.run. A small model often calls the function right and guesses the
result wrong (`assert mean([1, 2]) == 1`). Like Pynguin/EvoSuite regression assertions, the
value the current code gives is taken as the expected one: the failing tests are run once
in a subprocess, instrumented to record what each assertion's checked expression evaluates
to, and an expected value is rewritten only where that value's repr is a literal that
round-trips. The three-run filter afterwards keeps only tests that then pass.

    find_sites(code) -> list[Site]                          # pure: the assertions we can repair
    probe_source(code, sites) -> str                        # pure: the same tests, recording instead of asserting
    plan_repairs(sites, records, failing, module_text) -> list[Repair]   # pure
    rewrite(code, repairs) -> str                           # pure: exact spans, the rest untouched
    repair_failing(plan, code, failing, timeout, python) -> (code, repaired test names)   # runs a subprocess

Kinds of site: `assert A == B` (either side may be the expected one; `pytest.approx(B)` keeps
its approx), `assert A is None/True/False`, `self.assertEqual/assertAlmostEqual/...(A, B)`,
`with pytest.raises(E):` / `with self.assertRaises(E):` (E becomes the type actually raised).
An equality whose checked expression raises becomes `with pytest.raises(E): A` only when
the test's name says it expects an error; otherwise the test stays failing and is dropped.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

EQUAL_METHODS = ("assertEqual", "assertEquals", "assertAlmostEqual", "assertAlmostEquals", "assertListEqual",
                 "assertTupleEqual", "assertDictEqual", "assertSetEqual", "assertSequenceEqual")
RAISES_CONTEXTS = ("raises", "assertRaises")
EXPECTS_ERROR = re.compile(r"rais|error|except|invalid|fail|bad|wrong|illegal|reject", re.I)
# Raised by a mistake in the test itself, never the behaviour a test means to pin.
TEST_MISTAKES = ("TypeError (wrong call)", "NameError", "UnboundLocalError", "ImportError", "ModuleNotFoundError", "SyntaxError",
                 "AssertionError", "RecursionError", "SystemExit", "KeyboardInterrupt")
MAX_LITERAL = 300  # a longer repr would make an unreadable test
PROBE = "__seekcode_probe__"


@dataclass(frozen=True)
class Site:
    id: int
    test: str  # the enclosing test function
    kind: str  # "equal" | "is" | "raises"
    statement: tuple[int, int]  # char span of the whole statement (assert / with header line excluded)
    expected: tuple[int, int]  # char span of the text to replace (the expected value, or E)
    actual: str  # source of the checked expression ("" for raises)
    indent: str  # the statement's indentation
    in_method: bool  # inside a class (use self.assertRaises when converting)
    bare_assert: bool  # an `assert` statement (convertible to a raises block)


@dataclass(frozen=True)
class Repair:
    test: str
    span: tuple[int, int]
    text: str


# -- finding sites (pure) -------------------------------------------------------------------


def _offsets(code: str) -> list[int]:
    """Char offset of each line start (1-based line numbers index it with lineno - 1)."""
    starts, total = [], 0
    for line in code.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    starts.append(total)
    return starts


def _char(code_lines: list[str], starts: list[int], lineno: int, col: int) -> int:
    """ast positions are UTF-8 byte columns; edits need str offsets."""
    line = code_lines[lineno - 1]
    return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _approx_argument(node: ast.AST) -> ast.AST | None:
    if isinstance(node, ast.Call) and node.args:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name == "approx":
            return node.args[0]
    return None


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Call) and _approx_argument(child) is None for child in ast.walk(node))


def _sides(first: ast.AST, second: ast.AST) -> tuple[ast.AST, ast.AST] | None:
    """(checked expression, expected value) or None when it is not clear which is which."""
    def expectedish(node):
        return _is_literal(node) or _approx_argument(node) is not None

    if expectedish(second) and not expectedish(first):
        return first, second
    if expectedish(first) and not expectedish(second):
        return second, first
    if _has_call(first) and not _has_call(second):
        return first, second
    if _has_call(second) and not _has_call(first):
        return second, first
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self, code: str) -> None:
        self.code = code
        self.lines = code.splitlines(keepends=True)
        self.starts = _offsets(code)
        self.sites: list[Site] = []
        self.test: str | None = None
        self.in_class = False

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (_char(self.lines, self.starts, node.lineno, node.col_offset),
                _char(self.lines, self.starts, node.end_lineno, node.end_col_offset))

    def add(self, kind: str, statement: ast.stmt, expected: ast.AST, actual: ast.AST | None, bare: bool) -> None:
        approx = _approx_argument(expected)
        target = approx if approx is not None else expected
        line = self.lines[statement.lineno - 1]
        self.sites.append(Site(
            len(self.sites), self.test or "", kind, self.span(statement), self.span(target),
            ast.get_source_segment(self.code, actual) or "" if actual is not None else "",
            line[: len(line) - len(line.lstrip())], self.in_class, bare,
        ))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer, self.in_class = self.in_class, True
        self.generic_visit(node)
        self.in_class = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if self.test is None and node.name.startswith("test"):
            self.test = node.name
            self.generic_visit(node)
            self.test = None
        # helpers and nested functions are not instrumented

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        """Async tests are left alone (running them needs their event loop)."""

    def visit_Assert(self, node: ast.Assert) -> None:
        test = node.test
        if self.test is None or not isinstance(test, ast.Compare) or len(test.ops) != 1:
            return
        operator, right = test.ops[0], test.comparators[0]
        if isinstance(operator, ast.Eq):
            sides = _sides(test.left, right)
            if sides is not None:
                self.add("equal", node, sides[1], sides[0], True)
        elif isinstance(operator, ast.Is) and isinstance(right, ast.Constant) and any(right.value is v for v in (None, True, False)):
            self.add("is", node, right, test.left, True)

    def visit_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if (self.test is not None and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in EQUAL_METHODS and len(call.args) >= 2 and not any(isinstance(a, ast.Starred) for a in call.args)):
            sides = _sides(call.args[0], call.args[1])
            if sides is not None:
                self.add("equal", node, sides[1], sides[0], False)

    def visit_With(self, node: ast.With) -> None:
        if self.test is not None and len(node.items) == 1:
            context = node.items[0].context_expr
            if (isinstance(context, ast.Call) and isinstance(context.func, ast.Attribute)
                    and context.func.attr in RAISES_CONTEXTS and len(context.args) == 1):
                self.add("raises", node, context.args[0], None, False)
        self.generic_visit(node)


def find_sites(code: str) -> list[Site]:
    """The assertions in `code`'s test functions that a recorded value can repair."""
    finder = _Finder(code)
    finder.visit(ast.parse(code))
    return finder.sites


# -- the probe (pure text; run by repair_failing) ----------------------------------------------


class _Instrument(ast.NodeTransformer):
    """Each site becomes a call recording its value; tests run on past a wrong assertion."""

    def __init__(self, code: str, sites: list[Site]) -> None:
        starts, lines = _offsets(code), code.splitlines(keepends=True)
        self.by_start = {}
        for site in sites:
            self.by_start[site.statement[0]] = site
        self.position = lambda node: _char(lines, starts, node.lineno, node.col_offset)

    def _site(self, node: ast.stmt) -> Site | None:
        return self.by_start.get(self.position(node))

    @staticmethod
    def _thunk(expression: ast.AST) -> ast.Lambda:
        empty = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        return ast.Lambda(args=empty, body=expression)

    def _record(self, site: Site, *arguments: ast.AST, method: str) -> ast.stmt:
        call = ast.Call(ast.Attribute(ast.Name(PROBE, ast.Load()), method, ast.Load()),
                        [ast.Constant(site.id), *arguments], [])
        return ast.Expr(call)

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        site = self._site(node)
        if site is None:
            return node
        test = node.test
        left, right = test.left, test.comparators[0]
        how = "is" if site.kind == "is" else "=="
        actual, expected = self._order(site, left, right)
        return self._record(site, self._thunk(actual), self._thunk(expected), ast.Constant(how), method="value")

    def _order(self, site: Site, first: ast.AST, second: ast.AST) -> tuple[ast.AST, ast.AST]:
        sides = _sides(first, second) if site.kind == "equal" else (first, second)
        return sides if sides is not None else (first, second)

    def visit_Expr(self, node: ast.Expr) -> ast.stmt:
        site = self._site(node)
        if site is None:
            return node
        call = node.value
        actual, expected = self._order(site, call.args[0], call.args[1])
        how = "almost" if "Almost" in call.func.attr else "=="
        return self._record(site, self._thunk(actual), self._thunk(expected), ast.Constant(how), method="value")

    def visit_With(self, node: ast.With) -> ast.stmt:
        site = self._site(node)
        self.generic_visit(node)
        if site is None:
            return node
        caught = ast.ExceptHandler(ast.Name("BaseException", ast.Load()), "__seekcode_error__", [
            self._record(site, ast.Name("__seekcode_error__", ast.Load()),
                         self._thunk(node.items[0].context_expr.args[0]), method="raised")])
        otherwise = [self._record(site, ast.Constant(None), self._thunk(ast.Constant(None)), method="raised")]
        return ast.Try(body=node.body, handlers=[caught], orelse=otherwise, finalbody=[])


_RUNNER = r'''
import ast, builtins, json, sys, types

RECORDS = open(sys.argv[1], "a", encoding="utf-8")
SIGNATURE_MISTAKE = __import__("re").compile(
    r"unexpected keyword argument|positional argument|required (keyword|positional)|takes (from )?\d+|missing \d+ required")


def _emit(entry):
    RECORDS.write(json.dumps(entry) + "\n")
    RECORDS.flush()


def _exception_name(error, namespace):
    if isinstance(error, TypeError) and SIGNATURE_MISTAKE.search(str(error)):
        return "TypeError (wrong call)"  # the test called it wrongly: never an expected error
    for cls in type(error).__mro__:
        if getattr(builtins, cls.__name__, None) is cls or namespace.get(cls.__name__) is cls:
            return cls.__name__
    return None


class Probe:
    def value(self, site, actual, expected, how):
        try:
            value = actual()
        except BaseException as error:
            _emit({"site": site, "raised": _exception_name(error, MODULE.__dict__)})
            return
        entry = {"site": site, "repr": None, "ok": False}
        try:
            if how == "is":
                entry["ok"] = value is expected()
            elif how == "almost":
                entry["ok"] = round(abs(value - expected()), 7) == 0
            else:
                entry["ok"] = bool(value == expected())
        except BaseException:
            pass
        try:
            text = repr(value)
            back = ast.literal_eval(text)
            if len(text) <= %(max_literal)d and type(back) is type(value) and back == value and repr(back) == text:
                entry["repr"] = text
        except BaseException:
            pass
        _emit(entry)

    def raised(self, site, error, wanted):
        if error is None:
            _emit({"site": site, "raised": None})
            return
        try:
            matched = isinstance(error, wanted())
        except BaseException:
            matched = False
        _emit({"site": site, "raised": _exception_name(error, MODULE.__dict__), "ok": matched})


MODULE = types.ModuleType("test_seekcode_probe")
MODULE.__dict__[%(probe)r] = Probe()
sys.modules[MODULE.__name__] = MODULE
exec(compile(%(source)r, "test_seekcode_probe.py", "exec"), MODULE.__dict__)
for name in %(tests)r:
    targets = []
    if callable(MODULE.__dict__.get(name)) and not isinstance(MODULE.__dict__[name], type):
        targets.append(MODULE.__dict__[name])
    for owner in list(MODULE.__dict__.values()):
        if isinstance(owner, type) and name in vars(owner) and owner.__module__ == MODULE.__name__:
            try:
                import unittest
                instance = owner(name) if issubclass(owner, unittest.TestCase) else owner()
                if hasattr(instance, "setUp"):
                    instance.setUp()
                targets.append(getattr(instance, name))
            except BaseException:
                pass
    for target in targets:
        try:
            target()
        except BaseException:
            pass
'''


def probe_source(code: str, sites: list[Site]) -> str:
    """`code` with every site recording its value through `__seekcode_probe__` instead of asserting."""
    tree = _Instrument(code, sites).visit(ast.parse(code))
    return ast.unparse(ast.fix_missing_locations(tree))


def runner_script(module_text: str, tests: list[str]) -> str:
    return _RUNNER % {"max_literal": MAX_LITERAL, "probe": PROBE, "source": module_text, "tests": list(tests)}


# -- deciding and rewriting (pure) -------------------------------------------------------------


def plan_repairs(sites: list[Site], records: dict[int, list[dict]], failing: set[str],
                 module_text: str) -> list[Repair]:
    """The edits that make failing tests assert what the current code does (`module_text`: the
    whole test file, to see what it imports)."""
    repairs = []
    for site in sites:
        seen = records.get(site.id, [])
        if site.test not in failing or len(seen) != 1:  # unreached, or in a loop: no single expected value
            continue
        record = seen[0]
        if site.kind == "raises":
            if record.get("raised") and record["raised"] not in TEST_MISTAKES and not record.get("ok"):
                repairs.append(Repair(site.test, site.expected, record["raised"]))
            continue
        if "raised" in record:
            raised = record["raised"]
            if raised and raised not in TEST_MISTAKES and site.bare_assert and EXPECTS_ERROR.search(site.test) \
                    and "\n" not in site.actual:
                context = "self.assertRaises" if site.in_method and "TestCase" in module_text else "pytest.raises"
                if context == "pytest.raises" and not re.search(r"^import pytest\b", module_text, re.M):
                    continue
                text = f"with {context}({raised}):\n{site.indent}    {site.actual}"
                repairs.append(Repair(site.test, site.statement, text))
            continue
        if record.get("ok") or record.get("repr") is None:
            continue
        if site.kind == "is" and record["repr"] not in ("None", "True", "False"):
            continue
        repairs.append(Repair(site.test, site.expected, record["repr"]))
    return repairs


def rewrite(code: str, repairs: list[Repair]) -> str:
    """`code` with each repair's span replaced; spans must not overlap. Unchanged if the result
    would not parse."""
    result = code
    for repair in sorted(repairs, key=lambda item: item.span[0], reverse=True):
        start, end = repair.span
        result = result[:start] + repair.text + result[end:]
    try:
        ast.parse(result)
    except SyntaxError:
        return code
    return result


# -- running the probe (only with --run / tests.run) ----------------------------------------------


def repair_failing(plan, code: str, failing: list[str], timeout: float, python: str,
                   environment: dict[str, str]) -> tuple[str, list[str]]:
    """`code` with the failing tests' expected values taken from the current code, and the
    names of the tests changed. One subprocess run in the project root."""
    try:
        sites = [site for site in find_sites(code) if site.test in failing]
    except SyntaxError:
        return code, []
    if not sites:
        return code, []
    module_text = plan.file_edit(probe_source(code, sites)).new_text()
    scratch = Path(tempfile.mkdtemp(prefix="seekcode-probe-"))
    try:
        script, records_path = scratch / "probe.py", scratch / "records.jsonl"
        script.write_text(runner_script(module_text, sorted({site.test for site in sites})), encoding="utf-8")
        from lsp_server.features.tests import run_bounded

        # A run that outlives `timeout` is killed with everything it started; what was
        # recorded before the hang still counts.
        run_bounded([python, str(script), str(records_path)], plan.root, timeout, environment)
        records: dict[int, list[dict]] = {}
        if records_path.exists():
            for line in records_path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                records.setdefault(int(entry["site"]), []).append(entry)
    finally:
        for leftover in scratch.iterdir():
            leftover.unlink()
        os.rmdir(scratch)
    repairs = plan_repairs(sites, records, set(failing), plan.file_edit(code).new_text())
    repaired = rewrite(code, repairs)
    if repaired == code:
        return code, []
    return repaired, sorted({repair.test for repair in repairs})
