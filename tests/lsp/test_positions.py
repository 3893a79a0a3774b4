"""UTF-16/8/32 position conversion, clamping and line terminators."""

import pytest
from hypothesis import given, strategies as st

from lsp_server.protocol.positions import (
    LineIndex,
    Position,
    PositionEncoding,
    PositionError,
    negotiate_encoding,
)

UTF16 = PositionEncoding.UTF16
UTF8 = PositionEncoding.UTF8
UTF32 = PositionEncoding.UTF32

EMOJI_LINE = "x = '😀' + y"  # the emoji is 2 UTF-16 units, 4 UTF-8 bytes, 1 code point
CJK_LINE = "名前 = '漢字'"  # each ideograph is 1 UTF-16 unit, 3 UTF-8 bytes


def test_emoji_counts_two_utf16_units():
    index = LineIndex("first\n" + EMOJI_LINE + "\n")
    after_emoji = len("first\n") + EMOJI_LINE.index("😀") + 1
    assert index.offset_at(Position(1, 7), UTF16) == after_emoji
    assert index.position_at(after_emoji, UTF16) == Position(1, 7)
    assert index.position_at(after_emoji, UTF8) == Position(1, 9)
    assert index.position_at(after_emoji, UTF32) == Position(1, 6)


def test_cjk_counts_one_utf16_unit_three_utf8_bytes():
    index = LineIndex(CJK_LINE)
    assert index.offset_at(Position(0, 2), UTF16) == 2
    assert index.offset_at(Position(0, 6), UTF8) == 2
    assert index.position_at(2, UTF8) == Position(0, 6)


def test_inside_surrogate_pair_snaps_to_character_start():
    index = LineIndex(EMOJI_LINE)
    assert index.offset_at(Position(0, 6), UTF16) == EMOJI_LINE.index("😀")


def test_character_past_line_end_clamps_to_line_length():
    index = LineIndex("ab\ncd\n")
    assert index.offset_at(Position(0, 99), UTF16) == 2
    assert index.offset_at(Position(2, 5), UTF16) == 6


def test_line_past_end_raises():
    index = LineIndex("ab\ncd")
    with pytest.raises(PositionError, match="line 2 is past the end"):
        index.offset_at(Position(2, 0), UTF16)
    with pytest.raises(PositionError, match="negative"):
        index.offset_at(Position(0, -1), UTF16)


@pytest.mark.parametrize("text", ["a\r\nb", "a\rb", "a\nb"])
def test_all_line_terminators(text):
    index = LineIndex(text)
    assert index.line_count == 2
    assert index.offset_at(Position(1, 0), UTF16) == len(text) - 1
    assert index.offset_at(Position(0, 5), UTF16) == 1  # clamps before the terminator
    assert index.line_text(0) == "a"


def test_negotiation_prefers_client_order_and_defaults_to_utf16():
    assert negotiate_encoding(None) is UTF16
    assert negotiate_encoding(["utf-8", "utf-16"]) is UTF8
    assert negotiate_encoding(["latin-1", "utf-32"]) is UTF32
    assert negotiate_encoding(["latin-1"]) is UTF16


texts = st.text(alphabet=st.sampled_from(list("ab \t\n\r😀名é")), max_size=40)


@given(texts, st.sampled_from(list(PositionEncoding)), st.data())
def test_offset_position_round_trip(text, encoding, data):
    index = LineIndex(text)
    offset = data.draw(st.integers(0, len(text)))
    # offsets between \r and \n are not addressable positions
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1
    position = index.position_at(offset, encoding)
    assert index.offset_at(position, encoding) == offset
