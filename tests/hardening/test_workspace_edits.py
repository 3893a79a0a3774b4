"""Edits never leave the workspace: `..`, absolute paths and symlinks pointing out are refused
before anything is written (lsp_server/features/edits.py; the tests command plans its test file
with features/tests.py and checks it the same way before generating).

This file drives the feature layer; test_workspace_escape.py does the same through the real
server's commands and the CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.features.edits import EditError, FileEdit, TextEdit, inside_root, unified_diff, write_atomic

SOURCE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def layout(tmp_path):
    workspace, outside = tmp_path / "workspace", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "calc.py").write_text(SOURCE)
    (outside / "victim.py").write_text("precious = True\n")
    return workspace, outside


def creating(path: Path) -> FileEdit:
    return FileEdit(path, (TextEdit(0, 0, "def test_add():\n    assert True\n"),), None)


def escapes(workspace: Path, outside: Path) -> dict[str, Path]:
    (workspace / "tests").symlink_to(outside, target_is_directory=True)
    (workspace / "linked_victim.py").symlink_to(outside / "victim.py")
    return {
        "dot-dot": workspace / "sub" / ".." / ".." / "outside" / "test_calc.py",
        "absolute": outside / "test_calc.py",
        "symlinked-folder": workspace / "tests" / "test_calc.py",
        "symlinked-file": workspace / "linked_victim.py",
    }


@pytest.mark.parametrize("kind", ["dot-dot", "absolute", "symlinked-folder", "symlinked-file"])
def test_paths_that_leave_the_workspace_are_refused_and_nothing_is_written(layout, kind):
    workspace, outside = layout
    target = escapes(workspace, outside)[kind]
    before = {path.name: path.read_bytes() for path in outside.iterdir()}
    with pytest.raises(EditError, match="outside the workspace"):
        inside_root(target, workspace)
    edit = creating(target) if kind != "symlinked-file" else FileEdit(target, (TextEdit(0, 0, "import os\n"),), "precious = True\n")
    with pytest.raises(EditError, match="outside the workspace"):
        write_atomic([edit], workspace)
    with pytest.raises(EditError, match="outside the workspace"):
        unified_diff([edit], workspace)
    assert {path.name: path.read_bytes() for path in outside.iterdir()} == before


def test_one_bad_path_stops_the_whole_edit_before_the_first_write(layout):
    workspace, outside = layout
    good = creating(workspace / "test_ok.py")
    bad = creating(escapes(workspace, outside)["dot-dot"])
    with pytest.raises(EditError):
        write_atomic([good, bad], workspace)
    assert not (workspace / "test_ok.py").exists()


def test_the_planned_test_file_under_a_symlinked_tests_folder_is_refused(layout):
    """Planning refuses it, before anything is read, generated or run there."""
    from lsp_server.features.tests import TestsError, plan_tests

    workspace, outside = layout
    (workspace / "tests").symlink_to(outside, target_is_directory=True)
    with pytest.raises(TestsError, match=r"tests/test_calc.py is outside the workspace .* \(a symbolic link leads to"):
        plan_tests(workspace / "calc.py", SOURCE, SOURCE.index("add"), "python", workspace, "pytest")
