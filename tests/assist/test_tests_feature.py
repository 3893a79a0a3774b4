"""Test generation without a model: framework detection, the test file and its imports,
the parse check with one retry, and keeping only tests that pass three runs in a row
(real pytest subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server.engine.symbols import has_syntax_errors
from lsp_server.features.edits import write_atomic
from lsp_server.features.tests import (
    TestsError,
    detect_framework,
    generate_tests,
    plan_tests,
    run_and_filter,
)
from tests.assist.fakes import ScriptedTestWriter as Script

PY_SOURCE = "def slugify(text):\n    return '-'.join(text.lower().split())\n"


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


def plan_for(root: Path, relative: str, needle: str, framework: str = "auto"):
    path = root / relative
    text = path.read_text(encoding="utf-8")
    return plan_tests(path, text, text.index(needle), path.suffix.lstrip("."), root, framework)


def test_python_pytest_file_and_import_resolve(tmp_path):
    root = project(tmp_path, {"pyproject.toml": "[project]\nname='x'\n", "src/textkit/slug.py": PY_SOURCE,
                              "src/textkit/__init__.py": ""})
    plan = plan_for(root, "src/textkit/slug.py", "return")
    assert plan.framework == "pytest"
    assert plan.test_path == root / "tests" / "test_slug.py"
    result = generate_tests(plan, Script("```python\ndef test_slugify():\n    assert slugify('A b') == 'a-b'\n```"))
    assert result.file_edit.creates
    text = result.file_edit.new_text()
    assert text == "import pytest\n\nfrom textkit.slug import slugify\n\n\ndef test_slugify():\n    assert slugify('A b') == 'a-b'\n"
    write_atomic([result.file_edit], root)
    # the import resolves from the test file: pytest collects and passes it from the root
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_slug.py"],
                         cwd=root, capture_output=True, text=True, env={"PYTHONPATH": f"{root}/src", "PATH": ""})
    assert run.returncode == 0, run.stdout + run.stderr


def test_python_unittest_detected_and_existing_file_appended(tmp_path):
    root = project(tmp_path, {
        "setup.py": "",
        "pkg/__init__.py": "",
        "pkg/mathx.py": "def double(x):\n    return 2 * x\n",
        "tests/test_mathx.py": "import unittest\n\n\nclass TestOld(unittest.TestCase):\n    def test_old(self):\n        self.assertTrue(True)\n",
    })
    plan = plan_for(root, "pkg/mathx.py", "return")
    assert plan.framework == "unittest"
    code = "class TestDouble(unittest.TestCase):\n    def test_double(self):\n        self.assertEqual(double(2), 4)\n"
    result = generate_tests(plan, Script(code))
    assert not result.file_edit.creates
    new = result.file_edit.new_text()
    assert new.startswith("import unittest\nfrom pkg.mathx import double\n\n\nclass TestOld")
    assert new.endswith("\n\n\n" + code)
    assert not has_syntax_errors(new, "python")


def test_parse_error_is_retried_once_with_the_error_then_given_up(tmp_path):
    root = project(tmp_path, {"m.py": PY_SOURCE, "setup.py": ""})
    plan = plan_for(root, "m.py", "return")
    writer = Script("def test_x(:\n    pass\n", "def test_x():\n    assert slugify('a') == 'a'\n")
    result = generate_tests(plan, writer)
    assert result.attempts == 2
    assert writer.errors[0] is None and "syntax error at line" in writer.errors[1]
    with pytest.raises(TestsError, match="did not parse twice"):
        generate_tests(plan, Script("def test_x(:\n", "def test_y(:\n"))
    with pytest.raises(TestsError, match="no test functions"):
        generate_tests(plan, Script("x = 1\n", "y = 2\n"))


@pytest.mark.parametrize(
    ("files", "relative", "framework", "test_name", "header_line"),
    [
        ({"package.json": json.dumps({"devDependencies": {"vitest": "^1"}}), "src/sum.ts": "export function sum(a: number, b: number) {\n  return a + b;\n}\n"},
         "src/sum.ts", "vitest", "src/sum.test.ts", "import { sum } from './sum';"),
        ({"package.json": json.dumps({"devDependencies": {"jest": "^29"}}), "lib/sum.js": "function sum(a, b) {\n  return a + b;\n}\nmodule.exports = { sum };\n"},
         "lib/sum.js", "jest", "lib/sum.test.js", "import { sum } from './sum';"),
        ({"go.mod": "module m\n", "calc/calc.go": "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n"},
         "calc/calc.go", "go", "calc/calc_test.go", "package calc"),
        ({"pom.xml": "", "src/main/java/org/x/Calc.java": "package org.x;\n\npublic class Calc {\n    int add(int a, int b) {\n        return a + b;\n    }\n}\n"},
         "src/main/java/org/x/Calc.java", "junit5", "src/test/java/org/x/CalcTest.java", "package org.x;"),
    ],
)
def test_framework_and_conventional_file(tmp_path, files, relative, framework, test_name, header_line):
    root = project(tmp_path, files)
    plan = plan_for(root, relative, "return")
    assert plan.framework == framework
    assert plan.test_path == root / test_name
    assert header_line in plan.header.splitlines()


def test_rust_tests_go_in_the_module_tests_submodule(tmp_path):
    source = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
    root = project(tmp_path, {"Cargo.toml": "", "src/lib.rs": source})
    plan = plan_for(root, "src/lib.rs", "a + b")
    assert plan.framework == "rust" and plan.test_path == root / "src/lib.rs"
    first = generate_tests(plan, Script("#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n"))
    text = first.file_edit.new_text()
    assert text == source + "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n"
    (root / "src/lib.rs").write_text(text, encoding="utf-8")
    again = plan_for(root, "src/lib.rs", "a + b")
    second = generate_tests(again, Script("#[test]\nfn adds_negative() {\n    assert_eq!(add(-1, -2), -3);\n}\n")).file_edit.new_text()
    assert second.count("mod tests") == 1 and "fn adds_negative()" in second
    assert not has_syntax_errors(second, "rust")


def test_run_keeps_only_tests_that_pass_three_times(tmp_path):
    root = project(tmp_path, {"setup.py": "", "m.py": PY_SOURCE})
    plan = plan_for(root, "m.py", "return")
    counter = tmp_path / "runs.txt"
    code = (
        "def test_good():\n    assert slugify('A  B') == 'a-b'\n\n\n"
        "def test_wrong():\n    assert slugify('A') == 'A'\n\n\n"
        "def test_flaky():\n"
        f"    import pathlib\n    p = pathlib.Path({str(counter)!r})\n"
        "    n = int(p.read_text()) if p.exists() else 0\n    p.write_text(str(n + 1))\n    assert n != 1\n"
    )
    result = generate_tests(plan, Script(code))
    kept = run_and_filter(plan, result, timeout=120, repair=False)  # test_oracles.py covers the repair
    assert kept.kept == 1 and kept.dropped == 2
    assert "def test_good" in kept.code and "test_wrong" not in kept.code and "test_flaky" not in kept.code
    assert "dropped 2" in kept.notes[0]
    assert int(counter.read_text()) == 3  # three runs of the whole file; the flaky test failed the second
    assert not (root / "tests").exists()  # the temporary test file and its folder are gone
    with pytest.raises(TestsError, match="none of the 1 generated tests passed"):
        run_and_filter(plan, generate_tests(plan, Script("def test_bad():\n    assert False\n")), timeout=120, repair=False)


def test_unsupported_language_is_a_clear_error(tmp_path):
    root = project(tmp_path, {"a.lua": "function f()\n  return 1\nend\n"})
    with pytest.raises(TestsError, match="not 'lua'"):
        plan_for(root, "a.lua", "return")
    assert detect_framework(root / "x.py", "python", root) == "pytest"


def test_dropping_every_test_of_a_testcase_drops_the_class(tmp_path):
    from lsp_server.features.tests import remove_tests

    root = project(tmp_path, {"setup.py": "", "m.py": PY_SOURCE})
    plan = plan_for(root, "m.py", "return", framework="unittest")
    code = (
        "class TestA(unittest.TestCase):\n    def test_one(self):\n        pass\n\n    def test_two(self):\n        pass\n\n\n"
        "class TestB(unittest.TestCase):\n    def test_three(self):\n        pass\n\n    def test_four(self):\n        pass\n"
    )
    kept = remove_tests(code, plan, ["test_one", "test_two", "test_three"])
    assert "TestA" not in kept and "def test_four" in kept and "test_three" not in kept
    import ast

    ast.parse(kept)


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_rust_run_keeps_only_passing_tests_and_leaves_the_source_alone(tmp_path):
    source = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
    root = project(tmp_path, {"Cargo.toml": "[package]\nname = \"adder\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
                              "src/lib.rs": source})
    plan = plan_for(root, "src/lib.rs", "a + b")
    code = ("#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n\n"
            "#[test]\nfn wrong() {\n    assert_eq!(add(1, 2), 4);\n}\n")
    kept = run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert kept.kept == 1 and kept.dropped == 1
    assert "fn adds()" in kept.file_edit.new_text() and "fn wrong()" not in kept.file_edit.new_text()
    assert not has_syntax_errors(kept.file_edit.new_text(), "rust")
    assert (root / "src/lib.rs").read_text(encoding="utf-8") == source and not (root / "target").exists()


def test_a_framework_for_another_language_is_refused(tmp_path):
    root = project(tmp_path, {"m.py": PY_SOURCE, "setup.py": ""})
    with pytest.raises(TestsError, match="jest does not test python code; use one of pytest, unittest"):
        plan_for(root, "m.py", "return", framework="jest")
    with pytest.raises(TestsError, match="not one of"):
        plan_for(root, "m.py", "return", framework="nose")
