"""Checks of a fill that need no grammar: brackets it leaves unbalanced, and a word it glues onto.

They hold for a file in any language, with or without a parse: ``fill.finish_fill`` runs the bracket
check where there is no grammar (a parse measures brackets better) and the word check everywhere (a
glued word such as ``returnproperty`` parses as a name). Pure: strings in, a reason or None out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_PAIRS.values())
_QUOTES = frozenset("\"'`")
_WORD = re.compile(r"\w+")
_WORD_AT_END = re.compile(r"\w+\Z")


@dataclass(frozen=True, slots=True)
class Balance:
    """Brackets left unmatched in a text: openers never closed, and closers with no opener."""

    unclosed: int = 0
    unopened: int = 0


def _string_end(text: str, start: int) -> int | None:
    """The offset after the quote that closes the string opened at ``start``, on the same line (backslash
    escapes honoured); None when the line has no closing quote (an apostrophe, not a string)."""
    quote = text[start]
    i = start + 1
    while i < len(text) and text[i] != "\n":
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return None


def bracket_balance(text: str) -> Balance:
    """The ``()``, ``[]`` and ``{}`` of ``text`` left unmatched, outside obvious string literals.

    A string is a quote closed on its own line; a quote with no closer on its line counts for nothing. A
    ``/*`` comment is skipped to its ``*/``; one never closed counts as an opener left open.
    """
    stack: list[str] = []
    unopened = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c in _QUOTES and (end := _string_end(text, i)) is not None:
            i = end
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close == -1:
                stack.append("*/")
                break
            i = close + 2
            continue
        if c in _PAIRS:
            stack.append(_PAIRS[c])
        elif c in _CLOSERS:
            if stack and stack[-1] == c:
                stack.pop()
            else:
                unopened += 1
        i += 1
    return Balance(unclosed=len(stack), unopened=unopened)


def _open_strings(line: str) -> int:
    """1 when ``line`` leaves a double-quoted string open (a ``"`` with no closer on the line), else 0.

    Single-quoted strings are skipped when closed and otherwise ignored (an apostrophe is prose as often as
    code), and so is what follows a ``#`` or ``//`` comment marker outside a string."""
    i = 0
    while i < len(line):
        c = line[i]
        if c in _QUOTES:
            end = _string_end(line, i)
            if end is None:
                return 1 if c == '"' else 0
            i = end
            continue
        if c == "#" or line.startswith("//", i):
            return 0
        i += 1
    return 0


_LAST_WORD = re.compile(r"(\w+)[ \t]+\Z")
_FIRST_WORD = re.compile(r"[ \t]*(\w+)")


def stutter(before: str, fill: str) -> str | None:
    """The word a fill repeats right after itself (``return`` + ``return x``), or None: the text before the
    hole ends with a word and blanks, and the fill starts with the same word (a hole's text whose parse was
    already broken can hide this from a parse check)."""
    last, first = _LAST_WORD.search(before), _FIRST_WORD.match(fill)
    if last and first and last.group(1) == first.group(1) and not last.group(1).isdigit():
        return last.group(1)
    return None


def open_string(without: str, with_fill: str) -> str | None:
    """Why the hole's line ``with_fill`` leaves a string open that the line ``without`` the fill did not."""
    if _open_strings(with_fill) > _open_strings(without):
        return "the fill leaves a string open"
    return None


def unbalanced_brackets(without: str, with_fill: str) -> str | None:
    """Why the text ``with_fill`` has worse brackets than the text ``without`` the fill had, or None.

    Both are the hole's line(s): the line up to the span, the span (its original text, or the fill), and
    the rest of the line after what the span replaces. A fill that leaves more openers unclosed, or more
    closers unopened, than the original text did is refused: ``foo(`` may stay open, a bracket the fill
    opens must be closed by it, and a ``)`` the line already has must not be written again.
    """
    was, now = bracket_balance(without), bracket_balance(with_fill)
    if now.unclosed > was.unclosed:
        return f"the fill leaves {now.unclosed - was.unclosed} bracket(s) or comment(s) open"
    if now.unopened > was.unopened:
        return f"the fill closes {now.unopened - was.unopened} bracket(s) that were not open"
    return None


def glued_word(before: str, fill: str, after: str, known: frozenset[str] = frozenset()) -> str | None:
    """The word ``fill`` makes by running on from a finished word at the end of ``before``, or None.

    ``after`` is what follows the fill's span in the text before the fill was made (the span's original
    text first). When ``before`` ends with a word ``w`` and the fill starts with word characters ``f``
    (and ``after`` does not start with one: the cursor was not inside a word already), the fill makes
    the word ``w + f``. That is sound when ``w`` is a word still being typed, and wrong when the fill
    meant a word of its own but left out the space. The rule, on the text around the hole (the words of
    ``before`` up to ``w``, and of ``after``) and ``known`` (the names in reach):

    - ``w + f`` is a word there: a completion of a word in use, accepted (``get`` + ``Name`` where the
      file uses ``getName``);
    - else, ``w`` is a whole word there (a keyword such as ``return``, a name already in use: it was
      finished) or ``f`` is, being three characters or more (the fill meant that word; a shorter piece
      such as ``s`` is a suffix more often than a word): refused (``return`` + ``property`` where the
      file declares ``property``);
    - else both halves are new: a new word being typed, accepted (``pro`` + ``cessed``).

    A number (``1`` + ``0``) is no word.
    """
    end = _WORD_AT_END.search(before)
    start = _WORD.match(fill)
    if end is None or start is None or end.group()[0].isdigit() or _WORD.match(after):
        return None
    typed, rest = end.group(), start.group()
    joined = typed + rest
    around = set(_WORD.findall(before[: end.start()])) | set(_WORD.findall(after))
    if joined in around or joined in known:
        return None
    if typed in around or (len(rest) >= 3 and (rest in around or rest in known)):
        return joined
    return None
