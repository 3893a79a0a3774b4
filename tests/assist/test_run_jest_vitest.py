"""--run for Jest and Vitest: real runners (scripts/install-js-test-runners.sh) on tiny real
projects whose node_modules links to the cached install; Node from scripts/install-vscode-e2e.sh."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lsp_server.engine.symbols import has_syntax_errors
from lsp_server.features.tests import TestsError, generate_tests, plan_tests, remove_tests, run_and_filter
from lsp_server.features.tests import test_names as names_in
from tests.assist.fakes import ScriptedTestWriter as Script

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seekcode"
NODE_BIN = Path(os.environ.get("SEEKCODE_E2E_HOME", CACHE / "vscode-e2e")) / "bin"
RUNNERS = Path(os.environ.get("SEEKCODE_JS_RUNNERS", CACHE / "js-runners")) / "node_modules"


@pytest.fixture
def node(monkeypatch):
    """Node on PATH and the cached runners, or a skip (a failure under SEEKCODE_REQUIRE_EDITORS)."""
    missing = [str(path) for path in (NODE_BIN / "node", RUNNERS / ".bin" / "jest", RUNNERS / ".bin" / "vitest")
               if not path.exists()]
    if missing:
        reason = f"missing {', '.join(missing)}: run scripts/install-vscode-e2e.sh and scripts/install-js-test-runners.sh"
        if os.environ.get("SEEKCODE_REQUIRE_EDITORS"):
            pytest.fail(reason)
        pytest.skip(reason)
    monkeypatch.setenv("PATH", f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def js_project(root: Path, runner: str, source_name: str, source: str) -> Path:
    root.mkdir()
    package = {"name": "calc", "private": True, "type": "module", "devDependencies": {runner: "*"}}
    (root / "package.json").write_text(json.dumps(package), encoding="utf-8")
    (root / source_name).write_text(source, encoding="utf-8")
    (root / "node_modules").symlink_to(RUNNERS, target_is_directory=True)
    return root


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target, without following links (node_modules is one)."""
    files: dict[str, bytes | str] = {}
    for directory, folders, names in os.walk(root):
        for name in folders + names:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                files[relative] = os.readlink(path)
            elif path.is_file():
                files[relative] = path.read_bytes()
    return files


def generated(counter: Path) -> str:
    """One passing, one failing and one flaky test (passes on odd runs, counted in a file outside the project)."""
    return (
        "import { existsSync, readFileSync, writeFileSync } from 'node:fs';\n\n"
        "describe('add', () => {\n"
        "  it('adds two numbers', () => {\n    expect(add(1, 2)).toBe(3);\n  });\n\n"
        "  it('is wrong on purpose', () => {\n    expect(add(1, 2)).toBe(4);\n  });\n"
        "});\n\n"
        "test('is flaky', () => {\n"
        f"  const file = {json.dumps(str(counter))};\n"
        "  const runs = (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0) + 1;\n"
        "  writeFileSync(file, String(runs));\n"
        "  expect(runs % 2).toBe(1);\n"
        "});\n"
    )


CASES = [
    ("jest", "calc.js", "export function add(a, b) {\n  return a + b;\n}\n"),
    ("vitest", "calc.ts", "export function add(a: number, b: number): number {\n  return a + b;\n}\n"),
]


@pytest.mark.parametrize(("runner", "source_name", "source"), CASES, ids=[case[0] for case in CASES])
def test_run_keeps_only_the_test_that_passes_three_times(node, tmp_path, runner, source_name, source):
    root = js_project(tmp_path / "project", runner, source_name, source)
    text = (root / source_name).read_text(encoding="utf-8")
    plan = plan_tests(root / source_name, text, text.index("return"), source_name.rsplit(".", 1)[1], root)
    assert plan.framework == runner
    counter = tmp_path / "flaky-count"
    result = generate_tests(plan, Script(generated(counter)))
    assert sorted(names_in(result.code, plan)) == ["adds two numbers", "is flaky", "is wrong on purpose"]
    before = snapshot(root)

    kept = run_and_filter(plan, result, timeout=120)

    assert (kept.kept, kept.dropped) == (1, 2)
    assert counter.read_text() == "3"  # three runs of the file: the flaky test passed, failed, passed
    new_text = kept.file_edit.new_text()
    assert "adds two numbers" in new_text and "wrong on purpose" not in new_text and "is flaky" not in new_text
    assert kept.file_edit.path == root / source_name.replace(".", ".test.")
    assert not has_syntax_errors(new_text, plan.language)
    assert snapshot(root) == before
    assert not (RUNNERS / ".vite").exists() and not (RUNNERS / ".vitest-cache").exists()


@pytest.mark.parametrize(("runner", "source_name", "source"), CASES, ids=[case[0] for case in CASES])
def test_a_hanging_test_is_killed_by_the_timeout(node, tmp_path, runner, source_name, source):
    root = js_project(tmp_path / "project", runner, source_name, source)
    text = (root / source_name).read_text(encoding="utf-8")
    plan = plan_tests(root / source_name, text, text.index("return"), source_name.rsplit(".", 1)[1], root)
    result = generate_tests(plan, Script("test('never ends', () => {\n  while (true) {}\n});\n"))
    before = snapshot(root)

    with pytest.raises(TestsError, match="still running after 10 s"):
        run_and_filter(plan, result, timeout=10)

    assert snapshot(root) == before
    assert not _processes_in_scratch_copies()


def _processes_in_scratch_copies() -> list[str]:
    """Processes still working in a scratch copy (its folder is gone, so the link says deleted)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and "seekcode-js-" in os.readlink(entry / "cwd"):
                found.append(entry.name)
        except OSError:
            continue
    return found


def test_a_project_without_the_runner_gets_one_clear_error(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"devDependencies": {"jest": "*"}}), encoding="utf-8")
    (root / "calc.js").write_text("export function add(a, b) {\n  return a + b;\n}\n", encoding="utf-8")
    text = (root / "calc.js").read_text(encoding="utf-8")
    plan = plan_tests(root / "calc.js", text, text.index("return"), "js", root)
    result = generate_tests(plan, Script("test('adds', () => {\n  expect(add(1, 2)).toBe(3);\n});\n"))

    with pytest.raises(TestsError, match=r"install jest in the project"):
        run_and_filter(plan, result, timeout=10)
    assert sorted(path.name for path in root.iterdir()) == ["calc.js", "package.json"]


def test_removing_tests_drops_the_calls_and_the_describe_left_empty(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "package.json").write_text("{}", encoding="utf-8")
    (root / "calc.ts").write_text("export function add(a: number, b: number) {\n  return a + b;\n}\n", encoding="utf-8")
    text = (root / "calc.ts").read_text(encoding="utf-8")
    plan = plan_tests(root / "calc.ts", text, text.index("return"), "ts", root)
    code = ("describe('add', () => {\n  it('keeps', () => {\n    expect(add(1, 2)).toBe(3);\n  });\n});\n\n"
            "describe('gone', () => {\n  describe('inner', () => {\n    test(\"drops\", () => {\n"
            "      expect(add(1, 1)).toBe(3);\n    });\n  });\n});\n")

    left = remove_tests(code, plan, ["drops"])

    assert left == "describe('add', () => {\n  it('keeps', () => {\n    expect(add(1, 2)).toBe(3);\n  });\n});\n"
