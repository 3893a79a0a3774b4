"""Lone surrogates are legal in LSP text (JSON strings may hold them) but not in UTF-8.

Found by the edit fuzzer with the bundled model: a multi-line suggestion after a document
holding one made the syntax-block filter raise UnicodeEncodeError (an InternalError to the
editor). The filter must work on such text, and count characters the same way.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.block_syntax import syntax_block_end


def test_syntax_block_end_with_lone_surrogates_around_the_cursor():
    prefix = "bad = '\ud800'\ndef f():\n"
    text = "    return 1\nprint('\udfff')\n"
    suffix = "\nx = '\udc00'\n"
    clean = syntax_block_end(prefix.replace("\ud800", "?"), text.replace("\udfff", "?"), suffix.replace("\udc00", "?"), "python")
    assert syntax_block_end(prefix, text, suffix, "python") == clean
    assert clean is not None and text[:clean].rstrip() == "    return 1"
