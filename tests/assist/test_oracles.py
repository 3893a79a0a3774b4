"""Regression oracles under --run: a generated test whose only fault is a wrong expected
value gets the value the current code gives. The rewrite is checked as exact text; the
runs are real pytest subprocesses on a tiny project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lsp_server.features.oracles import find_sites, plan_repairs, probe_source, rewrite
from lsp_server.features.tests import TestsError, generate_tests, plan_tests, run_and_filter
from tests.assist.fakes import ScriptedTestWriter as Script

SUBJECT = (
    "import random\n"
    "from fractions import Fraction\n\n\n"
    "class NegativeError(ValueError):\n    pass\n\n\n"
    "def area(w, h):\n"
    "    if w < 0:\n        raise NegativeError('negative width')\n"
    "    return w * h\n\n\n"
    "def half(x):\n    return Fraction(x, 2)\n\n\n"
    "def noisy():\n    return random.random()\n"
)


def repaired(tmp_path: Path, code: str, framework: str = "pytest"):
    (tmp_path / "setup.py").write_text("", encoding="utf-8")
    (tmp_path / "shapes.py").write_text(SUBJECT, encoding="utf-8")
    plan = plan_tests(tmp_path / "shapes.py", SUBJECT, SUBJECT.index("return w"), "python", tmp_path, framework)
    return run_and_filter(plan, generate_tests(plan, Script(code)), timeout=120)


# -- the pure rewrite ---------------------------------------------------------------------------


def test_rewrite_replaces_only_the_expected_values(tmp_path):
    code = (
        "def test_shapes():\n"
        "    assert area(2, 3) == 5  # é before nothing\n"
        "    assert 'ü' != 'x' and True\n"
        "    assert 7 == area(\n        1, 1)\n"
        "    assert area(0.1, 3) == pytest.approx(0.4, rel=1e-3)\n"
        "    assert area(1, 1) is None\n\n\n"
        "class TestShapes(unittest.TestCase):\n"
        "    def test_equal(self):\n"
        "        self.assertEqual(area(2, 2), 'ö')\n"
        "        with self.assertRaises(TypeError):\n            area(-1, 1)\n"
    )
    sites = find_sites(code)
    assert [(site.test, site.kind) for site in sites] == [
        ("test_shapes", "equal"), ("test_shapes", "equal"), ("test_shapes", "equal"), ("test_shapes", "is"),
        ("test_equal", "equal"), ("test_equal", "raises"),
    ]
    records = {0: [{"repr": "6", "ok": False}], 1: [{"repr": "1", "ok": False}],
               2: [{"repr": "0.30000000000000004", "ok": False}], 3: [{"repr": "1", "ok": False}],
               4: [{"repr": "4", "ok": False}], 5: [{"raised": "ValueError", "ok": False}]}
    repairs = plan_repairs(sites, records, {"test_shapes", "test_equal"}, "import unittest\n" + code)
    assert rewrite(code, repairs) == (
        "def test_shapes():\n"
        "    assert area(2, 3) == 6  # é before nothing\n"
        "    assert 'ü' != 'x' and True\n"
        "    assert 1 == area(\n        1, 1)\n"
        "    assert area(0.1, 3) == pytest.approx(0.30000000000000004, rel=1e-3)\n"
        "    assert area(1, 1) is None\n\n\n"  # `is None` cannot become `is 1`: left failing
        "class TestShapes(unittest.TestCase):\n"
        "    def test_equal(self):\n"
        "        self.assertEqual(area(2, 2), 4)\n"
        "        with self.assertRaises(ValueError):\n            area(-1, 1)\n"
    )


def test_no_repair_where_the_expected_value_is_not_single_or_the_test_passed():
    code = (
        "def helper():\n    assert area(1, 1) == 2\n\n\n"
        "def test_loop():\n    for w in (1, 2):\n        assert area(w, 1) == 3\n\n\n"
        "def test_both_names(a=1, b=2):\n    assert a == b\n\n\n"
        "def test_passing():\n    assert area(1, 1) == 9\n"
    )
    sites = find_sites(code)
    assert [site.test for site in sites] == ["test_loop", "test_passing"]  # not the helper, not `a == b`
    records = {0: [{"repr": "1", "ok": False}, {"repr": "2", "ok": False}], 1: [{"repr": "1", "ok": False}]}
    assert plan_repairs(sites, records, {"test_loop"}, code) == []  # test_passing is not failing


def test_probe_records_instead_of_asserting():
    code = "def test_a():\n    assert area(2, 3) == 5\n    with pytest.raises(KeyError):\n        area(-1, 1)\n"
    probe = probe_source(code, find_sites(code))
    assert "assert" not in probe and "__seekcode_probe__.value(0, lambda: area(2, 3), lambda: 5, '==')" in probe
    assert "__seekcode_probe__.raised(1," in probe and "except BaseException as __seekcode_error__" in probe


# -- real runs --------------------------------------------------------------------------------------


def test_run_repairs_wrong_values_and_drops_what_it_cannot_repair(tmp_path):
    result = repaired(tmp_path, (
        "from shapes import half, noisy\n\n\n"
        "def test_area():\n    assert area(2, 3) == 5\n    r = area(0.1, 3)\n    assert r == pytest.approx(0.4)\n\n\n"
        "def test_right():\n    assert area(2, 2) == 4\n\n\n"
        "def test_half():\n    assert half(3) == 1\n\n\n"  # a Fraction has no literal repr
        "def test_negative():\n    assert area(-1, 2) == 0\n\n\n"  # raises, and the name does not expect it
        "def test_noisy():\n    assert noisy() == 0.5\n"  # repaired, then fails the next runs
    ))
    assert result.code.strip("\n") + "\n" == (
        "from shapes import half, noisy\n\n\n"
        "def test_area():\n    assert area(2, 3) == 6\n    r = area(0.1, 3)\n    assert r == pytest.approx(0.30000000000000004)\n\n\n"
        "def test_right():\n    assert area(2, 2) == 4\n"
    )
    assert (result.kept, result.repaired, result.dropped) == (2, 1, 3)
    assert result.notes == ["kept 2 of 5 tests (1 with expected values repaired from the current code); "
                            "dropped 3 that did not pass 3 runs in a row"]
    assert not (tmp_path / "tests").exists()


def test_run_turns_an_expected_error_into_raises_with_the_builtin_base(tmp_path):
    result = repaired(tmp_path, (
        "def test_negative_width_raises():\n    assert area(-1, 2) == 0\n\n\n"
        "def test_wrong_exception():\n    with pytest.raises(TypeError):\n        area(-5, 1)\n\n\n"
        "def test_no_exception():\n    with pytest.raises(TypeError):\n        area(5, 1)\n\n\n"
        "def test_bad_call():\n    with pytest.raises(ValueError):\n        area(-5, 1, depth=2)\n"  # a wrong call
    ))
    # NegativeError is not imported by the test file: its builtin base names it
    assert result.code.strip("\n") + "\n" == (
        "def test_negative_width_raises():\n    with pytest.raises(ValueError):\n        area(-1, 2)\n\n\n"
        "def test_wrong_exception():\n    with pytest.raises(ValueError):\n        area(-5, 1)\n"
    )
    assert (result.kept, result.repaired, result.dropped) == (2, 2, 2)


def test_run_repairs_unittest_methods(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_old.py").write_text("import unittest\n\n\nclass TestOld(unittest.TestCase):\n    pass\n")
    result = repaired(tmp_path, (
        "class TestArea(unittest.TestCase):\n"
        "    def setUp(self):\n        self.w = 3\n\n"
        "    def test_area(self):\n        self.assertEqual(area(self.w, 2), 5)\n\n"
        "    def test_invalid(self):\n        assert area(-self.w, 2) == 1\n"
    ), framework="unittest")
    assert result.code.strip("\n") + "\n" == (
        "class TestArea(unittest.TestCase):\n"
        "    def setUp(self):\n        self.w = 3\n\n"
        "    def test_area(self):\n        self.assertEqual(area(self.w, 2), 6)\n\n"
        "    def test_invalid(self):\n        with self.assertRaises(ValueError):\n            area(-self.w, 2)\n"
    )
    assert result.repaired == 2 and result.dropped == 0


def test_nothing_repairable_is_still_a_clear_error(tmp_path):
    # a NameError is the test's own mistake, never turned into pytest.raises, even in a test named "bad"
    with pytest.raises(TestsError, match="none of the 2 generated tests passed 3 runs in a row; nothing was kept"):
        repaired(tmp_path, "def test_bad():\n    assert half(1) == 0.25\n\n\n"
                           "def test_fraction():\n    from shapes import half\n    assert half(1) == 0.25\n")


# -- tests a base model can write: one call with literal arguments per test ---------------------


def test_parameter_kinds_come_from_annotations_defaults_uses_and_names():
    import ast as python_ast

    from lsp_server.features.test_writers import parameter_kinds

    function = python_ast.parse(
        "def f(data, text, width=70, flag=None, *rest, scale: float, key=lambda v: v):\n"
        "    for item in data:\n        pass\n    return text.strip()\n"
    ).body[0]
    assert parameter_kinds(function) == (["list", "string", "number", "arg", "arg", "arg"], 2)
    method = python_ast.parse("def m(self, n, s):\n    return s.split()[n - 1]\n").body[0]
    assert parameter_kinds(method) == (["number", "string"], 2)


def test_call_grammar_is_accepted_by_llama_cpp_and_written_tests_parse(tmp_path, bundled_gguf):
    from lsp_server.backend.local import BackendOptions, LocalBackend
    from lsp_server.features.test_writers import call_grammar, test_writer_for

    source = "def clamp(value, low=0, high=10):\n    if value < low:\n        return low\n    return min(value, high)\n"
    (tmp_path / "setup.py").write_text("", encoding="utf-8")
    (tmp_path / "ranges.py").write_text(source, encoding="utf-8")
    plan = plan_tests(tmp_path / "ranges.py", source, source.index("if value"), "python", tmp_path)
    grammar = call_grammar(plan, unittest=False)
    assert grammar.startswith('root ::= number (", " number (", " number)?)? ") == " value "\\n"\n')
    backend = LocalBackend(bundled_gguf, BackendOptions(context_size=1024, threads=2))
    try:
        written = generate_tests(plan, test_writer_for(backend))
        kept = run_and_filter(plan, written, timeout=120)
    finally:
        backend.close()
    lines = [line for line in written.code.splitlines() if line.strip()]
    assert lines[0] == "def test_clamp():" and len(lines) % 2 == 0
    for header, body in zip(lines[::2], lines[1::2]):
        assert re.fullmatch(r"def test_clamp(_\d)?\(\):", header)
        assert re.fullmatch(r"    assert clamp\(-?[\d.]+(, -?[\d.]+){0,2}\) == .+", body), body
    # numbers in, numbers out: every call returns a literal, so every test is kept, pinned to the code
    assert kept.kept == len(lines) // 2 and kept.dropped == 0
    for call, value in re.findall(r"assert (clamp\(.*\)) == (.+)", kept.code):
        namespace: dict = {}
        exec(source, namespace)
        assert eval(call, namespace) == python_ast_literal(value)


def python_ast_literal(text: str):
    import ast as python_ast

    return python_ast.literal_eval(text)


def test_a_call_line_python_cannot_parse_is_never_kept():
    from lsp_server.features.test_writers import _complete_call

    assert _complete_call("add", "1, 2) == 3", unittest=False)
    assert _complete_call("add", "1, 2), 3)", unittest=True)
    # what the bundled model once wrote under the grammar: a leading zero is no Python integer
    assert not _complete_call("add", "[03, 1], 3) == 2", unittest=False)
    assert not _complete_call("add", "03, 2), 3)", unittest=True)
