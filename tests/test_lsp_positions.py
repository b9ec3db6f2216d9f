"""Positions <-> offsets in every LSP encoding, with clamping of positions outside the text."""

from __future__ import annotations

import pytest
import soak
from hypothesis import given, settings
from hypothesis import strategies as st

from infill_lsp.positions import (
    UTF8,
    UTF16,
    UTF32,
    LineIndex,
    Position,
    PositionError,
    column_to_index,
    units_length,
)

TEXT = "ab\n😀x\r\né=1\rlast"  # LF, CRLF and CR line breaks; an astral character; a 2-byte one


def test_line_starts_follow_every_lsp_line_break():
    index = LineIndex(TEXT)
    assert index.line_count == 4
    assert [index.line_text(i) for i in range(4)] == ["ab", "😀x", "é=1", "last"]


@pytest.mark.parametrize(
    ("encoding", "column_of_x"),
    [(UTF16, 2), (UTF8, 4), (UTF32, 1)],
)
def test_columns_count_code_units_of_the_encoding(encoding, column_of_x):
    index = LineIndex(TEXT, encoding)
    x = TEXT.index("x")
    assert index.offset(Position(1, column_of_x)) == x
    assert index.position(x) == Position(1, column_of_x)


@pytest.mark.parametrize("encoding", [UTF8, UTF16, UTF32])
def test_position_offset_round_trip_at_every_character(encoding):
    index = LineIndex(TEXT, encoding)
    for offset in range(len(TEXT) + 1):
        if TEXT[offset - 1 : offset + 1] == "\r\n":
            continue  # between \r and \n is not a position
        assert index.offset(index.position(offset)) == offset


def test_line_past_the_end_clamps_to_the_end_or_raises_when_strict():
    index = LineIndex(TEXT)
    assert index.offset(Position(99, 0)) == len(TEXT)
    with pytest.raises(PositionError, match="past the last line"):
        index.offset(Position(99, 0), strict=True)


def test_character_past_the_end_of_the_line_clamps_to_the_line_end():
    index = LineIndex(TEXT)
    assert index.offset(Position(0, 50)) == 2  # before the \n, not on the next line
    assert index.offset(Position(1, 50)) == TEXT.index("\r")
    with pytest.raises(PositionError):
        index.offset(Position(0, 50), strict=True)


def test_mid_surrogate_rounds_down_to_the_character_start():
    index = LineIndex(TEXT, UTF16)
    emoji = TEXT.index("😀")
    assert index.offset(Position(1, 1)) == emoji
    with pytest.raises(PositionError, match="inside"):
        index.offset(Position(1, 1), strict=True)


def test_mid_utf8_sequence_rounds_down():
    index = LineIndex(TEXT, UTF8)
    assert index.offset(Position(2, 1)) == TEXT.index("é")


def test_negative_positions_clamp_to_zero():
    index = LineIndex(TEXT)
    assert index.offset(Position(-1, 0)) == 0
    assert index.offset(Position(0, -5)) == 0


def test_empty_text_has_one_line():
    index = LineIndex("")
    assert index.line_count == 1
    assert index.offset(Position(0, 0)) == 0
    assert index.position(10) == Position(0, 0)


def test_units_length():
    assert units_length("a😀é", UTF16) == 4
    assert units_length("a😀é", UTF8) == 7
    assert units_length("a😀é", UTF32) == 3


def test_unknown_encoding_is_rejected():
    with pytest.raises(ValueError, match="position encoding"):
        LineIndex("x", "utf-7")


def _reference_column_to_index(line: str, character: int, encoding: str) -> tuple[int, bool]:
    """The slow, obvious definition: walk the characters counting code units (index, cut inside one)."""
    units = 0
    for index, char in enumerate(line):
        if units == character:
            return index, False
        code = ord(char)
        size = 1 if encoding == "utf-32" else (2 if code > 0xFFFF else 1) if encoding == "utf-16" else (
            1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4)
        units += size
        if units > character:
            return index, True
    return len(line), units < character


@soak.mark
@settings(max_examples=soak.cases(fast=400, soak=4000), deadline=None)
@given(
    line=st.text(alphabet=st.characters(exclude_categories=("Cc",)), max_size=40),
    character=st.integers(min_value=0, max_value=200),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_column_to_index_agrees_with_the_definition(line, character, encoding):
    expected, off = _reference_column_to_index(line, character, encoding)
    assert column_to_index(line, character, encoding) == expected
    if off:
        with pytest.raises(PositionError):
            column_to_index(line, character, encoding, strict=True)
    else:
        assert column_to_index(line, character, encoding, strict=True) == expected
