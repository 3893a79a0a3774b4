"""Edits as plain data: apply, diff, atomic write inside the workspace only, LSP WorkspaceEdit."""

from __future__ import annotations

import os
import subprocess

import pytest

from lsp_server.features.edits import EditError, FileEdit, TextEdit, apply_edits, unified_diff, workspace_edit, write_atomic


def test_apply_edits_in_any_order_and_refuse_overlaps():
    assert apply_edits("abcdef", [TextEdit(4, 5, "E"), TextEdit(0, 1, "A")]) == "AbcdEf"
    with pytest.raises(EditError, match="overlap"):
        apply_edits("abcdef", [TextEdit(0, 3, "x"), TextEdit(2, 4, "y")])
    with pytest.raises(EditError, match="spans"):
        apply_edits("abc", [TextEdit(2, 9, "x")])


def test_diff_applies_with_git_and_atomic_write_matches_it(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n", encoding="utf-8")
    edits = [
        FileEdit(tmp_path / "a.py", (TextEdit(6, 6, "z = 3\n"),), "x = 1\ny = 2\n"),
        FileEdit(tmp_path / "tests" / "test_a.py", (TextEdit(0, 0, "def test_a():\n    pass"),), None),
    ]
    diff = unified_diff(edits, tmp_path)
    assert "--- /dev/null\n+++ b/tests/test_a.py\n" in diff and "\\ No newline at end of file\n" in diff
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    check = subprocess.run(["git", "apply", "--check", "-"], cwd=tmp_path, input=diff, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr
    write_atomic(edits, tmp_path)
    assert (tmp_path / "a.py").read_text(encoding="utf-8") == "x = 1\nz = 3\ny = 2\n"
    assert (tmp_path / "tests" / "test_a.py").read_text(encoding="utf-8") == "def test_a():\n    pass"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".git") == ["a.py", "tests"]  # no temp files


def test_nothing_is_written_outside_the_root_or_over_changes(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    outside = FileEdit(tmp_path / "elsewhere.py", (TextEdit(0, 0, "x"),), None)
    inside = FileEdit(root / "ok.py", (TextEdit(0, 0, "x"),), None)
    with pytest.raises(EditError, match="outside the workspace"):
        write_atomic([inside, outside], root)
    assert not (root / "ok.py").exists() and not (tmp_path / "elsewhere.py").exists()  # all or nothing
    os.symlink(tmp_path, root / "link")
    with pytest.raises(EditError, match="outside the workspace"):
        write_atomic([FileEdit(root / "link" / "escape.py", (TextEdit(0, 0, "x"),), None)], root)
    (root / "m.py").write_text("new on disk\n", encoding="utf-8")
    with pytest.raises(EditError, match="changed on disk"):
        write_atomic([FileEdit(root / "m.py", (TextEdit(0, 0, "#"),), "old\n")], root)
    assert (root / "m.py").read_text(encoding="utf-8") == "new on disk\n"


def test_workspace_edit_uses_utf16_positions_and_creates_files(tmp_path):
    text = "s = '😀'\nx = 1\n"
    edit = workspace_edit([FileEdit(tmp_path / "a.py", (TextEdit(8, 8, "# c\n"), TextEdit(7, 7, "!")), text),
                           FileEdit(tmp_path / "new.py", (TextEdit(0, 0, "y = 2\n"),), None)],
                          versions={(tmp_path / "a.py").as_uri(): 3})
    first, create, second = edit["documentChanges"]
    assert first["textDocument"] == {"uri": (tmp_path / "a.py").as_uri(), "version": 3}
    assert first["edits"][0]["range"]["start"] == {"line": 1, "character": 0}
    assert first["edits"][1]["range"]["start"] == {"line": 0, "character": 8}  # the emoji is 2 UTF-16 units
    assert create == {"kind": "create", "uri": (tmp_path / "new.py").as_uri(), "options": {"overwrite": False, "ignoreIfExists": True}}
    assert second["edits"] == [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "newText": "y = 2\n"}]
