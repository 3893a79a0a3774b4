"""Where the cursor rests in Normal mode, the plugin tells the server (seekcode/cursor), and the real
server evaluates the prompt at exactly that place before anything is typed.

The server is tests.lsp.traced_server (the real server, plus a log line when a prefill ends), on the
bundled model; the test waits for log lines, never for a duration."""

from __future__ import annotations

import re
import sys

SOURCE = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(30))
TARGET_LINE = 41  # 1-based: `def helper_10(value):`
TRACED = [sys.executable, "-m", "tests.lsp.traced_server", "-m", "lsp_server", "--threads", "1"]


def offset_of_line(line: int) -> int:
    return sum(len(text) + 1 for text in SOURCE.split("\n")[: line - 1])


def prefills(editor) -> list[int]:
    return [int(offset) for offset in re.findall(r"prefill at offset (\d+) ended", editor.server_log())]


def test_a_resting_cursor_is_prefilled_by_the_server(start_editor):
    editor = start_editor(cmd=TRACED)
    editor.open("helpers.py", SOURCE)
    editor.wait(lambda: "loaded " in editor.server_log(), "the model to load")
    editor.nvim.input(f"{TARGET_LINE}G0")
    editor.wait(lambda: offset_of_line(TARGET_LINE) in prefills(editor), "a prefill where the cursor rests")
    assert editor.lua("return require('seekcode.cursor').sent") >= 1

    sent = editor.lua("return require('seekcode.cursor').sent")
    editor.nvim.input("$")  # along the same line: nothing new to tell
    editor.nvim.command("sleep 500m")  # longer than the rest the plugin waits for
    assert editor.lua("return require('seekcode.cursor').sent") == sent
    editor.nvim.input(f"{TARGET_LINE + 4}G0")
    editor.wait(lambda: offset_of_line(TARGET_LINE + 4) in prefills(editor), "a prefill at the next place")
    assert editor.lua("return require('seekcode.cursor').sent") == sent + 1


def test_cursor_rest_ms_false_sends_nothing(start_editor):
    editor = start_editor(cmd=TRACED, cursor_rest_ms=False)
    editor.open("helpers.py", SOURCE)
    editor.wait(lambda: "loaded " in editor.server_log(), "the model to load")
    editor.nvim.input(f"{TARGET_LINE}G0")
    editor.nvim.command("sleep 500m")  # longer than the default rest; nothing may be sent
    assert editor.lua("return require('seekcode.cursor').sent") == 0
