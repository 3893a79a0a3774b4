"""Review over the LSP wire: a real server process, its review model scripted for exact
placement and timing control (tests.review.scripted_server); completions run the tiny GGUF."""

from __future__ import annotations

import json
import time

import pytest

from tests.lsp.lsp_client import LspError

URI = "file:///work/clamp.py"
TEXT = '''import os


def clamp(value, low, high):
    """Keep value within [low, high]."""
    if value < low:
        return low
    if value >= high:
        return low
    return value
'''
BUG_LINE = 8  # 0-based: "        return low" inside the second if
ANSWER = json.dumps([{"start_line": BUG_LINE + 1, "end_line": BUG_LINE + 1, "severity": "error",
                      "message": "returns the lower bound for a value above the upper one",
                      "suggestion": "        return high"}])


def start_scripted(start_server, tiny_gguf, script: dict, options: dict | None = None):
    client = start_server(
        ["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "8"],
        env={"SEEKCODE_TEST_REVIEW": json.dumps(script)},
        python_flags=["-m", "tests.review.scripted_server"],
    )
    client.initialize(initialization_options=options)
    client.wait_model_ready()
    return client


def review(client, uri=URI, **arguments):
    return client.request("workspace/executeCommand",
                          {"command": "seekcode.review", "arguments": [{"uri": uri, **arguments}]})


def diagnostics(client, count: int = 1):
    """The `count`-th publishDiagnostics for URI (1-based), its diagnostics list."""
    message = client.wait_notification(
        "textDocument/publishDiagnostics", 60,
        lambda m: m["params"]["uri"] == URI and len(
            [n for n in client.notifications if n["method"] == "textDocument/publishDiagnostics"
             and n["params"]["uri"] == URI and client.notifications.index(n) <= client.notifications.index(m)]
        ) == count,
    )
    return message["params"]["diagnostics"]


def wait_for_log(client, text: str, timeout: float = 60.0) -> None:
    """Until the server log has `text` (the scripted review says when each run starts)."""
    deadline = time.monotonic() + timeout
    while text not in client.log_path.read_text(encoding="utf-8"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server log never said {text!r}")
        time.sleep(0.05)


def edit(client, version, line, character, end_line, end_character, text):
    client.change(URI, version, [{"range": {"start": {"line": line, "character": character},
                                            "end": {"line": end_line, "character": end_character}}, "text": text}])


def test_findings_become_diagnostics_with_exact_ranges_and_a_quick_fix(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER})
    client.open(URI, TEXT)
    assert review(client, scope="file") == {"findings": 1}
    [diagnostic] = diagnostics(client)
    assert diagnostic["source"] == "seekcode"
    assert diagnostic["severity"] == 1  # Error
    assert diagnostic["range"] == {"start": {"line": BUG_LINE, "character": 8},
                                   "end": {"line": BUG_LINE, "character": 18}}
    assert diagnostic["message"] == "returns the lower bound for a value above the upper one"
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": URI},
        "range": {"start": {"line": BUG_LINE, "character": 10}, "end": {"line": BUG_LINE, "character": 10}},
        "context": {"diagnostics": [diagnostic]},
    })
    [fix] = [action for action in actions if action["kind"] == "quickfix"]
    [text_edit] = fix["edit"]["changes"][URI]
    assert text_edit == {"range": {"start": {"line": BUG_LINE, "character": 0}, "end": {"line": BUG_LINE, "character": 18}},
                         "newText": "        return high"}
    titles = {action["title"]: action for action in actions if action["kind"] == "source"}
    assert titles["Review function"]["command"]["command"] == "seekcode.review"
    assert titles["Review file"]["command"]["arguments"][0]["scope"] == "file"


def test_diagnostics_move_with_edits_above_and_clear_when_their_line_changes(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER})
    client.open(URI, TEXT)
    review(client, scope="file")
    assert diagnostics(client, 1)[0]["range"]["start"]["line"] == BUG_LINE
    edit(client, 2, 0, 9, 0, 9, "\nimport sys")  # a line added above the finding
    moved = diagnostics(client, 2)
    assert [d["range"]["start"] for d in moved] == [{"line": BUG_LINE + 1, "character": 8}]
    edit(client, 3, BUG_LINE + 1, 15, BUG_LINE + 1, 18, "high")  # the user fixes the line
    assert diagnostics(client, 3) == []


def test_edits_made_while_a_review_runs_move_and_clear_its_findings(start_server, tiny_gguf, tmp_path):
    answer = json.dumps([json.loads(ANSWER)[0],
                         {"start_line": 6, "end_line": 6, "severity": "warning", "message": "strict comparison?"}])
    go = tmp_path / "go"
    client = start_scripted(start_server, tiny_gguf, {"answer": answer, "wait_file": str(go)})
    client.open(URI, TEXT)
    request = client.request_async("workspace/executeCommand",
                                   {"command": "seekcode.review", "arguments": [{"uri": URI, "scope": "file"}]})
    wait_for_log(client, "scripted write call 0 started")
    edit(client, 2, 0, 9, 0, 9, "\nimport sys")  # a line added above both findings
    edit(client, 3, 6, 12, 6, 13, "<=")  # the (moved) line of the second finding changes
    client.request("textDocument/codeAction", {  # a round trip: the server has applied both edits
        "textDocument": {"uri": URI},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": []},
    })
    go.write_text("")
    assert client.result(request) == {"findings": 1}
    [diagnostic] = diagnostics(client)
    assert diagnostic["range"]["start"] == {"line": BUG_LINE + 1, "character": 8}


