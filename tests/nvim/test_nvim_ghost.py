"""Ghost text in real Neovim 0.11 (the plugin's extmarks) and 0.12-dev (vim.lsp.inline_completion),
with the real server and the bundled model: shows after typing, Tab accepts, Tab indents otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def test_extmark_renderer_on_request(start_editor):
    """ghost_text = 'extmark' uses the plugin's own renderer on 0.12 too (the 0.11 one)."""
    editor = start_editor(ghost_text="extmark")
    assert not editor.uses_builtin()
    editor.open("demo.py", DEMO)
    before = editor.lines()
    type_at_end_of(editor, DEMO_LINE, "i")
    suggestion = editor.wait_suggestion()
    assert len(editor.ghost_extmarks()) == 1
    editor.nvim.input("<Tab>")
    expected = before[: DEMO_LINE - 1] + (before[DEMO_LINE - 1] + "i" + suggestion).split("\n")
    editor.wait(lambda: editor.lines() == expected, "the accepted suggestion in the buffer")


@pytest.mark.parametrize("before", ["items = [", 'noms = ["é", "ö", '], ids=["ascii", "accents"])
def test_text_after_the_cursor_stays_visible(editor, before):
    """A closing bracket after the cursor: the suggestion is drawn inline before it, not over it; with
    é and ö earlier on the line (two bytes each in Neovim) it lands at the cursor too."""
    source = f"def squares(n):\n    result = []\n    return [x * x for x in range(n)]\n\n\n{before}]\n"
    editor.open("brackets.py", source)
    editor.nvim.funcs.cursor(6, len(before.encode()) + 1)  # on the `]`
    editor.nvim.input("ix")
    suggestion = editor.wait_suggestion()
    _, row, col, details = editor.ghost_extmarks()[0]
    assert (row, col) == (5, len((before + "x").encode()))
    # Neovim 0.12 draws a ranged item as an overlay; the plugin drops the server's empty range.
    assert details["virt_text_pos"] == "inline"
    first = suggestion.split("\n")[0]
    assert editor.screen_row(6) == before + "x" + first + "]"

    editor.nvim.input("<Tab>")
    expected = source.splitlines()[:5] + (before + "x" + suggestion + "]").split("\n")
    editor.wait(lambda: editor.lines() == expected, "the suggestion inserted before the bracket")


def test_accept_word_then_line(editor):
    editor.open("demo.py", DEMO)
    base = editor.lines()[DEMO_LINE - 1] + "i"
    type_at_end_of(editor, DEMO_LINE, "i")
    suggestion = editor.wait_suggestion()
    word = editor.lua("return require('seekcode.text').part(..., 'word')", suggestion)
    assert word and suggestion.startswith(word) and word != suggestion

    editor.nvim.input("<M-w>")
    editor.wait(lambda: editor.lines()[DEMO_LINE - 1] == base + word, "the first word accepted")
    # The rest shows again, from the server's cache (type-through), not a new guess.
    rest = editor.wait(editor.suggestion, "the rest of the suggestion")
    assert rest == suggestion[len(word):]

    line = editor.lua("return require('seekcode.text').part(..., 'line')", rest)
    editor.nvim.input("<M-l>")
    editor.wait(lambda: editor.lines()[DEMO_LINE - 1] == base + word + line, "the line accepted")
    assert len(editor.lines()) == DEMO_LINE
    assert editor.nvim.api.get_mode()["mode"] == "i"


def test_dismiss_hides_without_editing(editor):
    editor.open("demo.py", DEMO)
    type_at_end_of(editor, DEMO_LINE, "i")
    suggestion = editor.wait_suggestion()
    lines = editor.lines()
    editor.nvim.input("<M-]>")  # one item: next shows the same one again
    editor.wait(lambda: editor.suggestion() == suggestion, "the same suggestion after next")
    editor.nvim.input("<C-]>")
    editor.wait(lambda: not editor.ghost_extmarks(), "the suggestion dismissed")
    assert editor.lines() == lines
    assert editor.nvim.api.get_mode()["mode"] == "i"
    editor.nvim.input("<Tab>")  # nothing shows now: <Tab> inserts a tab again
    editor.wait(lambda: editor.lines()[DEMO_LINE - 1] != lines[DEMO_LINE - 1], "<Tab> after dismiss")
    assert editor.lines()[DEMO_LINE - 1].startswith(lines[DEMO_LINE - 1])
    assert editor.lines()[DEMO_LINE - 1][len(lines[DEMO_LINE - 1]):].strip() == ""


def test_tab_indents_when_no_suggestion_shows(editor):
    editor.open("indent.py", "x = 1\n")
    editor.nvim.command("setlocal expandtab shiftwidth=4 softtabstop=4 noautoindent indentexpr=")
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
    editor.nvim.input("Goalp<C-n>")
    editor.wait(lambda: editor.nvim.funcs.pumvisible() == 1, "the completion menu")
    editor.nvim.input("<Tab>")
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
    assert editor.lua("return #vim.lsp.get_clients({bufnr = vim.fn.bufnr(...)})", str(other)) == 1
    log = Path(editor.lua("return vim.lsp.log.get_filename()")).read_text(errors="replace")
    sent = [line for line in log.splitlines()
            if '"rpc.send"' in line and 'method = "textDocument/inlineCompletion"' in line]
    uris = [re.search(r'uri = "([^"]+)"', line).group(1) for line in sent]
    assert uris, "no inlineCompletion request found in the LSP log"
    assert set(uris) == {(editor.workspace / "demo.py").as_uri()}, uris
