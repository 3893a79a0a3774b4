"""--run for Go (`go test -json`) and JUnit 5 (javac + the console launcher): real toolchains on
tiny real projects, each run in a scratch copy. Skipped only when a toolchain is missing and
SEEKCODE_REQUIRE_EDITORS is unset (`make test` sets it and installs them:
scripts/install-test-toolchains.sh)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lsp_server.engine.symbols import has_syntax_errors
from lsp_server.features.compiled_runs import junit_launcher
from lsp_server.features.tests import TestsError, generate_tests, plan_tests, run_and_filter, run_once
from tests.assist.fakes import ScriptedTestWriter as Script


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def plan_for(root: Path, relative: str, needle: str):
    text = (root / relative).read_text(encoding="utf-8")
    return plan_tests(root / relative, text, text.index(needle), Path(relative).suffix.lstrip("."), root)


def _toolchain(missing: str | None) -> None:
    if missing is None:
        return
    if os.environ.get("SEEKCODE_REQUIRE_EDITORS"):
        pytest.fail(f"{missing} (SEEKCODE_REQUIRE_EDITORS is set; scripts/install-test-toolchains.sh installs it)")
    pytest.skip(f"{missing}; scripts/install-test-toolchains.sh installs it")


@pytest.fixture
def go_toolchain():
    _toolchain(None if shutil.which("go") else "the go toolchain is not on PATH")


@pytest.fixture
def java_toolchain():
    absent = [tool for tool in ("javac", "java") if shutil.which(tool) is None]
    if junit_launcher() is None:
        absent.append("the JUnit 5 console launcher")
    _toolchain(f"{', '.join(absent)} not installed" if absent else None)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


GO_SOURCE = "package mathx\n\n// Add returns a + b.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n"


def _go_flaky(counter: Path) -> str:
    return (
        "func TestAddGood(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"want 5\")\n\t}\n}\n\n"
        "func TestAddWrong(t *testing.T) {\n\tif Add(2, 2) != 5 {\n\t\tt.Fatal(\"want 5\")\n\t}\n}\n\n"
        "func TestAddFlaky(t *testing.T) {\n"
        f"\tpath := \"{counter}\"\n"
        "\tdata, _ := os.ReadFile(path)\n\tn := len(data)\n\tos.WriteFile(path, append(data, 'x'), 0o644)\n"
        "\tif n == 1 {\n\t\tt.Fatal(\"second run fails\")\n\t}\n}\n"
    )


def test_go_run_keeps_only_the_test_passing_three_runs(tmp_path, go_toolchain):
    root = project(tmp_path / "proj", {"go.mod": "module example.com/mathx\n\ngo 1.16\n", "mathx/add.go": GO_SOURCE})
    before = _snapshot(root)
    plan = plan_for(root, "mathx/add.go", "return a + b")
    counter = tmp_path / "counter"
    code = "import \"os\"\n\n" + _go_flaky(counter)
    kept = run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert kept.kept == 1 and kept.dropped == 2
    text = kept.file_edit.new_text()
    assert "func TestAddGood" in text and "TestAddWrong" not in text and "TestAddFlaky" not in text
    assert not has_syntax_errors(text, "go") and '"os"' not in text  # its only user was dropped
    assert run_once(plan, kept.code, 300).passed == {"TestAddGood"}  # the kept file builds and passes
    assert len(counter.read_bytes()) == 3  # three runs of all the new tests; the flaky one failed the second
    assert _snapshot(root) == before  # nothing written in the user's tree


def test_go_package_without_go_mod_runs_in_a_made_up_module(tmp_path, go_toolchain):
    root = project(tmp_path, {"add.go": GO_SOURCE})
    plan = plan_for(root, "add.go", "return a + b")
    code = ("func TestAdd(t *testing.T) {\n\tif Add(1, 1) != 2 {\n\t\tt.Fatal(\"want 2\")\n\t}\n}\n\n"
            "func TestAddOff(t *testing.T) {\n\tif Add(1, 1) != 3 {\n\t\tt.Fatal(\"want 3\")\n\t}\n}\n")
    kept = run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert kept.kept == 1 and "func TestAdd(" in kept.code and "TestAddOff" not in kept.code
    assert not (root / "go.mod").exists() and not (root / "add_test.go").exists()


def test_a_hanging_go_test_is_killed_and_nothing_kept(tmp_path, go_toolchain):
    root = project(tmp_path, {"go.mod": "module example.com/hang\n\ngo 1.16\n", "add.go": GO_SOURCE})
    plan = plan_for(root, "add.go", "return a + b")
    pid_file = tmp_path / "pid"
    code = ("import (\n\t\"os\"\n\t\"strconv\"\n\t\"time\"\n)\n\n"
            "func TestHangs(t *testing.T) {\n"
            f"\tos.WriteFile(\"{pid_file}\", []byte(strconv.Itoa(os.Getpid())), 0o644)\n"
            "\ttime.Sleep(time.Hour)\n}\n")
    # Long enough for a first build of `testing` with an empty cache on a slow machine, short
    # enough to show the kill; the test process must be gone afterwards.
    with pytest.raises(TestsError, match="still running after 45 s"):
        run_and_filter(plan, generate_tests(plan, Script(code)), timeout=45)
    assert pid_file.exists(), "the test never started; the timeout cannot be judged"
    assert not _alive(int(pid_file.read_text()))


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a reaper (its parent, `go test`, was killed too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


JAVA_SOURCE = ("package com.example;\n\npublic class Calc {\n    public static int add(int a, int b) {\n"
               "        return a + b;\n    }\n}\n")


def _java_tests(counter: Path) -> str:
    return (
        "class CalcTest {\n"
        "    @Test\n    void addsGood() {\n        assertEquals(5, Calc.add(2, 3));\n    }\n\n"
        "    @Test\n    void addsWrong() {\n        assertEquals(5, Calc.add(2, 2));\n    }\n\n"
        "    @Test\n    void addsFlaky() throws Exception {\n"
        f"        java.nio.file.Path path = java.nio.file.Paths.get(\"{counter}\");\n"
        "        int n = java.nio.file.Files.exists(path) ? java.nio.file.Files.readAllBytes(path).length : 0;\n"
        "        java.nio.file.Files.write(path, new byte[n + 1]);\n"
        "        assertNotEquals(1, n);\n    }\n}\n"
    )


def test_junit_run_keeps_only_the_test_passing_three_runs_maven_layout(tmp_path, java_toolchain):
    root = project(tmp_path / "proj", {"pom.xml": "<project/>\n", "src/main/java/com/example/Calc.java": JAVA_SOURCE,
                                       "src/main/java/com/example/Util.java": "package com.example;\n\nclass Util {}\n"})
    before = _snapshot(root)
    plan = plan_for(root, "src/main/java/com/example/Calc.java", "return a + b")
    assert plan.test_path == root / "src/test/java/com/example/CalcTest.java"
    counter = tmp_path / "counter"
    kept = run_and_filter(plan, generate_tests(plan, Script(_java_tests(counter))), timeout=300)
    assert kept.kept == 1 and kept.dropped == 2
    text = kept.file_edit.new_text()
    assert "void addsGood()" in text and "addsWrong" not in text and "addsFlaky" not in text
    assert not has_syntax_errors(text, "java")
    assert len(counter.read_bytes()) == 3
    assert _snapshot(root) == before


def test_junit_flat_layout_appends_to_an_existing_test_class_file(tmp_path, java_toolchain):
    existing = ("import static org.junit.jupiter.api.Assertions.*;\n\nimport org.junit.jupiter.api.Test;\n\n"
                "class OldTest {\n    @Test\n    void old() {\n        assertTrue(true);\n    }\n}\n")
    source = JAVA_SOURCE.replace("package com.example;\n\n", "")
    root = project(tmp_path, {"Calc.java": source, "CalcTest.java": existing})
    plan = plan_for(root, "Calc.java", "return a + b")
    code = ("class CalcTest {\n    @Test\n    void adds() {\n        assertEquals(3, Calc.add(1, 2));\n    }\n\n"
            "    @Test\n    void addsOff() {\n        assertEquals(4, Calc.add(1, 2));\n    }\n}\n")
    kept = run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert kept.kept == 1 and "void adds()" in kept.code and "addsOff" not in kept.code
    assert (root / "CalcTest.java").read_text(encoding="utf-8") == existing


def test_generated_java_that_does_not_compile_is_a_clear_error(tmp_path, java_toolchain):
    root = project(tmp_path, {"src/main/java/com/example/Calc.java": JAVA_SOURCE})
    plan = plan_for(root, "src/main/java/com/example/Calc.java", "return a + b")
    code = "class CalcTest {\n    @Test\n    void adds() {\n        assertEquals(3, Calc.subtract(1, 2));\n    }\n}\n"
    with pytest.raises(TestsError, match=r"do not compile \(CalcTest\.java:\d+: error: cannot find symbol"):
        run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert not (root / "src/test").exists()


def test_generated_go_that_does_not_build_is_a_clear_error(tmp_path, go_toolchain):
    root = project(tmp_path, {"add.go": GO_SOURCE})
    plan = plan_for(root, "add.go", "return a + b")
    code = "func TestSub(t *testing.T) {\n\tif Sub(2, 1) != 1 {\n\t\tt.Fatal(\"want 1\")\n\t}\n}\n"
    with pytest.raises(TestsError, match=r"do not build \(add_test\.go:\d+:\d+: undefined: Sub\)"):
        run_and_filter(plan, generate_tests(plan, Script(code)), timeout=300)
    assert sorted(path.name for path in root.iterdir()) == ["add.go"]
