"""The LSP server with `backend.url`: completions come from a server on loopback, and when
that server fails the editor gets empty answers and one message per outage, never the key."""

from __future__ import annotations

import threading

import pytest

from tests.http.scripted_server import ScriptedServer, refused_url

SECRET = "sk-lsp-test-fedcba9876543210"
URI = "file:///work/remote.py"


@pytest.fixture
def scripted():
    server = ScriptedServer(text="return x + 1\n")
    yield server
    server.close()


def connected(client, timeout: float = 60.0) -> None:
    client.wait_notification("window/logMessage", timeout, lambda m: "connected to" in m["params"]["message"])


def shown(client) -> list[str]:
    return [message["params"]["message"] for message in client.messages("window/showMessage")]


class Typist:
    """Edits the document so each request is at a new place (no completion-cache hit)."""

    def __init__(self, client) -> None:
        self.client = client
        self.version = 1
        client.open(URI, self.text(), version=1)

    def text(self) -> str:
        return f"def add_{self.version}(x):\n    "

    def complete(self) -> list[str]:
        self.version += 1
        self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": URI, "version": self.version}, "contentChanges": [{"text": self.text()}],
        })
        reply = self.client.inline(URI, 1, 4)
        return [item["insertText"] for item in reply["items"]]


def test_outages_give_one_message_each_and_the_server_keeps_answering(start_server, scripted, tmp_path):
    client = start_server(["--url", scripted.url, "--verbose"], env={"SEEKCODE_API_KEY": SECRET})
    client.initialize(initialization_options={"backend": {"timeout": 0.5}})
    connected(client)
    typist = Typist(client)
    assert typist.complete() == ["return x + 1"]
    assert scripted.completion_requests()[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"

    outages = [
        ("status-500", "failed (HTTP 500)"),
        ("die", "closed the connection"),
        ("garbage", "not valid JSON"),
        ("status-401", "refused the API key"),
        ("slow", "did not answer within 0.5 s"),
    ]
    for mode, phrase in outages:
        before = len(shown(client))
        scripted.mode, _, status = mode.partition("-")
        scripted.status = int(status or 500)
        scripted.delay = 3.0
        assert typist.complete() == []
        assert typist.complete() == []  # still failing: no second message
        messages = shown(client)[before:]
        assert len(messages) == 1 and phrase in messages[0], (mode, messages)
        scripted.mode = "ok"
        assert typist.complete() == ["return x + 1"]  # recovered, the next outage is news again

    assert client.request("shutdown", None) is None
    log = (tmp_path / "server0.log").read_text(encoding="utf-8")
    assert "HTTP 500" in log  # the detail went to the log ...
    everything = log + client.stderr_text() + repr(client.notifications)
    assert SECRET not in everything  # ... the key did not


def test_unreachable_server_at_start_is_one_message_and_completions_stay_empty(start_server):
    client = start_server(["--url", refused_url()], env={"SEEKCODE_API_KEY": SECRET})
    client.initialize()
    message = client.wait_notification("window/showMessage", 60)["params"]["message"]
    assert "unreachable" in message and "seekcode.backend.url" in message and SECRET not in message
    typist = Typist(client)
    assert typist.complete() == []
    assert typist.complete() == []
    assert len(shown(client)) == 1


def test_key_is_not_sent_in_clear_to_a_remote_host(start_server):
    client = start_server(["--url", "http://192.0.2.1:8080"], env={"SEEKCODE_API_KEY": SECRET})
    client.initialize()
    message = client.wait_notification("window/showMessage", 60)["params"]["message"]
    assert "plain HTTP" in message and "allowInsecure" in message and SECRET not in message


def test_settings_switch_between_remote_and_nested_or_flat_keys(start_server, scripted):
    client = start_server()
    client.initialize(initialization_options={"backend.url": scripted.url, "backend.family": "starcoder"})
    connected(client)
    log = next(m["params"]["message"] for m in client.messages("window/logMessage") if "connected to" in m["params"]["message"])
    assert "family starcoder" in log  # the setting wins over the served name
    Typist(client).complete()
    prompt = scripted.completion_requests()[-1]["body"]["prompt"]
    assert prompt.startswith("<fim_prefix><fim_suffix>")  # StarCoder's SPM layout, built by us


def test_a_superseded_request_closes_its_stream(start_server, scripted):
    client = start_server(["--url", scripted.url])
    client.initialize()
    connected(client)
    typist = Typist(client)
    scripted.mode = "hang"  # streams one piece, then holds the connection open
    typist.version += 1
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": typist.version}, "contentChanges": [{"text": typist.text()}],
    })
    hanging = client.inline_async(URI, 1, 4)
    for _ in range(600):  # until the server is inside the hanging stream
        if scripted.completion_requests():
            break
        threading.Event().wait(0.05)
    scripted.mode = "ok"
    assert typist.complete() == ["return x + 1"]  # the newer request supersedes the hanging one
    assert client.result(hanging)["items"] == []
    for _ in range(600):
        if scripted.disconnects:
            break
        threading.Event().wait(0.05)
    assert scripted.disconnects == 1  # the superseded stream was closed, not left to run
    assert shown(client) == []  # superseding is not a failure
