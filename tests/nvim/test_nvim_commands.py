"""Commands, health, statusline and restart in real Neovim 0.11 and 0.12-dev with the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "nvim"

FUNCTION = '''import math


def circle_area(radius):
    if radius < 0:
        raise ValueError("negative radius")
    return math.pi * radius ** 2
'''


def require_command(editor, command: str) -> None:
    if command not in editor.server_commands():
        pytest.skip(f"this server does not advertise {command} in executeCommandProvider yet (branch assist)")


def last_result(editor, command: str):
    return editor.lua("return require('seekcode.commands').last[...]", command)


def test_checkhealth_passes(editor):
    editor.open("health.py", "x = 1\n")
    editor.nvim.command("checkhealth seekcode")
    report = "\n".join(editor.lines())
    assert "seekcode" in report
    assert "server command:" in report
    assert "Python environment:" in report
    assert "model:" in report and "seekcode-coder-q8_0.gguf" in report
    assert "doctor" in report or "model loads" in report
    assert "ERROR" not in report, report


def test_checkhealth_checks_the_remote_server_when_one_is_set(start_editor):
    from tests.http.scripted_server import refused_url

    url = refused_url()
    editor = start_editor(settings={"threads": 1, "maxTokens": 24, "backend": {"url": url}})
    editor.open("health.py", "x = 1\n")
    editor.nvim.command("checkhealth seekcode")
    report = "\n".join(editor.lines())
    assert f"server: {url} (openai dialect)" in report  # doctor --url, not a local model load
    assert f"PROBLEM: The inference server at {url} is unreachable" in report
    assert "fix: start it or fix 'seekcode.backend.url'" in report


def test_statusline_toggle_and_restart(editor):
    editor.open("status.py", "x = 1\n")
    editor.wait(lambda: editor.lua("return require('seekcode').statusline()") == "seekcode", "the model to load")
    editor.nvim.command("SeekcodeToggle")
    assert editor.lua("return require('seekcode').statusline()") == "seekcode: off"
    editor.nvim.command("SeekcodeToggle")

    first = editor.lua("return require('seekcode.lsp').client().id")
    editor.nvim.command("SeekcodeRestart")
    editor.wait(lambda: editor.lua("local c = require('seekcode.lsp').client(); return c and c.initialized and c.id")
                not in (None, first), "a new client after :SeekcodeRestart")
    editor.nvim.funcs.cursor(1, 1)
    editor.nvim.input("A\nimport o")
    assert editor.wait_suggestion()


def test_setup_without_settings_sends_an_object(start_editor):
    """An empty settings table must reach the server as {} (vim.json makes [] of an empty table)."""
    editor = start_editor(settings={})
    editor.open("plain.py", "x = 1\n")
    editor.wait(lambda: editor.lua("return require('seekcode').statusline()") == "seekcode", "the model to load")
    assert not [note for note in editor.notes() if "initializationOptions" in note], editor.notes()
    assert "initializationOptions" not in editor.server_log()


def test_docstring_command_inserts_a_docstring(editor):
    editor.open("area.py", FUNCTION)
    require_command(editor, "seekcode.generateDocstring")
    before = editor.lines()
    editor.nvim.funcs.cursor(4, 5)
    editor.nvim.command("SeekcodeDocstring")
    result = editor.wait(lambda: last_result(editor, "seekcode.generateDocstring"), "the docstring command's answer")
    assert result.get("applied") is True, result
    lines = editor.lines()
    assert lines[:4] == before[:4]
    assert lines[4].lstrip().startswith(('"""', "'''")) and lines[4].startswith("    ")
    assert lines[-3:] == before[-3:]


def test_tests_command_writes_tests_or_says_why_not(editor):
    editor.open("area.py", FUNCTION)
    require_command(editor, "seekcode.generateTests")
    editor.nvim.funcs.cursor(4, 5)
    editor.nvim.command("SeekcodeTests")
    result = editor.wait(lambda: last_result(editor, "seekcode.generateTests"), "the tests command's answer")
    if result.get("applied"):
        texts = ["\n".join(buffer[:]) for buffer in editor.nvim.buffers]
        assert any("def test_" in text and "circle_area" in text for text in texts), texts
        assert "seekcode: tests inserted." in editor.notes()
    else:  # the small model's tests may not parse: the user is told why
        assert result.get("message") and f"seekcode: {result['message']}" in editor.notes()


def test_review_findings_become_diagnostics(editor):
    editor.open("review.py", FUNCTION)
    require_command(editor, "seekcode.review")
    editor.nvim.command("SeekcodeReview file")
    result = editor.wait(lambda: last_result(editor, "seekcode.review"), "the review command's answer")
    assert "findings" in result, result
    count = lambda: editor.lua(  # noqa: E731
        "local n = 0; for _, d in ipairs(vim.diagnostic.get(0)) do"
        " if d.source == 'seekcode' then n = n + 1 end end; return n")
    editor.wait(lambda: count() == result["findings"], "the findings as vim.diagnostic entries")
    rows = editor.lua("local r = {}; for _, d in ipairs(vim.diagnostic.get(0)) do r[#r+1] = d.lnum end; return r")
    assert all(0 <= row < len(editor.lines()) for row in rows)


def test_commands_need_a_server_that_offers_them(editor):
    editor.nvim.command("enew")
    editor.nvim.command("SeekcodeDocstring")  # no client attached: a warning, no error
    assert editor.lua("return require('seekcode.commands').last['seekcode.generateDocstring']") is None


def test_setup_after_startup_defines_commands(nvim_binary, tmp_path, monkeypatch):
    """lazy.nvim and vim.pack put nvim/ on 'runtimepath' after startup: setup() defines the commands."""
    pynvim = pytest.importorskip("pynvim")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    nvim = pynvim.attach("child", argv=[str(nvim_binary), "--embed", "--headless", "--clean", "-n"])
    try:
        nvim.exec_lua("vim.opt.rtp:append(...)", str(PLUGIN))
        assert nvim.funcs.exists(":SeekcodeReview") == 0
        nvim.exec_lua("require('seekcode').setup({ cmd = { 'seekcode-lsp-not-installed' } })")
        for command in ("SeekcodeDocstring", "SeekcodeTests", "SeekcodeReview", "SeekcodeToggle",
                        "SeekcodeRestart", "SeekcodeLog"):
            assert nvim.funcs.exists(":" + command) == 2, command
        nvim.command("checkhealth seekcode")
        report = "\n".join(nvim.current.buffer[:])
        assert "server command not found: seekcode-lsp-not-installed" in report
    finally:
        nvim.close()
