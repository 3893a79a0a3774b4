"""A newer completion request (for any document) supersedes the running one; $/cancelRequest aborts.

The tiny model generates junk without stopping, so a 1500-token request runs for
seconds; the second request arrives within milliseconds, while the first is generating.
"""

from __future__ import annotations

import re
import time

import pytest

URI = "file:///work/typing.py"
LONG_TEXT = "x = "  # the tiny model never ends a line here: 1500 tokens of generation
OTHER_LINE = "\ny = 1\n"


@pytest.fixture
def long_server(start_server, tiny_gguf):
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "1500"])
    client.initialize()
    client.wait_model_ready()
    client.open(URI, LONG_TEXT + OTHER_LINE)
    return client


def wait_until_running(client, uri: str, timeout: float = 60.0) -> None:
    """Block until the server's worker has started a completion for `uri` (the order under test)."""
    deadline = time.monotonic() + timeout
    while f"completion for {uri} started on the worker" not in client.log_path.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "the first completion never started"
        time.sleep(0.01)


def aborted_generations(client) -> list[int]:
    log = client.log_path.read_text(encoding="utf-8")
    return [int(count) for count in re.findall(r"aborted after (\d+) generated tokens", log)]


def test_newer_request_supersedes_the_running_one(long_server):
    first = long_server.inline_async(URI, 0, 4)
    wait_until_running(long_server, URI)
    second = long_server.inline_async(URI, 0, 4)
    assert long_server.result(first) == {"items": []}  # superseded: empty, not an error
    items = long_server.result(second)["items"]
    assert len(items) == 1 and len(items[0]["insertText"]) > 100
    aborted = aborted_generations(long_server)
    assert len(aborted) == 1 and aborted[0] < 1500  # stopped mid-generation


def test_cancel_request_aborts_generation(long_server):
    request = long_server.inline_async(URI, 0, 4)
    long_server.notify("$/cancelRequest", {"id": request})
    response = long_server.response(request)
    assert response["error"]["code"] == -32800  # RequestCancelled
    # the server serves the next request normally (on the same worker, after the abort)
    long_server.change(URI, 2, [{"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 5}},
                                  "text": "y = 2"}])
    assert "items" in long_server.inline(URI, 1, 5)
    # the cancelled request either stopped mid-generation or never started; it did not finish
    log = long_server.log_path.read_text(encoding="utf-8")
    assert len(re.findall(r"completion from the model", log)) == 1
    assert all(count < 1500 for count in aborted_generations(long_server))


def test_typing_through_the_suggestion_is_answered_from_the_cache(start_server, tiny_gguf):
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "12"])
    client.initialize()
    client.wait_model_ready()
    text = "total = "
    client.open(URI, text)
    [item] = client.inline(URI, 0, len(text))["items"]
    suggestion = item["insertText"]
    typed = suggestion[:3]
    client.change(URI, 2, [{"range": {"start": {"line": 0, "character": len(text)},
                                      "end": {"line": 0, "character": len(text)}}, "text": typed}])
    [rest] = client.inline(URI, 0, len(text) + len(typed))["items"]
    assert rest["insertText"] == suggestion[3:]
    log = client.log_path.read_text(encoding="utf-8")
    # The second request is the cache's. (The model may have run twice: after the first answer the
    # server speculates, as idle work, the completion that follows accepting it; on a fast machine it
    # ends before the edit arrives.)
    assert len(re.findall(r"completion from the cache", log)) == 1
    first_answer = log.index("completion from the model")
    assert log.index("completion from the cache") > first_answer


def test_a_request_in_another_document_supersedes_too(long_server):
    """One cursor, one request: with two buffers open, the older request does not hold up the newer one."""
    other = "file:///work/other.py"
    long_server.open(other, LONG_TEXT + OTHER_LINE)
    first = long_server.inline_async(URI, 0, 4)
    wait_until_running(long_server, URI)
    second = long_server.inline_async(other, 0, 4)
    assert long_server.result(first) == {"items": []}
    assert len(long_server.result(second)["items"]) == 1
    aborted = aborted_generations(long_server)
    assert len(aborted) == 1 and aborted[0] < 1500
    log = long_server.log_path.read_text(encoding="utf-8")
    assert len(re.findall(r"completion from the model", log)) == 1
