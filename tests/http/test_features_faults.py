"""The features against a scripted OpenAI-compatible server that is not a llama.cpp one (its
`/v1/models` names no `owned_by`): the requests seekcode sends such servers (JSON Schema for the
review, a pre-filled answer as the assistant's unfinished turn), and failures mid-feature as one
sentence from the LSP server and the CLI, which keep working."""

from __future__ import annotations

import time

import pytest

from lsp_server.backend.http import HttpBackend, HttpOptions
from lsp_server.engine.findings import FINDINGS_GBNF, FINDINGS_SCHEMA
from lsp_server.features.review_model import RemoteReviewModel
from tests.assist.test_assist_real_model import SOURCE
from tests.http.scripted_server import ScriptedServer
from tests.http.test_lsp_remote import connected
from tests.lsp.test_cli import run_cli


@pytest.fixture
def scripted():
    server = ScriptedServer(model_name="some-coder")
    yield server
    server.close()


def test_a_server_without_grammar_gets_json_schema_and_a_prefilled_turn(scripted):
    backend = HttpBackend(HttpOptions(url=scripted.url))
    try:
        assert not backend.takes_grammar and backend.can_chat
        scripted.text = "[]"
        assert RemoteReviewModel(backend).write([{"role": "user", "content": "Review"}], FINDINGS_GBNF, 64, None) == "[]"
        body = scripted.completion_requests()[-1]["body"]
        assert "grammar" not in body
        assert body["response_format"] == {
            "type": "json_schema", "json_schema": {"name": "answer", "schema": FINDINGS_SCHEMA, "strict": True}}
        scripted.text = "rest of the line\n"
        generation = backend.chat([{"role": "user", "content": "Describe"}], max_tokens=64, answer_prefix="Create ")
        body = scripted.completion_requests()[-1]["body"]
        assert body["messages"][-1] == {"role": "assistant", "content": "Create "}
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
        assert generation.text == "rest of the line\n"  # the server continues after the prefix
    finally:
        backend.close()


def test_lsp_features_answer_one_sentence_when_the_server_fails_and_work_again(start_assist_server, scripted, tmp_path):
    client = start_assist_server(["--url", scripted.url])
    client.initialize_assist()
    connected(client)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    path = tmp_path / "fsutil.py"
    path.write_text(SOURCE, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, SOURCE)
    docstring = {"command": "seekcode.generateDocstring",
                 "arguments": [{"uri": uri, "position": {"line": 4, "character": 8}}]}
    scripted.mode, scripted.status = "status", 500
    answer = client.request("workspace/executeCommand", docstring, timeout=120)
    assert answer == {"applied": False,
                      "message": f"The inference server at {scripted.url} failed (HTTP 500); see its log."}
    review = client.request("workspace/executeCommand", {
        "command": "seekcode.review", "arguments": [{"uri": uri, "scope": "file"}]}, timeout=120)
    assert review == {"findings": 0, "message": f"The inference server at {scripted.url} failed (HTTP 500); see its log."}
    tests = client.request("workspace/executeCommand", {
        "command": "seekcode.generateTests", "arguments": [{"uri": uri, "position": {"line": 4, "character": 8}}]},
        timeout=120)
    assert tests["applied"] is False and "failed (HTTP 500)" in tests["message"]
    assert client.applied_edits == []

    scripted.mode, scripted.text = "ok", "Create the directory.\n"
    answer = client.request("workspace/executeCommand", docstring, timeout=120)
    assert answer["applied"], answer
    [edit] = client.applied_edits
    assert '"""Create the directory.' in str(edit)
    assert "Traceback" not in client.stderr_text()


def test_cli_review_and_docstring_fail_with_one_sentence(scripted, tmp_path):
    source = tmp_path / "fsutil.py"
    source.write_text(SOURCE, encoding="utf-8")
    scripted.mode, scripted.status = "status", 500
    review = run_cli("review", str(source), "--url", scripted.url)
    assert review.returncode == 2
    assert review.stderr == f"seekcode-lsp: The inference server at {scripted.url} failed (HTTP 500); see its log.\n"
    docstring = run_cli("docstring", f"{source}:5:9", "--url", scripted.url)
    assert docstring.returncode == 1 and "failed (HTTP 500)" in docstring.stderr and "Traceback" not in docstring.stderr


def test_cancelling_a_docstring_closes_the_servers_stream(start_assist_server, scripted, tmp_path):
    client = start_assist_server(["--url", scripted.url])
    client.initialize_assist()
    connected(client)
    path = tmp_path / "fsutil.py"
    path.write_text(SOURCE, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, SOURCE)
    scripted.mode = "hang"  # one event, then nothing until the client goes away
    request = client.request_async("workspace/executeCommand", {
        "command": "seekcode.generateDocstring", "arguments": [{"uri": uri, "position": {"line": 4, "character": 8}}]})
    begin = client.wait_notification("$/progress", 60, lambda m: m["params"]["value"].get("title") == "seekcode: generating docstring")
    deadline = time.monotonic() + 60
    while not scripted.completion_requests():  # the chat request is streaming
        assert time.monotonic() < deadline, "no chat request reached the server"
        time.sleep(0.01)
    client.notify("window/workDoneProgress/cancel", {"token": begin["params"]["token"]})
    result = client.result(request, timeout=60)
    assert result["applied"] is False and "cancelled" in result["message"]
    deadline = time.monotonic() + 30
    while scripted.disconnects < 1:  # the server saw the client close the stream
        assert time.monotonic() < deadline, "the stream was not closed"
        time.sleep(0.01)
    assert client.applied_edits == []
