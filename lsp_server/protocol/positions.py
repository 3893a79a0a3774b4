"""LSP positions <-> Python str offsets, the one place where encodings are handled.

An LSP `Position` is (line, character) where `character` counts code units of the
negotiated position encoding: UTF-16 code units by default (an emoji outside the BMP
is 2 units, a CJK ideograph 1), UTF-8 bytes or UTF-32 code points when negotiated.
Python strings index code points, so UTF-32 is the identity.

Line terminators are `\\n`, `\\r\\n` and `\\r`, as the LSP specification says.

Out-of-range handling (documented choice, following the specification):
- `character` past the end of its line clamps to the line's length (the spec says it
  "defaults back to the line length").
- a `character` that falls inside a multi-unit character (half a surrogate pair, the
  middle of a UTF-8 sequence) snaps back to the start of that character.
- `line` past the last line raises `PositionError`; the protocol layer answers that
  request with an InvalidParams error.
- negative numbers raise `PositionError`.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass


class PositionEncoding(str, enum.Enum):
    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"


class PositionError(ValueError):
    """A position that does not exist in the document (line past the end, negative)."""


@dataclass(frozen=True)
class Position:
    line: int
    character: int


def line_start_offsets(text: str) -> list[int]:
    """Offsets where each line starts; the text always has at least one line."""
    starts = [0]
    index = 0
    length = len(text)
    while True:
        newline = _next_terminator(text, index)
        if newline < 0:
            return starts
        index = newline + (2 if text.startswith("\r\n", newline) else 1)
        starts.append(index)
        if index >= length:
            return starts


def _next_terminator(text: str, start: int) -> int:
    lf = text.find("\n", start)
    cr = text.find("\r", start, lf if lf >= 0 else len(text))
    return cr if cr >= 0 else lf


def _line_content_end(text: str, starts: list[int], line: int) -> int:
    """Offset just past the last character of `line`, excluding its terminator."""
    if line + 1 < len(starts):
        end = starts[line + 1]
        if text.startswith("\r\n", end - 2) and end - 2 >= starts[line]:
            return end - 2
        return end - 1
    return len(text)


def code_units(char: str, encoding: PositionEncoding) -> int:
    """Width of one code point in the encoding's units."""
    code_point = ord(char)
    if encoding is PositionEncoding.UTF16:
        return 2 if code_point > 0xFFFF else 1
    if encoding is PositionEncoding.UTF8:
        if code_point < 0x80:
            return 1
        if code_point < 0x800:
            return 2
        return 3 if code_point < 0x10000 else 4
    return 1


def _units_to_code_points(line_text: str, units: int, encoding: PositionEncoding) -> int:
    """How many code points of `line_text` fit in `units`; clamps to the line length."""
    if encoding is PositionEncoding.UTF32:
        return min(units, len(line_text))
    if encoding is PositionEncoding.UTF16 and line_text.isascii():
        return min(units, len(line_text))
    consumed = 0
    for index, char in enumerate(line_text):
        consumed += code_units(char, encoding)
        if consumed > units:
            return index
    return len(line_text)


def _code_points_to_units(line_text: str, encoding: PositionEncoding) -> int:
    if encoding is PositionEncoding.UTF32:
        return len(line_text)
    if encoding is PositionEncoding.UTF8:
        return len(line_text.encode("utf-8", "surrogatepass"))
    return len(line_text.encode("utf-16-le", "surrogatepass")) // 2


class LineIndex:
    """Line starts of one text, computed once, for repeated conversions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = line_start_offsets(text)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        self._check_line(line)
        return self.text[self.starts[line] : _line_content_end(self.text, self.starts, line)]

    def offset_at(self, position: Position, encoding: PositionEncoding) -> int:
        """The str offset of an LSP position (see the module docstring for clamping)."""
        if position.character < 0:
            raise PositionError(f"character {position.character} is negative; positions count from 0.")
        self._check_line(position.line)
        line_text = self.line_text(position.line)
        return self.starts[position.line] + _units_to_code_points(line_text, position.character, encoding)

    def position_at(self, offset: int, encoding: PositionEncoding) -> Position:
        """The LSP position of a str offset; offsets inside a `\\r\\n` map to the line end."""
        if not 0 <= offset <= len(self.text):
            raise PositionError(f"offset {offset} is outside the document (length {len(self.text)}).")
        line = bisect.bisect_right(self.starts, offset) - 1
        line_end = _line_content_end(self.text, self.starts, line)
        line_prefix = self.text[self.starts[line] : min(offset, line_end)]
        return Position(line, _code_points_to_units(line_prefix, encoding))

    def _check_line(self, line: int) -> None:
        if line < 0:
            raise PositionError(f"line {line} is negative; positions count from 0.")
        if line >= len(self.starts):
            raise PositionError(
                f"line {line} is past the end of the document, which has {len(self.starts)} lines (0-based)."
            )


def offset_at(text: str, position: Position, encoding: PositionEncoding = PositionEncoding.UTF16) -> int:
    return LineIndex(text).offset_at(position, encoding)


def position_at(text: str, offset: int, encoding: PositionEncoding = PositionEncoding.UTF16) -> Position:
    return LineIndex(text).position_at(offset, encoding)


def negotiate_encoding(client_offers: list[str] | None) -> PositionEncoding:
    """The client's most preferred encoding we support; UTF-16 when it offers none.

    The client lists `general.positionEncodings` in order of preference; UTF-16 is
    mandatory for every LSP client, so it is the fallback.
    """
    for offered in client_offers or []:
        try:
            return PositionEncoding(offered)
        except ValueError:
            continue
    return PositionEncoding.UTF16
