"""The repeat-the-last-edit rule: after a change, the same change at the next place it applies.

A rename (one word replaced by another) repeats at the other whole-word occurrences of the old word; any
other single change (an argument added, a call wrapped, a word deleted) repeats where the same text stands
between the same neighbours. Where neither finds a place, a line changed in several places (``Path(x)`` to
``Path(str(x))``, an argument added before ``)``) is changed alike on the lines most like it: its changes
carried over token by token wherever the tokens around each one stand the same. A change to a part of a
version number (``3.0.0`` to ``3.0.1``) is not repeated: bumps are one-off. Occurrences inside the edited
hunks themselves are left alone, and the nearest after the cursor come first.
"""

from __future__ import annotations

import re

from infill_lsp.next_edit.minimal import Edit, minimal_edits, spanning_edit, token_ops, tokens

_WORD = re.compile(r"\w+")


def change_of(old: str, new: str) -> tuple[str, str, str, str] | None:
    """The single change from ``old`` to ``new`` as (left neighbour, removed, inserted, right neighbour);
    None when there are several changes, or none."""
    a, b = tokens(old), tokens(new)
    changes = token_ops(a, b)
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


ANCHOR_TOKENS = 3  # an insertion repeats after the same few tokens that stood before it


def token_changes(old: str, new: str) -> list[tuple[str, str, str]]:
    """The changed token runs of ``old`` -> ``new``: (removed, inserted, the few tokens of ``old`` before it)."""
    a, b = tokens(old), tokens(new)
    return [("".join(a[i1:i2]), "".join(b[j1:j2]), "".join(a[max(0, i1 - ANCHOR_TOKENS) : i1]))
            for _, i1, i2, j1, j2 in token_ops(a, b)]


def repeated_edits(text: str, cursor: int, hunks: list[tuple[int, int, str]], window: tuple[int, int]) -> list[Edit]:
    """Edits that repeat the newest of ``hunks`` (each ``(start, end, old)``: the current text's
    ``[start, end)`` held ``old`` before) within ``window`` (character offsets) of ``text``, the nearest after
    ``cursor`` first, then those before it.

    The newest hunk must make one change (or the same change several times) on one line: a word (or text
    holding one) replaced or deleted repeats at the other whole-word occurrences of what it replaced; text
    inserted repeats after the next occurrence of the few tokens it followed, or, where it followed a word of
    its own (an argument), after any word at the same place on lines that start like the edited one."""
    if not hunks:
        return []
    start, end, old = hunks[-1]
    # The change read on whole lines, so an insertion knows the tokens it followed.
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before, after = text[line_start:start] + old + text[end:line_end], text[line_start:line_end]
    if _bumps_a_version(before, after):
        return []
    changes = token_changes(before, after)
    if not changes or len({(removed, inserted) for removed, inserted, _ in changes}) != 1:
        return _alike_lines(text, cursor, hunks, window, before, after)
    removed, inserted, anchor = changes[0]
    if "\n" in removed + inserted:
        return []
    if removed and _WORD.search(removed):
        pattern = re.compile(rf"(?<!\w){re.escape(removed)}(?!\w)")
        found = [(m.start(), m.end(), inserted) for m in pattern.finditer(text, *window)]
    elif not removed and inserted and _WORD.search(anchor):
        pattern = re.compile(rf"(?<!\w){re.escape(anchor)}")
        found = [(m.end(), m.end(), inserted) for m in pattern.finditer(text, *window)]
        if len(found) <= 1:
            found += _after_any_word(text, start, old, text[start:end], window)
    else:
        return _alike_lines(text, cursor, hunks, window, before, after)
    taken = [(s, e) for s, e, _ in hunks]
    edits = [Edit(s, e, new) for s, e, new in found
             if not any(s < he and e > hs or s == e == hs or hs <= s <= he for hs, he in taken)
             and text[s:e] != new and not _already(text, Edit(s, e, new), inserted)]
    return _nearest_first(edits, cursor) or _alike_lines(text, cursor, hunks, window, before, after)


def _nearest_first(edits: list[Edit], cursor: int) -> list[Edit]:
    return sorted(dict.fromkeys(edits), key=lambda e: (e.start < cursor, abs(e.start - cursor)))


ALIKE = 0.7  # how alike (difflib's ratio over tokens) a line must be to the edited one to be changed alike
_VERSION = re.compile(r"\d+(?:\.\d+)+")


