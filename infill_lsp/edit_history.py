"""A document's recent edits, coalesced into hunks and rendered as unified diffs.

Pure: fed the text before each change and the change (a replaced range, or the whole new text), with a
timestamp; no IO, no clock of its own. Hunks are kept in the coordinates of the current text: a hunk is
the span ``[start, start + new_length)`` of the current text, and ``old`` is what that span held before
the hunk's first edit. The new side is never stored (it is the current text), and ``old`` is clipped to
``max_hunk_chars``, so a huge paste or a deleted file keeps a few kilobytes at most.

Coalescing: an edit that touches the newest hunk (typing at its end, deleting back into it) within
``coalesce_s`` of its last edit joins it; an edit that overlaps any hunk's text joins that hunk whatever
the time (it reworks what the hunk wrote). A hunk whose text is back to what it was (typed then deleted,
an undo) is dropped. Hunks age out after ``max_age_s`` and beyond ``max_hunks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

COALESCE_S = 2.0
MAX_HUNKS = 8
MAX_AGE_S = 600.0
MAX_HUNK_CHARS = 2000
CONTEXT_LINES = 3
MAX_DIFF_LINES = 40
WHOLE_TEXT_SPLIT_LINES = 400  # a whole-document change spanning up to this many lines is split by line diff


@dataclass(slots=True)
class Hunk:
    """One coalesced change: the current text's ``[start, start + new_length)`` held ``old`` before it."""

    start: int
    new_length: int
    old: str
    first_at: float
    last_at: float
    clipped: bool = False  # ``old`` lost its end to the size cap

    @property
    def end(self) -> int:
        return self.start + self.new_length


@dataclass(slots=True)
class EditHistory:
    """The recent hunks of one document, oldest first."""

    coalesce_s: float = COALESCE_S
    max_hunks: int = MAX_HUNKS
    max_age_s: float = MAX_AGE_S
    max_hunk_chars: int = MAX_HUNK_CHARS
    _hunks: list[Hunk] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_hunks < 1:
            raise ValueError(f"max_hunks must be >= 1, got {self.max_hunks}")
        if self.max_hunk_chars < 1:
            raise ValueError(f"max_hunk_chars must be >= 1, got {self.max_hunk_chars}")

    # ---- feeding --------------------------------------------------------------------------------

    def record(self, before: str, start: int, end: int, inserted: str, at: float) -> None:
        """``before[start:end]`` was replaced by ``inserted`` at time ``at``."""
        start, end = sorted((max(0, min(start, len(before))), max(0, min(end, len(before)))))
        if start == end and not inserted:
            return
        delta = len(inserted) - (end - start)
        newest = self._hunks[-1] if self._hunks else None
        joined: list[Hunk] = []
        kept: list[Hunk] = []
        for hunk in self._hunks:
            overlaps = start < hunk.end and end > hunk.start
            touches = start <= hunk.end and end >= hunk.start
            if overlaps or (touches and hunk is newest and at - hunk.last_at <= self.coalesce_s):
                joined.append(hunk)
            elif hunk.start >= end:  # after the edit: shifted
                hunk.start += delta
                kept.append(hunk)
            else:
                kept.append(hunk)
        union_start = min([start, *(h.start for h in joined)])
        union_end = max([end, *(h.end for h in joined)])
        old, cursor, clipped = [], union_start, False
        for hunk in sorted(joined, key=lambda h: h.start):  # the union's text before every joined hunk
            old.append(before[cursor : hunk.start])
            old.append(hunk.old)
            clipped |= hunk.clipped
            cursor = hunk.end
        old.append(before[cursor:union_end])
        old_text = "".join(old)
        new_length = union_end - union_start + delta
        after_span = before[union_start:start] + inserted + before[end:union_end]
        first_at = min([at, *(h.first_at for h in joined)])
        self._hunks = kept
        if not clipped and old_text == after_span:
            return  # back to what it was: no hunk
        if len(old_text) > self.max_hunk_chars:
            old_text, clipped = old_text[: self.max_hunk_chars], True
        self._hunks.append(Hunk(union_start, new_length, old_text, first_at, at, clipped))
        self._hunks.sort(key=lambda h: h.last_at)  # stable: the newest last
        self._trim(at)

    def record_text(self, before: str, after: str, at: float) -> None:
        """The whole text went from ``before`` to ``after`` (whole-document sync) at time ``at``."""
        if before == after:
            return
        for start, end, inserted in whole_text_edits(before, after):
            self.record(before, start, end, inserted, at)
            before = before[:start] + inserted + before[end:]

    def clear(self) -> None:
        self._hunks.clear()

    # ---- reading --------------------------------------------------------------------------------

    def hunks(self, now: float | None = None) -> list[Hunk]:
        """The live hunks, oldest first (those older than ``max_age_s`` at ``now`` dropped)."""
        if now is not None:
            self._trim(now)
        return list(self._hunks)

    def latest(self, now: float | None = None) -> Hunk | None:
        hunks = self.hunks(now)
        return hunks[-1] if hunks else None

    def diffs(self, text: str, now: float | None = None, *, context: int = CONTEXT_LINES) -> list[str]:
        """Each live hunk as a unified diff against ``text`` (the current text), oldest first."""
        return [rendered for hunk in self.hunks(now) if (rendered := render_hunk(text, hunk, context=context))]

    def _trim(self, now: float) -> None:
        self._hunks = [h for h in self._hunks if now - h.last_at <= self.max_age_s][-self.max_hunks :]


