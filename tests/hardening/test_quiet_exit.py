"""The editor goes away: the server exits by itself and writes no tracebacks.

Neovim's `:qa!` sends `shutdown` and `exit` and quits without reading the reply; an editor
that crashes just closes both pipes. Either way the server's writes meet a pipe with no
reader. Before the fix each one became a BrokenPipeError traceback in the log (~95 lines).
"""

from __future__ import annotations

import pytest

from tests.hardening.editor_pipe import EditorPipe

URI = "file:///work/quiet.py"
NOISE = ("Traceback", "BrokenPipeError", "Exception ignored", "Error sending data")


def open_and_ask(editor: EditorPipe, request_id: int) -> None:
    editor.send(
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "python", "version": 1, "text": "def add(a, b):\n    return "}}},
        {"jsonrpc": "2.0", "id": request_id, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": URI}, "position": {"line": 1, "character": 11}, "context": {"triggerKind": 2}}},
    )


def assert_quiet(stderr: str, log_text: str) -> None:
    for noise in NOISE:
        assert noise not in stderr, f"{noise!r} on the server's stderr:\n{stderr[-3000:]}"
        assert noise not in log_text, f"{noise!r} in the server's log:\n{log_text[-3000:]}"


def model_args(kind: str, tmp_path, bundled_model) -> list[str]:
    if kind == "bundled":
        return ["--model", str(bundled_model), "--threads", "1", "--max-tokens", "48"]
    return ["--model", str(tmp_path / "absent.gguf")]  # the model-less server: a message, then empty answers


def start(kind: str, log_to: str, tmp_path, bundled_model) -> tuple[EditorPipe, object]:
    log_path = tmp_path / "server.log" if log_to == "file" else None
    editor = EditorPipe(model_args(kind, tmp_path, bundled_model), log_path)
    editor.initialize()
    if kind == "bundled":
        editor.wait_log_message("loaded")
    return editor, log_path


def log_text(log_path) -> str:
    return log_path.read_text(encoding="utf-8") if log_path is not None and log_path.exists() else ""


@pytest.mark.parametrize("log_to", ["file", "stderr"])
@pytest.mark.parametrize("kind", ["none", "bundled"])
def test_qa_bang_shutdown_and_exit_without_reading_the_reply(kind, log_to, tmp_path, bundled_model):
    editor, log_path = start(kind, log_to, tmp_path, bundled_model)
    open_and_ask(editor, 2)
    editor.close_stdout()
    editor.send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}, {"jsonrpc": "2.0", "method": "exit"})
    returncode, stderr = editor.finish()
    assert returncode == 0  # shutdown came before exit
    assert_quiet(stderr, log_text(log_path))


@pytest.mark.parametrize("kind", ["none", "bundled"])
def test_editor_vanishes_mid_request(kind, tmp_path, bundled_model):
    """Both pipes close with a completion in flight and no shutdown at all."""
    editor, log_path = start(kind, "file", tmp_path, bundled_model)
    open_and_ask(editor, 2)
    editor.close_stdout()
    editor.close_stdin()
    returncode, stderr = editor.finish()
    assert returncode in (0, 1)  # not killed by a signal, not hanging
    assert_quiet(stderr, log_text(log_path))


def test_stdin_eof_while_the_editor_still_reads(tmp_path, bundled_model):
    """The editor closes our stdin but keeps its end of stdout open: the server exits anyway."""
    editor, log_path = start("bundled", "file", tmp_path, bundled_model)
    open_and_ask(editor, 2)
    editor.close_stdin()
    returncode, stderr = editor.finish()
    assert returncode in (0, 1)
    assert_quiet(stderr, log_text(log_path))


def test_shutdown_reply_unread_then_stdin_closes_without_exit(tmp_path, bundled_model):
    editor, log_path = start("none", "stderr", tmp_path, bundled_model)
    editor.close_stdout()
    editor.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    returncode, stderr = editor.finish()
    assert returncode in (0, 1)
    assert_quiet(stderr, log_text(log_path))
