"""Docstrings and tests over the LSP wire, with the real server and the bundled model:
code actions listed without the model and resolved lazily, executeCommand ->
workspace/applyEdit, $/progress with cancel, and a completion preempting a generation."""

from __future__ import annotations

import ast
import re

import pytest

from tests.assist.test_assist_real_model import SOURCE, strip_docstrings

MANY_PARAMS = 300  # a docstring with 300 holes keeps the worker busy for a while


def apply_text_edits(text: str, edits: list[dict]) -> str:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: dict) -> int:  # ASCII test sources: UTF-16 units are characters
        return starts[position["line"]] + position["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        text = text[: offset(edit["range"]["start"])] + edit["newText"] + text[offset(edit["range"]["end"]) :]
    return text


def document_edits(workspace_edit: dict, uri: str) -> list[dict]:
    changes = [change for change in workspace_edit["documentChanges"] if change.get("textDocument", {}).get("uri") == uri]
    assert len(changes) == 1
    return changes[0]["edits"]


@pytest.fixture
def assist(start_assist_server, bundled_gguf, tmp_path):
    client = start_assist_server(["--threads", "2"])
    client.initialize_assist()
    client.wait_model_ready()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    path = tmp_path / "fsutil.py"
    path.write_text(SOURCE, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, SOURCE)
    return client, uri


def log_text(client) -> str:
    return client.log_path.read_text(encoding="utf-8")


def code_actions(client, uri: str, line: int, character: int) -> list[dict]:
    position = {"line": line, "character": character}
    return client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": position, "end": position}, "context": {"diagnostics": []},
    })


def test_actions_are_listed_without_the_model_and_resolved_lazily(assist):
    client, uri = assist
    actions = code_actions(client, uri, 4, 8)
    by_title = {action["title"]: action for action in actions}
    assert {"Generate docstring", "Generate tests"} <= set(by_title)
    docstring = by_title["Generate docstring"]
    assert docstring["kind"] == "refactor.rewrite" and "edit" not in docstring and "command" not in docstring
    assert "docstring generation" not in log_text(client)  # listing ran no model
    resolved = client.request("codeAction/resolve", docstring, timeout=300)
    new_text = apply_text_edits(SOURCE, document_edits(resolved["edit"], uri))
    assert ast.get_docstring(ast.parse(new_text).body[1]) is not None
    assert strip_docstrings(new_text) == strip_docstrings(SOURCE)
    assert "docstring generation" in log_text(client)
    assert code_actions(client, uri, 0, 0) == [] or all(a["title"] not in ("Generate docstring",) for a in code_actions(client, uri, 0, 0))


def test_execute_command_applies_through_workspace_apply_edit(assist):
    client, uri = assist
    result = client.request("workspace/executeCommand", {
        "command": "seekcode.generateDocstring",
        "arguments": [{"uri": uri, "position": {"line": 4, "character": 8}, "style": "numpy"}],
    }, timeout=300)
    assert result == {"applied": True}
    [edit] = client.applied_edits
    new_text = apply_text_edits(SOURCE, document_edits(edit, uri))
    assert "\n    Parameters\n    ----------\n    path\n" in new_text
    assert strip_docstrings(new_text) == strip_docstrings(SOURCE)
    titles = [m["params"]["value"].get("title") for m in client.messages("$/progress") if m["params"]["value"]["kind"] == "begin"]
    assert "seekcode: generating docstring" in titles
    assert any(m["params"]["value"]["kind"] == "end" for m in client.messages("$/progress"))


def test_bad_requests_get_a_message_not_a_crash(assist):
    client, uri = assist
    nothing = client.request("workspace/executeCommand", {
        "command": "seekcode.generateDocstring", "arguments": [{"uri": uri, "position": {"line": 0, "character": 0}}]})
    assert nothing["applied"] is False and "no function, method or class" in nothing["message"]
    malformed = client.request("workspace/executeCommand", {"command": "seekcode.generateDocstring", "arguments": ["x"]})
    assert malformed["applied"] is False and "one argument object" in malformed["message"]
    past_end = client.request("workspace/executeCommand", {
        "command": "seekcode.generateTests", "arguments": [{"uri": uri, "position": {"line": 99, "character": 0}}]})
    assert past_end["applied"] is False and "not in the document" in past_end["message"]
    assert client.applied_edits == []
    assert "items" in client.inline(uri, 7, 4)  # still serving


