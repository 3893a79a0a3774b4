"""A GGUF with hostile metadata, loaded by the real server and by `seekcode-lsp doctor`.

Made from the bundled model (written by our converter) with gguf-py's writer
(hostile_gguf.py): a 1 MB `general.name` full of ANSI escapes and control characters, a chat
template that refuses every conversation with the same kind of text (so it reaches the
docstring and tests answers, the log and the doctor), and, in a second file, a name that is
not UTF-8 at all. Everything the server sends the editor, its log, its stderr and the
doctor's output must be escaped (no ESC, no other control character but newline and tab)
and capped; a log line cannot be forged; the non-UTF-8 file keeps its metadata.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server.display import MESSAGE_LIMIT, contains_unsafe
from tests.hardening.hostile_gguf import ANSI, MEGABYTE, hostile_copy, hostile_text
from tests.lsp.lsp_client import REPO_ROOT, LspClient

REFUSAL = "the model's chat template refused the messages: "
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [\w.]+ [A-Z]+ ")
FORGED = "2026-01-01 lsp_server INFO all good"


def refusing_template(text: str) -> str:
    return "{{ raise_exception('" + text.replace("'", "").replace("\\", "") + "') }}"


@pytest.fixture(scope="module")
def hostile_model(bundled_model, tmp_path_factory):
    return hostile_copy(bundled_model, tmp_path_factory.mktemp("gguf") / "hostile.gguf", {
        "general.name": hostile_text(),
        "general.description": hostile_text(4096),
        "tokenizer.chat_template": refusing_template(hostile_text()),
    })


@pytest.fixture(scope="module")
def not_utf8_model(bundled_model, tmp_path_factory):
    return hostile_copy(bundled_model, tmp_path_factory.mktemp("gguf") / "not-utf8.gguf", {
        # invalid bytes, then a UTF-16 surrogate spelled in UTF-8 (which UTF-8 forbids)
        "general.name": b"bad\xff\xfe name \xed\xa0\x80" + ANSI.encode(),
        "tokenizer.chat_template": refusing_template("not-utf8 template read"),
    })


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def assert_safe_log(log: str) -> None:
    assert not contains_unsafe(log) and "\x1b" not in log
    assert len(log) < MEGABYTE  # every record was capped: the 1 MB strings appear several times
    for line in log.splitlines():
        assert LOG_LINE.match(line) or line.startswith("  "), f"a line that is no record: {line[:120]!r}"
        assert not line.startswith(FORGED)


def run_server(tmp_path: Path, model: Path) -> tuple[dict, LspClient]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    client = LspClient(["--model", str(model), "--threads", "1", "--max-tokens", "8"],
                       env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache")},
                       log_path=tmp_path / "server.log")
    client.configuration = {"review": {"trigger": "onDemand"}}
    answers = {}
    try:
        client.request("initialize", {
            "processId": os.getpid(), "rootUri": workspace.as_uri(),
            "capabilities": {"window": {"workDoneProgress": True}, "textDocument": {"inlineCompletion": {}},
                             "workspace": {"configuration": True, "applyEdit": True,
                                           "workspaceEdit": {"documentChanges": True}}},
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}]})
        client.notify("initialized", {})
        client.wait_model_ready()
        uri = (workspace / "calc.py").as_uri()
        client.open(uri, (workspace / "calc.py").read_text())
        argument = {"uri": uri, "position": {"line": 0, "character": 5}}
        for command in ("seekcode.generateDocstring", "seekcode.generateTests"):
            answers[command] = client.request("workspace/executeCommand", {"command": command, "arguments": [argument]}, 300)
        answers["review"] = client.request("workspace/executeCommand", {
            "command": "seekcode.review", "arguments": [{"uri": uri, "scope": "file"}]}, 300)
        answers["inline"] = client.inline(uri, 1, 14)
    finally:
        assert client.shutdown() == 0
    return answers, client


def test_the_server_shows_hostile_metadata_escaped_and_capped(hostile_model, tmp_path):
    answers, client = run_server(tmp_path, hostile_model)
    for command in ("seekcode.generateDocstring", "seekcode.generateTests"):
        message = answers[command]["message"]
        assert answers[command]["applied"] is False
        assert message.startswith(REFUSAL + "evil\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07"), message[:200]
        assert re.search(r"… \(\d+ more characters\)$", message) and len(message) < MESSAGE_LIMIT + 40
    assert "items" in answers["inline"] and isinstance(answers["review"]["findings"], int)
    sent = [answers, client.notifications, client.server_requests]
    assert not [text for text in strings_in(sent) if contains_unsafe(text)]
    assert "\x1b" not in json.dumps(sent, ensure_ascii=False)
    assert_safe_log((tmp_path / "server.log").read_text("utf-8"))
    assert "\x1b" not in client.stderr_text()


def doctor(model: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", "doctor", "--model", str(model), "--threads", "1"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SEEKCODE_MODEL": ""})


def test_doctor_prints_the_hostile_name_escaped_and_capped(hostile_model):
    completed = doctor(hostile_model)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = completed.stdout + completed.stderr
    assert not contains_unsafe(output) and "\x1b" not in output
    assert max(len(line) for line in output.splitlines()) < MESSAGE_LIMIT
    name = next(line for line in completed.stdout.splitlines() if line.startswith("  name: "))
    assert name.startswith("  name: evil\\x1b[2J") and name.endswith("more characters)")


def test_metadata_that_is_not_utf8_is_kept_not_dropped(not_utf8_model, tmp_path):
    """llama-cpp-python drops all metadata when one string is not UTF-8; the server reads it
    itself, so the chat template still drives the docstring (here: refuses, with its text)."""
    answers, client = run_server(tmp_path, not_utf8_model)
    assert answers["seekcode.generateDocstring"] == {"applied": False, "message": REFUSAL + "not-utf8 template read"}
    assert_safe_log((tmp_path / "server.log").read_text("utf-8"))
    completed = doctor(not_utf8_model)
    assert completed.returncode == 0
    assert "  name: bad\ufffd\ufffd name \ufffd\ufffd\ufffd\\x1b[2J" in completed.stdout
    assert not contains_unsafe(completed.stdout + completed.stderr)


def test_a_string_length_past_the_end_of_the_file_is_a_bad_header_not_an_allocation(tmp_path):
    import struct

    from lsp_server.backend.gguf_header import GgufHeaderError, read_metadata, read_metadata_text

    path = tmp_path / "huge-length.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"general.name")
    for read in (lambda: read_metadata(path, {"general.name"}), lambda: read_metadata_text(path)):
        with pytest.raises(GgufHeaderError, match="longer than the file"):
            read()