def _bumps_a_version(before: str, after: str) -> bool:
    """Whether every change of ``before`` -> ``after`` (one line) rewrites digits inside a dotted number."""
    a, b = tokens(before), tokens(after)
    starts = [0]
    for token in a:
        starts.append(starts[-1] + len(token))
    versions = [m.span() for m in _VERSION.finditer(before)]
    ops = token_ops(a, b)
    return bool(ops) and all(
        i2 > i1 and "".join(a[i1:i2]).isdigit() and "".join(b[j1:j2]).replace(".", "").isdigit()
        and any(low <= starts[i1] and starts[i2] <= high for low, high in versions)
        for _, i1, i2, j1, j2 in ops
    )


def _alike_lines(text: str, cursor: int, hunks: list[tuple[int, int, str]], window: tuple[int, int], before: str,
                 after: str) -> list[Edit]:
    """The edited line's changes (``before`` -> ``after``, one line each) carried over to the lines of
    ``window`` most like it, each as one edit from its first change to its last, the nearest first."""
    if "\n" in before or "\n" in after or not before.strip() or before.strip() == after.strip():
        return []
    out: list[Edit] = []
    at = window[0]
    while at <= window[1]:
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[at:end].rstrip("\r")
        if (line.strip() and line.strip() != after.strip()
                and not any(at <= hs <= end or at <= he <= end for hs, he, _ in hunks)):
            changed = carried_over(before, after, line)
            if changed is not None and changed != line:
                edit = spanning_edit(text, minimal_edits(line, changed, at))
                if edit is not None:
                    out.append(edit)
        at = end + 1
    return _nearest_first(out, cursor)


def carried_over(before: str, after: str, line: str) -> str | None:
    """``line`` changed as ``before`` was changed into ``after``, or None: when ``line`` is less than ``ALIKE``
    like ``before``, or a change cannot be placed (a replaced token that ``line`` does not have at that place;
    an insertion whose neighbouring tokens in ``before`` are not the same in ``line``)."""
    import difflib  # here, not at the top: the server starts faster
    a, b, mine = tokens(before), tokens(after), tokens(line)
    ops = token_ops(a, b)
    alike = difflib.SequenceMatcher(None, a, mine, autojunk=False)
    if not ops or alike.ratio() < ALIKE:
        return None
    where = {i + k: j + k for i, j, size in alike.get_matching_blocks() for k in range(size)}
    spans: list[tuple[int, int, str]] = []  # token spans of ``line`` and what they become
    for _, i1, i2, j1, j2 in ops:
        new = "".join(b[j1:j2])
        if i2 > i1:  # replaced or deleted tokens: the same tokens, side by side, in ``line``
            if any(k not in where for k in range(i1, i2)) or where[i2 - 1] - where[i1] != i2 - 1 - i1:
                return None
            spans.append((where[i1], where[i2 - 1] + 1, new))
        elif i1 - 1 in where and (i1 == len(a) or i1 in where):  # an insertion between two placed tokens
            spans.append((where[i1 - 1] + 1, where[i1 - 1] + 1, new))
        elif i1 == 0 and i1 in where:  # at the start, before a placed token
            spans.append((where[0], where[0], new))
        else:
            return None
    out: list[str] = []
    done = 0
    for start, end, new in sorted(spans):
        if start < done:
            return None
        out += mine[done:start] + [new]
        done = end
    return "".join(out + mine[done:])


def _after_any_word(text: str, start: int, old: str, new: str, window: tuple[int, int]) -> list[tuple[int, int, str]]:
    """Where an insertion that followed a word of its own (an argument) goes on lines that start like the
    edited one: after any word, before the same right neighbour."""
    change = change_of(old, new)
    if change is None:
        return []
    left, removed, inserted, right = change
    if removed or not inserted or not _WORD.fullmatch(left.strip()) or not right:
        return []
    head = _WORD.search(_line_of(text, start))
    if head is None:
        return []
    pattern = re.compile(rf"(?<=\w){re.escape(left[len(left.rstrip()):] + right)}")
    starts_alike = re.compile(rf"(?<!\w){re.escape(head.group())}(?!\w)")
    return [(m.start() + len(left) - len(left.rstrip()), m.start() + len(left) - len(left.rstrip()), inserted)
            for m in pattern.finditer(text, *window) if starts_alike.search(_line_of(text, m.start()))]


def _already(text: str, edit: Edit, inserted: str) -> bool:
    """Whether an insertion is already there (just before or just after the place)."""
    if edit.start != edit.end or not inserted:
        return False
    return text.startswith(inserted, edit.start) or text.endswith(inserted, 0, edit.start)


def _line_of(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : end if end >= 0 else len(text)]