def test_function_scope_reviews_only_the_function_around_the_range(start_server, tiny_gguf):
    outside = json.dumps([{"start_line": 1, "end_line": 1, "severity": "warning", "message": "unused import"},
                          json.loads(ANSWER)[0]])
    client = start_scripted(start_server, tiny_gguf, {"answer": outside})
    client.open(URI, TEXT)
    cursor = {"start": {"line": 6, "character": 4}, "end": {"line": 6, "character": 4}}
    assert review(client, range=cursor, scope="function") == {"findings": 1}
    assert [d["range"]["start"]["line"] for d in diagnostics(client)] == [BUG_LINE]


def test_a_newer_review_supersedes_the_running_one(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER, "block_calls": [0]})
    client.open(URI, TEXT)
    arguments = {"command": "seekcode.review", "arguments": [{"uri": URI, "scope": "file"}]}
    first = client.request_async("workspace/executeCommand", arguments)
    wait_for_log(client, "scripted write call 0 started")
    second = client.request_async("workspace/executeCommand", arguments)
    assert client.result(first) == {"findings": 0, "superseded": True}
    assert client.result(second) == {"findings": 1}


def test_cancel_request_stops_a_review(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER, "block_calls": [0]})
    client.open(URI, TEXT)
    request = client.request_async("workspace/executeCommand",
                                   {"command": "seekcode.review", "arguments": [{"uri": URI}]})
    wait_for_log(client, "scripted write call 0 started")
    client.notify("$/cancelRequest", {"id": request})
    assert client.response(request)["error"]["code"] == -32800  # RequestCancelled
    assert review(client, scope="file") == {"findings": 1}  # the next review runs normally


def test_cancel_from_the_progress_report_stops_a_review(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER, "block_calls": [0]})
    client.open(URI, TEXT)
    request = client.request_async("workspace/executeCommand",
                                   {"command": "seekcode.review", "arguments": [{"uri": URI}]})
    begin = client.wait_notification(
        "$/progress", 60, lambda m: m["params"]["value"].get("title") == "seekcode: reviewing")
    assert begin["params"]["value"]["cancellable"] is True
    wait_for_log(client, "scripted write call 0 started")
    client.notify("window/workDoneProgress/cancel", {"token": begin["params"]["token"]})
    assert client.result(request) == {"findings": 0, "cancelled": True}


def test_a_completion_is_not_delayed_by_a_running_review(start_server, tiny_gguf):
    # The review's first run blocks until aborted: only preemption lets the completion through.
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER, "block_calls": [0]})
    client.open(URI, TEXT)
    review_request = client.request_async("workspace/executeCommand",
                                          {"command": "seekcode.review", "arguments": [{"uri": URI}]})
    wait_for_log(client, "scripted write call 0 started")
    completion = client.inline_async(URI, 9, 16)
    assert "items" in client.result(completion)
    assert client.result(review_request) == {"findings": 1}  # the review ran again after it


@pytest.mark.parametrize("trigger, reviewed", [("onSave", True), ("onDemand", False), ("off", False)])
def test_review_trigger_setting(start_server, tiny_gguf, trigger, reviewed):
    client = start_scripted(start_server, tiny_gguf, {"answer": ANSWER}, options={"review": {"trigger": trigger}})
    client.open(URI, TEXT)
    client.notify("textDocument/didSave", {"textDocument": {"uri": URI}})
    if reviewed:
        assert diagnostics(client)[0]["source"] == "seekcode"
    client.request("textDocument/codeAction", {  # a round trip: the save has been handled
        "textDocument": {"uri": URI},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": []},
    })
    log = client.log_path.read_text(encoding="utf-8")
    assert ("(save, scope file)" in log) is reviewed


def test_bad_arguments_are_invalid_params(start_server, tiny_gguf):
    client = start_scripted(start_server, tiny_gguf, {})
    with pytest.raises(LspError) as error:
        review(client, uri="file:///not/open.py")
    assert error.value.code == -32602 and "not open" in error.value.message
    with pytest.raises(LspError) as error:
        client.open(URI, TEXT)
        review(client, scope="everything")
    assert error.value.code == -32602 and "scope" in error.value.message


def test_the_first_review_calibrates_the_real_model_once_with_progress(start_server, tiny_gguf, tmp_path):
    """The real tiny GGUF (nothing scripted): the first review runs the model's calibration,
    reported on the review's progress, and caches it; the next review uses the cache."""
    cache = tmp_path / "cache"
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "8"],
                          env={"SEEKCODE_CACHE_DIR": str(cache)})
    client.initialize()
    client.wait_model_ready()
    client.open(URI, TEXT)

    def calibrating():
        return [n for n in client.notifications if n["method"] == "$/progress"
                and "calibrating the review" in n["params"]["value"].get("message", "")]

    answer = client.request("workspace/executeCommand",
                            {"command": "seekcode.review", "arguments": [{"uri": URI, "scope": "file"}]}, timeout=600)
    assert "findings" in answer
    reports = calibrating()
    assert reports, "the calibration reported progress"
    percentages = [n["params"]["value"]["percentage"] for n in reports]
    assert percentages == sorted(percentages) and 0 <= percentages[0] and percentages[-1] <= 100
    [stored] = list((cache / "review-calibration").glob("*.json"))
    assert json.loads(stored.read_text())["functions"] > 0
    before = len(reports)
    client.request("workspace/executeCommand",
                   {"command": "seekcode.review", "arguments": [{"uri": URI, "scope": "file"}]}, timeout=600)
    assert len(calibrating()) == before  # read from the cache: no second calibration
