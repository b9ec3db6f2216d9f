"""Recent edits given as unified diffs (the HTTP edit prompt, a benchmark's history) turned into hunks of the
current text: ``(start, end, old)``, the current text's ``[start, end)`` having held ``old`` before."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")


def diff_hunks(diff: str) -> list[tuple[str, str]]:
    """The (old side, new side) text of each ``@@`` hunk of a unified diff, context lines on both sides;
    lines that are not part of a hunk (file headers, prose) are skipped."""
    hunks: list[tuple[list[str], list[str]]] = []
    current: tuple[list[str], list[str]] | None = None
    for line in diff.splitlines():
        if _HEADER.match(line):
            current = ([], [])
            hunks.append(current)
        elif current is None or line.startswith(("--- ", "+++ ")):
            continue
        elif line.startswith("-"):
            current[0].append(line[1:])
        elif line.startswith("+"):
            current[1].append(line[1:])
        elif line.startswith(" ") or line == "":
            current[0].append(line[1:])
            current[1].append(line[1:])
        elif line.startswith("\\"):  # "\ No newline at end of file"
            continue
        else:
            current = None  # prose after a hunk ends it
    return [("\n".join(old), "\n".join(new)) for old, new in hunks if old != new]


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def shared_ends(old: str, new: str) -> tuple[int, int]:
    """How many characters ``old`` and ``new`` share at their start and at their end, cut back to word
    boundaries (so a hunk that renamed ``cnt`` to ``count`` keeps the whole words, not ``n`` and ``oun``)."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    while 0 < head and _word(old[head - 1]) and (head < len(old) and _word(old[head]) or
                                                  head < len(new) and _word(new[head])):
        head -= 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    while 0 < tail and _word(old[len(old) - tail]) and (tail < len(old) - head and _word(old[len(old) - 1 - tail])
                                                         or tail < len(new) - head and _word(new[len(new) - 1 - tail])):
        tail -= 1
    return head, tail


def located_hunk(text: str, old: str, new: str, near: int = 0) -> tuple[int, int, str] | None:
    """Where the new side of a hunk stands in ``text`` (the occurrence nearest ``near``), narrowed to the
    words that changed: ``(start, end, old)``; None when the new side is not in the text."""
    head, tail = shared_ends(old, new)
    if not new:
        return None
    places = [m.start() for m in re.finditer(re.escape(new), text)]
    if not places:
        return None
    at = min(places, key=lambda p: abs(p - near))
    return at + head, at + len(new) - tail, old[head : len(old) - tail]


def history_hunks(diffs: list[str], text: str, near: int = 0) -> list[tuple[int, int, str]]:
    """The hunks of ``diffs`` (oldest first) found in ``text``, oldest first; those not found are left out."""
    found = []
    for diff in diffs:
        for old, new in diff_hunks(diff):
            if (hunk := located_hunk(text, old, new, near)) is not None:
                found.append(hunk)
    return found
