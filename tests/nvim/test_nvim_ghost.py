"""Ghost text in real Neovim 0.11 (the plugin's extmarks) and 0.12-dev (vim.lsp.inline_completion),
with the real server and the bundled model: shows after typing, Tab accepts, Tab indents otherwise."""

from __future__ import annotations

import json
from pathlib import Path

DEMO = (Path(__file__).resolve().parents[2] / "examples" / "demo.py").read_text(encoding="utf-8")
DEMO_LINE = 13  # `        ` inside the for loop of main(); the README's `make demo` position


def type_at_end_of(editor, line: int, keys: str) -> None:
    editor.nvim.funcs.cursor(line, 1)
    editor.nvim.input("A" + keys)


def test_ghost_text_appears_as_extmark_and_tab_accepts(editor):
    editor.open("demo.py", DEMO)
    before = editor.lines()
    type_at_end_of(editor, DEMO_LINE, "i")
    suggestion = editor.wait_suggestion()
    assert suggestion.strip(), "an empty suggestion should not be shown"

    marks = editor.ghost_extmarks()
    assert len(marks) == 1
    _, row, col, details = marks[0]
    assert (row + 1, col) == editor.cursor()
    assert details["virt_text_pos"] == "inline"
    assert "".join(chunk[0] for chunk in details["virt_text"]) == suggestion.split("\n")[0]

    editor.nvim.input("<Tab>")
    expected_line = before[DEMO_LINE - 1] + "i" + suggestion
    expected = before[: DEMO_LINE - 1] + expected_line.split("\n") + before[DEMO_LINE:]
    editor.wait(lambda: editor.lines() == expected, "the accepted suggestion in the buffer")
    last_row = DEMO_LINE + suggestion.count("\n")
    assert editor.cursor() == (last_row, len(expected[last_row - 1].encode()))
    assert editor.nvim.api.get_mode()["mode"] == "i"


def test_text_after_the_cursor_stays_visible(editor):
    """A closing bracket after the cursor: the suggestion is drawn inline before it, not over it."""
    source = "def squares(n):\n    result = []\n    return [x * x for x in range(n)]\n\n\nitems = []\n"
    editor.open("brackets.py", source)
    editor.nvim.funcs.cursor(6, 10)  # between `[` and `]`
    editor.nvim.input("ix")
    suggestion = editor.wait_suggestion()
    _, row, col, details = editor.ghost_extmarks()[0]
    assert details["virt_text_pos"] == "inline"
    first = suggestion.split("\n")[0]
    assert editor.screen_row(6) == "items = [x" + first + "]"

    editor.nvim.input("<Tab>")
    editor.wait(lambda: editor.lines()[5] == "items = [x" + suggestion.split("\n")[0] + "]"
                or editor.lines()[5].endswith("]") and "x" + first in editor.lines()[5],
                "the suggestion inserted before the bracket")
    assert editor.lines()[5] == "items = [x" + first + ("]" if "\n" not in suggestion else "")


def test_accept_word_then_line_then_dismiss(editor):
    editor.open("demo.py", DEMO)
    before = editor.lines()
    type_at_end_of(editor, DEMO_LINE, "i")
    suggestion = editor.wait_suggestion()
    word = editor.lua("return require('seekcode.text').part(..., 'word')", suggestion)
    assert word and word != suggestion

    editor.nvim.input("<M-w>")
    typed = before[DEMO_LINE - 1] + "i" + word
    editor.wait(lambda: editor.lines()[DEMO_LINE - 1] == typed, "the first word accepted")
    rest = editor.wait(lambda: editor.suggestion(), "the rest of the suggestion")
    line = editor.lua("return require('seekcode.text').part(..., 'line')", rest)
    editor.nvim.input("<M-l>")
    editor.wait(lambda: editor.lines()[DEMO_LINE - 1] == typed + line, "the line accepted")

    editor.wait(lambda: editor.suggestion() or editor.lines()[DEMO_LINE] != before[DEMO_LINE], "a next suggestion")
    if editor.suggestion():
        lines = editor.lines()
        editor.nvim.input("<C-]>")
        editor.wait(lambda: not editor.ghost_extmarks(), "the suggestion dismissed")
        assert editor.lines() == lines


def test_tab_indents_when_no_suggestion_shows(editor):
    editor.open("indent.py", "x = 1\n")
    editor.nvim.command("setlocal expandtab shiftwidth=4 softtabstop=4")
    # Insert mode and <Tab> in one batch of typeahead: nothing can show before the key is handled.
    editor.nvim.input("o<Tab>y")
    editor.wait(lambda: editor.lines()[1] == "    y", "<Tab> to indent the new line")

    editor.nvim.input("<Esc>")
    editor.nvim.command("SeekcodeToggle")
    editor.nvim.input("o<Tab><Tab>z")
    editor.wait(lambda: editor.lines()[2] == "        z", "<Tab> to indent with seekcode off")
    assert not editor.ghost_extmarks()


def test_tab_keeps_the_completion_menu_mapping(start_editor):
    """A <Tab> mapping made before setup() (the classic pumvisible() one) still runs when nothing shows."""
    editor = start_editor(before_setup=[r'inoremap <expr> <Tab> pumvisible() ? "\<C-n>" : "\<Tab>"'])
    editor.open("menu.py", "alpha_one = 1\nalpha_two = 2\n")
    editor.nvim.command("setlocal noexpandtab")
    editor.nvim.input("Goalp<C-n><Tab>")
    editor.wait(lambda: editor.lines()[2] == "alpha_two", "<Tab> to select the next menu item")
    editor.nvim.input("<C-e><Esc>o<Tab>w")
    editor.wait(lambda: editor.lines()[3] == "\tw", "<Tab> to insert a tab with no menu and no suggestion")


def test_two_buffers_one_request_per_trigger(editor):
    """Only the buffer being typed in is asked for a suggestion (checked on the wire, in the LSP log)."""
    editor.lua("vim.lsp.set_log_level('debug')")
    other = editor.open("other.py", "import os\n\n\ndef helper():\n    return os.getcwd()\n")
    editor.open("demo.py", DEMO)
    type_at_end_of(editor, DEMO_LINE, "i")
    editor.wait_suggestion()
    log = Path(editor.lua("return vim.lsp.log.get_filename()")).read_text(errors="replace")
    uris = [
        line.split('"uri":"', 1)[1].split('"', 1)[0]
        for line in log.splitlines()
        if '"method":"textDocument/inlineCompletion"' in line.replace(" ", "") and '"uri":"' in line.replace(" ", "")
    ]
    assert uris, "no inlineCompletion request found in the LSP log"
    assert all(uri.endswith("/demo.py") for uri in uris), uris
    assert not any(uri == other.as_uri() for uri in uris)
    json.dumps(uris)
