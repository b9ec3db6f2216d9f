"""The repeat-the-last-edit rule: after a change, the same change at the next place it applies.

A rename (one word replaced by another) repeats at the other whole-word occurrences of the old word; any
other single change (an argument added, a call wrapped, a word deleted) repeats where the same text stands
between the same neighbours. Occurrences inside the edited hunks themselves are left alone, and the nearest
after the cursor come first.
"""

from __future__ import annotations

import difflib
import re

from infill_lsp.next_edit.minimal import Edit, tokens

_WORD = re.compile(r"\w+")


def change_of(old: str, new: str) -> tuple[str, str, str, str] | None:
    """The single change from ``old`` to ``new`` as (left neighbour, removed, inserted, right neighbour);
    None when there are several changes, or none."""
    a, b = tokens(old), tokens(new)
    changes = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(changes) != 1:
        return None
    _, i1, i2, j1, j2 = changes[0]
    left = next((t for t in reversed(a[:i1]) if not t.isspace()), "")
    right = next((t for t in a[i2:] if not t.isspace()), "")
    # The neighbours as they stand next to the change (whitespace between them included).
    left_text = "".join(a[:i1])[-len(left) - _trailing_space(a[:i1]) :] if left else ""
    right_text = "".join(a[i2:])[: len(right) + _leading_space(a[i2:])] if right else ""
    return left_text, "".join(a[i1:i2]), "".join(b[j1:j2]), right_text


def _trailing_space(parts: list[str]) -> int:
    return len(parts[-1]) if parts and parts[-1].isspace() else 0


def _leading_space(parts: list[str]) -> int:
    return len(parts[0]) if parts and parts[0].isspace() else 0


def repeated_edits(text: str, cursor: int, hunks: list[tuple[int, int, str]], window: tuple[int, int]) -> list[Edit]:
    """Edits that repeat the newest of ``hunks`` (each ``(start, end, old)``: the current text's
    ``[start, end)`` held ``old`` before) within ``window`` (character offsets) of ``text``, the nearest after
    ``cursor`` first, then those before it."""
    if not hunks:
        return []
    start, end, old = hunks[-1]
    change = change_of(old, text[start:end])
    if change is None:
        return []
    left, removed, inserted, right = change
    if removed and inserted and _WORD.fullmatch(removed) and _WORD.fullmatch(inserted):
        pattern = re.compile(rf"(?<!\w){re.escape(removed)}(?!\w)")
        found = [(m.start(), m.end(), inserted) for m in pattern.finditer(text, *window)]
    elif left or right:
        pattern = re.compile(re.escape(left + removed + right))
        found = [(m.start() + len(left), m.end() - len(right), inserted) for m in pattern.finditer(text, *window)]
        if len(found) <= 1 and _WORD.fullmatch(left.strip()):
            # The left neighbour was a word of its own (an argument, a name): any word there will do, on lines
            # that start like the edited one (the same call, the same kind of statement).
            head = _WORD.search(_line_of(text, start))
            pattern = re.compile(rf"(?<=\w){re.escape(left[len(left.rstrip()):] + removed + right)}")
            found = [(m.start() + len(left) - len(left.rstrip()), m.end() - len(right), inserted)
                     for m in pattern.finditer(text, *window)
                     if head and re.search(rf"(?<!\w){re.escape(head.group())}(?!\w)", _line_of(text, m.start()))]
    else:
        return []
    taken = [(s, e) for s, e, _ in hunks]
    edits = [Edit(s, e, new) for s, e, new in found
             if not any(s < he and e > hs or s == e == hs for hs, he in taken) and text[s:e] != new]
    edits = [e for e in edits if not _already(text, e, left, inserted, right)]
    return sorted(edits, key=lambda e: (e.start < cursor, abs(e.start - cursor)))


def _already(text: str, edit: Edit, left: str, inserted: str, right: str) -> bool:
    """Whether an insertion is already there (just before or just after the place)."""
    if edit.start != edit.end or not inserted:
        return False
    return text.startswith(inserted + right, edit.start) or text.endswith(inserted, 0, edit.start)


def _line_of(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : end if end >= 0 else len(text)]
