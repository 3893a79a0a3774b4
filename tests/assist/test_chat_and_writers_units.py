"""Small pure pieces of the writers: hole text cleaning, whole sentences, GBNF literals, line stops."""

from __future__ import annotations

from lsp_server.backend.base import StopReason
from lsp_server.engine.chat import grammar_literal, render_chat
from lsp_server.features.docstring import clean_fill
from lsp_server.features.writers import LineStop, whole_sentences


def test_clean_fill_keeps_one_line_of_text_and_stops_at_a_closing_quote():
    assert clean_fill("\n    Return the   sum.\nmore") == "Return the sum."
    assert clean_fill('Return x."""\n    return x') == "Return x."
    assert clean_fill("The value. */ int x;") == "The value."
    assert clean_fill('   """   ') == ""


def test_cut_off_lines_end_at_their_last_sentence():
    assert whole_sentences("First one. Second is cut", StopReason.MAX_TOKENS) == "First one."
    assert whole_sentences("no sentence end at all, cut", StopReason.MAX_TOKENS) == "no sentence end at all."
    assert whole_sentences("Complete line\n", StopReason.END_OF_GENERATION) == "Complete line\n"


def test_line_stop_skips_leading_newlines():
    stop = LineStop()
    assert not stop.feed("\n")
    assert not stop.feed("   Return")
    assert stop.feed(" x.\n")


def test_grammar_literal_escapes():
    assert grammar_literal('a "b"\n\\') == '"a \\"b\\"\\n\\\\"'


def test_render_chat_passes_bos_and_eos():
    template = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{{ eos_token }}{% endfor %}"
    assert render_chat(template, [{"role": "user", "content": "hi"}], bos_token="<s>", eos_token="</s>") == "<s>[user]hi</s>"
