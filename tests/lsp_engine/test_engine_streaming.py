"""StreamingStop: stops as soon as the suggestion is complete, never earlier than the
pipeline would cut."""

from __future__ import annotations

import pytest

from lsp_server.engine.postprocess import Context, StreamingStop, postprocess

from tests.lsp_engine.cursor import split_at_cursor


def feed_until_stop(context: Context, raw: str, piece_size: int = 3) -> StreamingStop:
    stop = StreamingStop(context)
    for start in range(0, len(raw), piece_size):
        if stop.feed(raw[start : start + piece_size]):
            break
    return stop


def make_context(document: str, language: str = "python") -> Context:
    prefix, suffix = split_at_cursor(document)
    return Context.create(prefix, suffix, language, ("<|endoftext|>", "<|file_sep|>"))


STREAM_CASES = [
    # (document, raw model output, reason, how much of the raw text is generated at most)
    ("x = compute(║)\n", "a, b)\ny = 2\nz = 3\n", "end of line", len("a, b)\ny")),
    ("def add(a, b):║\n\nx = 1\n", "\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n", "end of block", 22),
    ("if (x) {║\n", "\n  a();\n}\nb();\nc();\n", "end of block", len("\n  a();\n}\nb") + 2),
    ("y = ║\n", "1<|endoftext|>more text", "special token", len("1<|endoftext|>") + 2),
    ("def f():\n    ║\n    return total\n", "total = 0\n    for x in xs:\n        total += x\n    return total\n    more\n", None, None),
    ("def f():\n    ║\n", "log()\n    log()\n    log()\n    log()\n    log()\n    log()\n", "repetition", 40),
]


@pytest.mark.parametrize(("document", "raw", "reason", "limit"), STREAM_CASES)
def test_stops_early_and_agrees_with_the_pipeline(document: str, raw: str, reason: str | None, limit: int | None) -> None:
    context = make_context(document, "javascript" if "{" in document else "python")
    stop = feed_until_stop(context, raw)
    if reason is None:
        assert stop.reason in (None, "reached the next line")
    else:
        assert stop.reason == reason
        assert len(stop.text) <= limit
    assert postprocess(stop.text, context) == postprocess(raw, context)


def test_reaching_the_next_line_stops() -> None:
    context = make_context("def f():\n    ║\n    return total\n")
    raw = "total = sum(xs)\n    return total\n    x = 1\n"
    stop = feed_until_stop(context, raw, piece_size=1)
    assert stop.reason == "reached the next line"
    assert postprocess(stop.text, context) == "total = sum(xs)"


def test_partial_closing_word_is_awaited() -> None:
    """After an opener, a line at the opener's level that may become `end` is not cut yet."""
    context = make_context("items.each do║\n", "ruby")
    stop = StreamingStop(context)
    assert not stop.feed("\n  work\ne")
    assert not stop.feed("n")


def test_feed_after_stop_keeps_saying_stop() -> None:
    context = make_context("x = ║\n")
    stop = StreamingStop(context)
    assert stop.feed("1\n")
    assert stop.feed("more")
    assert stop.text == "1\n"
