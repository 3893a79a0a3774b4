"""A reference model of an LSP text document, written from the specification, not from the server.

Lines end at `\\r\\n`, `\\r` or `\\n`; a position's character counts UTF-16 code units;
a character past the line's end clamps to it, one inside a surrogate pair snaps back to the
pair's start; a line past the end makes the server drop its copy (it closes the document
rather than guess, see `protocol/jsonrpc.py`), so the model drops it too. The fuzzer
compares the server's text with this after every sequence.
"""

from __future__ import annotations

import json
import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def wire(text: str) -> str:
    """`text` as the server holds it after a JSON round trip (adjacent surrogates join)."""
    return json.loads(json.dumps(text))


class ModelDocument:
    def __init__(self, text: str) -> None:
        self.text = wire(text)
        self.open = True

    def lines(self) -> list[tuple[int, int]]:
        """(start, content end) of every line; a text always has at least one line."""
        spans, start = [], 0
        for match in LINE_BREAK.finditer(self.text):
            spans.append((start, match.start()))
            start = match.end()
        spans.append((start, len(self.text)))
        return spans

    def line_units(self, line: int) -> int:
        start, end = self.lines()[line]
        return sum(2 if ord(char) > 0xFFFF else 1 for char in self.text[start:end])

    def offset(self, line: int, character: int) -> int | None:
        spans = self.lines()
        if line >= len(spans):
            return None
        start, end = spans[line]
        units = 0
        for index in range(start, end):
            width = 2 if ord(self.text[index]) > 0xFFFF else 1
            if units + width > character:
                return index
            units += width
        return end

    def apply(self, changes: list[dict]) -> None:
        """One didChange's contentChanges, in order; an impossible range drops the document."""
        if not self.open:
            return
        for change in changes:
            new_text = wire(change["text"])
            if "range" not in change:
                self.text = new_text
                continue
            start, end = change["range"]["start"], change["range"]["end"]
            start_offset = self.offset(start["line"], start["character"])
            end_offset = self.offset(end["line"], end["character"])
            if start_offset is None or end_offset is None:
                self.open = False
                return
            if end_offset < start_offset:
                start_offset, end_offset = end_offset, start_offset
            self.text = self.text[:start_offset] + new_text + self.text[end_offset:]
