"""A rewritten span as the smallest edits: a word-level diff of the old text against the new one."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``[start, end)`` of a text (character offsets) with ``text``."""

    start: int
    end: int
    text: str

    def applied(self, source: str) -> str:
        return source[: self.start] + self.text + source[self.end :]


def tokens(text: str) -> list[str]:
    """``text`` cut into words, runs of whitespace and single other characters (joined, they are ``text``)."""
    return _TOKEN.findall(text)


def minimal_edits(old: str, new: str, offset: int = 0) -> list[Edit]:
    """The edits that turn ``old`` into ``new``, word by word, at ``offset`` (where ``old`` starts in its
    text); edits that touch are merged. None when the two are equal."""
    if old == new:
        return []
    a, b = tokens(old), tokens(new)
    starts = [0]
    for token in a:
        starts.append(starts[-1] + len(token))
    edits: list[Edit] = []
    for _, i1, i2, j1, j2 in token_ops(a, b):
        edit = Edit(offset + starts[i1], offset + starts[i2], "".join(b[j1:j2]))
        if edits and edits[-1].end == edit.start:
            edit = Edit(edits[-1].start, edit.end, edits[-1].text + edit.text)
            edits.pop()
        edits.append(edit)
    return edits


def token_ops(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """The non-equal opcodes (difflib's) turning tokens ``a`` into tokens ``b``."""
    import difflib  # here, not at the top: the server starts faster
    return [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]


def spanning_edit(text: str, edits: list[Edit]) -> Edit | None:
    """``edits`` (non-overlapping, on ``text``) as one: from the first one's start to the last one's end."""
    if not edits:
        return None
    start, end = min(e.start for e in edits), max(e.end for e in edits)
    after = apply_edits(text, edits)
    return Edit(start, end, after[start : end + len(after) - len(text)])


def apply_edits(source: str, edits: list[Edit]) -> str:
    """``source`` with ``edits`` (which must not overlap) applied."""
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        source = edit.applied(source)
    return source
