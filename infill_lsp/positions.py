"""LSP positions (line, character in the negotiated encoding) to and from offsets into a Python str.

Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` as the LSP specifies. Out-of-range positions are clamped
(a line past the end to the end of the text, a character past the end of its line to the line's end),
and a character that points inside a surrogate pair or a UTF-8 sequence rounds down to the start of
that character. ``strict=True`` turns clamping into a ``PositionError`` instead.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that does not lie in the text (raised only in strict mode)."""


class Position(NamedTuple):
    line: int
    character: int


def line_starts(text: str) -> list[int]:
    """Return the offset at which each line of ``text`` starts (always at least ``[0]``)."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _line_content_end(text: str, starts: list[int], line: int) -> int:
    """Offset of the end of ``line``'s content, before its line break."""
    if line + 1 >= len(starts):
        return len(text)
    end = starts[line + 1]
    if text[end - 2 : end] == "\r\n":
        return end - 2
    return end - 1


def units_length(text: str, encoding: str = UTF16) -> int:
    """Return the length of ``text`` in code units of ``encoding``."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def column_to_index(line_text: str, character: int, encoding: str = UTF16, *, strict: bool = False) -> int:
    """Return the str index in ``line_text`` of a column given in code units of ``encoding``.

    The line is encoded once (in C) and cut at the column: the cost is the line's encoding, whatever
    the column, so a keystroke on a very long line stays cheap.
    """
    if character < 0:
        if strict:
            raise PositionError(f"negative character {character}")
        return 0
    if encoding == UTF32 or line_text.isascii():
        if character > len(line_text) and strict:
            raise PositionError(f"character {character} is past the end of the line ({len(line_text)})")
        return min(character, len(line_text))
    if encoding == UTF8:
        data, unit = line_text.encode("utf-8", "surrogatepass"), 1
    else:
        data, unit = line_text.encode("utf-16-le", "surrogatepass"), 2
    if character * unit >= len(data):
        if character * unit > len(data) and strict:
            raise PositionError(f"character {character} is past the end of the line ({len(data) // unit})")
        return len(line_text)
    head = data[: character * unit]
    try:
        prefix = head.decode(encoding if encoding == UTF8 else "utf-16-le", "surrogatepass")
        # A cut through a UTF-16 surrogate pair decodes to a lone high surrogate the line does not hold.
        high_surrogate_last = bool(prefix) and "\ud800" <= prefix[-1] <= "\udbff"
        split = unit == 2 and high_surrogate_last and line_text[len(prefix) - 1] != prefix[-1]
        index = len(prefix) - 1 if split else len(prefix)
    except UnicodeDecodeError as cut:  # a cut through a UTF-8 sequence
        index, split = len(head[: cut.start].decode("utf-8", "surrogatepass")), True
    if split and strict:
        raise PositionError(f"character {character} falls inside a multi-unit character")
    return index


class LineIndex:
    """Converts between positions and offsets for one text; build once per text version."""

    __slots__ = ("text", "encoding", "starts")

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"position encoding must be one of {ENCODINGS}, got {encoding!r}")
        self.text = text
        self.encoding = encoding
        self.starts = line_starts(text)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        """Return the content of ``line`` without its line break."""
        return self.text[self.starts[line] : _line_content_end(self.text, self.starts, line)]

    def offset(self, position: Position | tuple[int, int], *, strict: bool = False) -> int:
        """Return the str offset of ``position``, clamped into the text unless ``strict``."""
        line, character = position
        if line < 0:
            if strict:
                raise PositionError(f"negative line {line}")
            return 0
        if line >= len(self.starts):
            if strict:
                raise PositionError(f"line {line} is past the last line ({len(self.starts) - 1})")
            return len(self.text)
        start = self.starts[line]
        return start + column_to_index(self.line_text(line), character, self.encoding, strict=strict)

    def position(self, offset: int) -> Position:
        """Return the position of str ``offset`` (clamped into the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        offset = min(offset, _line_content_end(self.text, self.starts, line))
        return Position(line, units_length(self.text[start:offset], self.encoding))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, max(0, min(offset, len(self.text)))) - 1

    def line_end(self, offset: int) -> int:
        """Return the offset of the end of the content of the line holding ``offset``."""
        return _line_content_end(self.text, self.starts, self.line_of(offset))