def whole_text_edits(before: str, after: str) -> list[tuple[int, int, str]]:
    """Ranged edits turning ``before`` into ``after``, each in the coordinates left by the ones before it.

    The common head and tail are trimmed; a changed span of a few hundred lines is split further by a
    line diff, so two edits far apart in one whole-document change become two edits.
    """
    import difflib  # here, not at the top: the server starts faster
    limit = min(len(before), len(after))
    head = _shared_length(lambda n: before[:n] == after[:n], limit)
    tail = _shared_length(lambda n: before[len(before) - n :] == after[len(after) - n :], limit - head)
    old, new = before[head : len(before) - tail], after[head : len(after) - tail]
    if "\n" not in old and "\n" not in new:
        return [(head, head + len(old), new)]
    # Split on whole lines: widen the span to line boundaries (within the common head and tail) first.
    line_start = before.rfind("\n", 0, head) + 1
    if tail and before[len(before) - tail - 1] != "\n":
        newline = before.find("\n", len(before) - tail)
        tail = len(before) - newline - 1 if newline >= 0 else 0
    old_lines = before[line_start : len(before) - tail].splitlines(keepends=True)
    new_lines = after[line_start : len(after) - tail].splitlines(keepends=True)
    if max(len(old_lines), len(new_lines)) > WHOLE_TEXT_SPLIT_LINES:
        return [(head, head + len(old), new)]
    edits: list[tuple[int, int, str]] = []
    shift = 0
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    offsets = [line_start]
    for line in old_lines:
        offsets.append(offsets[-1] + len(line))
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = offsets[i1] + shift, offsets[i2] + shift
        inserted = "".join(new_lines[j1:j2])
        edits.append((start, end, inserted))
        shift += len(inserted) - (end - start)
    return edits


def _shared_length(shared: Callable[[int], bool], limit: int) -> int:
    """The largest n <= ``limit`` with ``shared(n)`` (monotone), by bisection: slices compare at C speed,
    so a whole-document change of a large file costs milliseconds, not a Python loop per character."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if shared(mid):
            low = mid
        else:
            high = mid - 1
    return low


def render_hunk(
    text: str, hunk: Hunk, *, context: int = CONTEXT_LINES, max_lines: int = MAX_DIFF_LINES, name: str = ""
) -> str:
    """``hunk`` as a unified diff (``@@ -a,b +c,d @@`` in lines of the current text), ``context`` lines
    around it; at most ``max_lines`` body lines. Line ends (``\\n``, ``\\r\\n``) are not part of the lines."""
    import difflib  # here, not at the top: the server starts faster
    start, end = max(0, min(hunk.start, len(text))), max(0, min(hunk.end, len(text)))
    first_line = text.count("\n", 0, start)
    window_start = text.rfind("\n", 0, start) + 1
    lines_before = 0
    while lines_before < context and window_start > 0:
        window_start = text.rfind("\n", 0, window_start - 1) + 1
        lines_before += 1
    window_end = end
    for _ in range(context + 1):
        newline = text.find("\n", window_end)
        if newline < 0:
            window_end = len(text)
            break
        window_end = newline + 1
    old_side = text[window_start:start] + hunk.old + ("\n…\n" if hunk.clipped else "") + text[end:window_end]
    new_side = text[window_start:window_end]
    old_lines = [line.rstrip("\r\n") for line in old_side.splitlines(keepends=True)]
    new_lines = [line.rstrip("\r\n") for line in new_side.splitlines(keepends=True)]
    body: list[str] = []
    base = first_line - lines_before  # the window's first line, 0-based
    for group in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_grouped_opcodes(context):
        a1, a2, b1, b2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        body.append(f"@@ -{_range(base + a1, a2 - a1)} +{_range(base + b1, b2 - b1)} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body.extend(" " + line for line in old_lines[i1:i2])
                continue
            body.extend("-" + line for line in old_lines[i1:i2])
            body.extend("+" + line for line in new_lines[j1:j2])
    if not body:
        return ""
    if len(body) > max_lines:
        body = [*body[:max_lines], f"… {len(body) - max_lines} more diff lines"]
    header = [f"--- a/{name}", f"+++ b/{name}"] if name else []
    return "\n".join([*header, *body]) + "\n"


def _range(first: int, count: int) -> str:
    """A unified diff range: 1-based first line and count (an empty range names the line before it)."""
    if count == 0:
        return f"{first},0"
    return f"{first + 1}" if count == 1 else f"{first + 1},{count}"