def many_params_source() -> str:
    params = ", ".join(f"p{index}" for index in range(MANY_PARAMS))
    return f"def wide({params}):\n    return p0\n"


def test_cancelling_the_progress_stops_the_generation(assist, tmp_path):
    client, _ = assist
    path = tmp_path / "wide.py"
    path.write_text(many_params_source(), encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, many_params_source())
    request = client.request_async("workspace/executeCommand", {
        "command": "seekcode.generateDocstring", "arguments": [{"uri": uri, "position": {"line": 1, "character": 4}}]})
    begin = client.wait_notification("$/progress", 120, lambda m: m["params"]["value"].get("title") == "seekcode: generating docstring")
    assert begin["params"]["value"]["cancellable"] is True
    client.notify("window/workDoneProgress/cancel", {"token": begin["params"]["token"]})
    result = client.result(request, timeout=300)
    assert result["applied"] is False and "cancelled" in result["message"]
    assert client.applied_edits == []
    stopped = re.findall(r"docstring generation for \S+ stopped after (\d+) filled holes", log_text(client))
    assert stopped and int(stopped[-1]) < MANY_PARAMS + 1


def test_a_completion_preempts_the_generation_which_then_resumes(assist, tmp_path):
    client, _ = assist
    path = tmp_path / "wide.py"
    source = many_params_source()
    path.write_text(source, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, source)
    request = client.request_async("workspace/executeCommand", {
        "command": "seekcode.generateDocstring", "arguments": [{"uri": uri, "position": {"line": 1, "character": 4}}]})
    client.wait_notification("$/progress", 120, lambda m: m["params"]["value"].get("kind") == "report"
                             and not m["params"]["value"]["message"].startswith("0/"))  # some holes are filled
    completion = client.inline(uri, 1, 4, timeout=120)  # a keystroke's request, while the docstring is being written
    with client._condition:
        assert request not in client._responses  # answered before the long generation finished
    assert "items" in completion
    result = client.result(request, timeout=600)
    assert result == {"applied": True}
    new_text = apply_text_edits(source, document_edits(client.applied_edits[0], uri))
    docstring = ast.get_docstring(ast.parse(new_text).body[0])
    assert all(f"p{index}:" in docstring for index in range(MANY_PARAMS))
    log = log_text(client)
    assert re.search(r"docstring generation for \S+ resumes after \d+ filled holes", log)
    assert log.index("stopped after") < log.index("resumes after")


def test_generate_tests_command_creates_the_conventional_test_file(assist, tmp_path):
    client, _ = assist
    path = tmp_path / "mathx.py"
    source = "def add(a, b):\n    return a + b\n"
    path.write_text(source, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, source)
    result = client.request("workspace/executeCommand", {
        "command": "seekcode.generateTests", "arguments": [{"uri": uri, "position": {"line": 1, "character": 4}}]},
        timeout=300)
    if not result["applied"]:  # the tiny bundled model may fail to write parsing tests twice: a clear message
        assert "did not parse twice" in result["message"] and client.applied_edits == []
        return
    [edit] = client.applied_edits
    test_uri = (tmp_path / "tests" / "test_mathx.py").as_uri()
    create, change = edit["documentChanges"]
    assert create == {"kind": "create", "uri": test_uri, "options": {"overwrite": False, "ignoreIfExists": True}}
    assert change["textDocument"]["uri"] == test_uri
    [text_edit] = change["edits"]
    assert text_edit["newText"].startswith("import pytest\n\nfrom mathx import add\n\n\ndef test_")
    ast.parse(text_edit["newText"])
    assert not (tmp_path / "tests").exists()  # the editor applies the edit; the server wrote nothing
