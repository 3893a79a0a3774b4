"""Edits never leave the workspace, through the real server's commands and the CLI.

A workspace whose `tests/` (or test file) is a symbolic link out of it, a document that is a
link out of it, a document outside the workspace folder, and a `..` URI: `seekcode.generateTests`
and `seekcode.generateDocstring` answer with one clear sentence, send no `workspace/applyEdit`,
and nothing outside is read into a prompt, run, or written. The CLI's `tests --run --apply`
refuses the same layout before loading the model.

The test writer is scripted (scripted_tests_server.py) so the control case (a plain workspace)
deterministically produces an edit; the refusals happen before any model call. The real model
writes tests end to end in test_tests_run.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lsp.lsp_client import REPO_ROOT, LspClient

SOURCE = "def add(a, b):\n    return a + b\n"
JS_SOURCE = "export function add(a, b) {\n  return a + b;\n}\n"
# The scripted "generated" test records that it ran, so a run in the wrong place shows.
WRITTEN = ("def test_add():\n    import os, pathlib\n"
           "    pathlib.Path(os.environ['SEEKCODE_TEST_RAN']).write_text('ran')\n    assert add(1, 2) == 3\n")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def layout(tmp_path):
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "pyproject.toml").write_text("[project]\nname = 'ws'\n")
    (outside / "pyproject.toml").write_text("[project]\nname = 'outside'\n")
    (outside / "test_calc.py").write_text("SECRET = 'outside test file'\n")
    (outside / "calc.py").write_text(SOURCE)
    (outside / "calc.test.js").write_text("// outside\n")
    return workspace, outside


def escape(kind: str, workspace: Path, outside: Path) -> tuple[str, str, str]:
    """(document uri, its text, language) for one way out of the workspace."""
    if kind == "plain":
        (workspace / "calc.py").write_text(SOURCE)
    elif kind == "tests-folder-link":
        (workspace / "calc.py").write_text(SOURCE)
        (workspace / "tests").symlink_to(outside, target_is_directory=True)
    elif kind == "test-file-link":
        (workspace / "calc.py").write_text(SOURCE)
        (workspace / "tests").mkdir()
        (workspace / "tests" / "test_calc.py").symlink_to(outside / "test_calc.py")
    elif kind == "js-test-file-link":
        (workspace / "calc.js").write_text(JS_SOURCE)
        (workspace / "calc.test.js").symlink_to(outside / "calc.test.js")
        return (workspace / "calc.js").as_uri(), JS_SOURCE, "javascript"
    elif kind == "document-link":
        (workspace / "calc.py").symlink_to(outside / "calc.py")
    elif kind == "document-outside":
        return (outside / "calc.py").as_uri(), SOURCE, "python"
    elif kind == "dot-dot-uri":
        (workspace / "sub").mkdir()
        return f"{workspace.as_uri()}/sub/../../outside/calc.py", SOURCE, "python"
    return (workspace / "calc.py").as_uri(), SOURCE, "python"


class EditorClient(LspClient):
    """Says yes to workspace/applyEdit without applying it (the refusals must not get that far)."""

    def _answer(self, request):
        if request["method"] == "workspace/applyEdit":
            return {"applied": True}
        return super()._answer(request)


class Server:
    def __init__(self, tmp_path: Path, workspace: Path, model: Path) -> None:
        self.ran = tmp_path / "RAN"
        self.client = EditorClient(
            ["--model", str(model), "--threads", "1"],
            env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache"),
                 "SEEKCODE_TEST_CODE": WRITTEN, "SEEKCODE_TEST_RAN": str(self.ran)},
            log_path=tmp_path / "server.log", python_flags=["-m", "tests.hardening.scripted_tests_server"],
        )
        self.client.configuration = {"tests": {"run": True}}
        capabilities = {"window": {"workDoneProgress": True}, "textDocument": {},
                        "workspace": {"configuration": True, "applyEdit": True,
                                      "workspaceEdit": {"documentChanges": True}}}
        self.client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                           "capabilities": capabilities,
                                           "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}]})
        self.client.notify("initialized", {})
        self.client.wait_model_ready()

    def command(self, name: str, uri: str) -> dict:
        return self.client.request("workspace/executeCommand", {
            "command": name, "arguments": [{"uri": uri, "position": {"line": 0, "character": 17}}]}, 300)

    def edited_uris(self) -> list[str]:
        uris = []
        for request in self.client.server_requests:
            if request["method"] == "workspace/applyEdit":
                for change in request["params"]["edit"].get("documentChanges", []):
                    uris.append(change.get("uri") or change["textDocument"]["uri"])
        return uris


@pytest.fixture
def server(tmp_path, layout, bundled_model):
    started = Server(tmp_path, layout[0], bundled_model)
    yield started
    assert started.client.shutdown() == 0
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")


def test_control_a_plain_workspace_gets_its_test_file_inside_it(server, layout):
    workspace, _ = layout
    uri, text, language = escape("plain", workspace, layout[1])
    server.client.open(uri, text, language)
    answer = server.command("seekcode.generateTests", uri)
    assert answer == {"applied": True, "message": "kept 1 of 1 tests; dropped 0 that did not pass 3 runs in a row"}
    assert server.edited_uris() == [(workspace / "tests" / "test_calc.py").as_uri()] * 2  # create, then insert
    assert server.ran.exists()  # tests.run ran the scripted test, inside the workspace


EXPECTED = {
    "tests-folder-link": r"ws/tests/test_calc.py is outside the workspace .*/ws \(a symbolic link leads to .*/outside/test_calc.py\); seekcode only edits files inside it\.",
    "test-file-link": r"ws/tests/test_calc.py is outside the workspace .*/ws \(a symbolic link leads to .*/outside/test_calc.py\)",
    "js-test-file-link": r"ws/calc.test.js is outside the workspace .*/ws \(a symbolic link leads to .*/outside/calc.test.js\)",
    "document-link": r"ws/calc.py is outside the workspace .*/ws \(a symbolic link leads to .*/outside/calc.py\)",
    "document-outside": r"outside/calc.py is outside the workspace .*/ws; seekcode only edits files inside it\.",
    "dot-dot-uri": r"outside/calc.py is outside the workspace .*/ws; seekcode only edits files inside it\.",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_generate_tests_refuses_every_way_out_of_the_workspace(server, layout, kind):
    workspace, outside = layout
    uri, text, language = escape(kind, workspace, outside)
    before = snapshot(outside)
    server.client.open(uri, text, language)
    answer = server.command("seekcode.generateTests", uri)
    assert answer["applied"] is False
    assert re.search(EXPECTED[kind], answer["message"]), answer["message"]
    assert server.edited_uris() == []
    assert not server.ran.exists()  # nothing ran (tests.run is on)
    assert snapshot(outside) == before


@pytest.mark.parametrize("kind", ["document-link", "document-outside", "dot-dot-uri"])
def test_generate_docstring_refuses_a_document_outside_the_workspace(server, layout, kind):
    workspace, outside = layout
    uri, text, language = escape(kind, workspace, outside)
    before = snapshot(outside)
    server.client.open(uri, text, language)
    answer = server.command("seekcode.generateDocstring", uri)
    assert answer["applied"] is False
    assert re.search(EXPECTED[kind], answer["message"]), answer["message"]
    assert server.edited_uris() == []
    assert snapshot(outside) == before


def test_the_cli_refuses_a_linked_tests_folder_before_running_or_writing(layout, tmp_path, bundled_model):
    workspace, outside = layout
    escape("tests-folder-link", workspace, outside)
    before = snapshot(outside)
    ran = tmp_path / "RAN"
    completed = subprocess.run(
        [sys.executable, "-m", "tests.hardening.scripted_tests_server", "tests", f"{workspace / 'calc.py'}:1:5",
         "--model", str(bundled_model), "--threads", "1", "--run", "--apply"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SEEKCODE_MODEL": "", "SEEKCODE_TEST_CODE": WRITTEN, "SEEKCODE_TEST_RAN": str(ran)},
    )
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch("seekcode-lsp: .*" + EXPECTED["tests-folder-link"], lines[0]), lines
    assert not ran.exists()
    assert snapshot(outside) == before
