"""The hole at the cursor: prefix and suffix cut at syntax boundaries, and what kind of fill fits.

Pure: takes text, a cursor offset, optional language support and tree, and budgets; no IO, no state.
Budgets are in characters, derived from the engine's budgets in tokens (``Budgets.within``), so the cut
made here at syntax boundaries is the one the model sees; the engine's own trim is only a guard.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

import tree_sitter

from infill_lsp.languages import LanguageSupport

CLOSERS = frozenset(")]}>\"'`;,")
# A fresh prefix starts at the first line start after a multiple of budget / ANCHOR_GRID_SHARE characters
# (a coarse grid), so holes near each other share the start; at most about that share of the budget is lost.
ANCHOR_GRID_SHARE = 10


class HoleKind(enum.Enum):
    REST_OF_LINE = "rest-of-line"  # finish the current line
    ARGUMENTS = "arguments"  # inside an argument or parameter list
    STRING = "string"  # inside a string or comment
    STATEMENT = "statement"  # a blank line between statements
    BLOCK = "block"  # an empty body just opened

    @property
    def single_line(self) -> bool:
        return self in (HoleKind.REST_OF_LINE, HoleKind.ARGUMENTS, HoleKind.STRING)


# Canvas lengths (tokens) to try per hole kind; the engine picks among them.
CANVAS_HINTS: dict[HoleKind, tuple[int, ...]] = {
    HoleKind.REST_OF_LINE: (16, 32),
    HoleKind.ARGUMENTS: (8, 16),
    HoleKind.STRING: (12, 24),
    HoleKind.STATEMENT: (32, 64),
    HoleKind.BLOCK: (64, 128),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Budgets:
    prefix_chars: int = 4000
    suffix_chars: int = 1500

    def __post_init__(self) -> None:
        for name in ("prefix_chars", "suffix_chars"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def within(self, prefix_tokens: int, suffix_tokens: int, chars_per_token: float) -> Budgets:
        """These budgets, shrunk to what fits the engine's token budgets (0 or unknown: no limit)."""
        if chars_per_token <= 0:
            return self
        prefix, suffix = self.prefix_chars, self.suffix_chars
        if prefix_tokens > 0:
            prefix = min(prefix, int(prefix_tokens * chars_per_token))
        if suffix_tokens > 0:
            suffix = min(suffix, int(suffix_tokens * chars_per_token))
        return Budgets(prefix_chars=prefix, suffix_chars=suffix)


@dataclass(frozen=True, slots=True, kw_only=True)
class InfillContext:
    """The hole at the cursor, ready to become an engine request and to post-process its fill."""

    prefix: str
    suffix: str
    kind: HoleKind
    canvas_lengths: tuple[int, ...]
    line_prefix: str  # the cursor's line, up to the cursor
    line_suffix: str  # the cursor's line, from the cursor to the end of its content
    indent_unit: str  # the document's indentation step ("    ", "\t", ...)
    prefix_start: int  # document offset where ``prefix`` starts
    suffix_end: int  # document offset where ``suffix`` ends

    @property
    def single_line(self) -> bool:
        return self.kind.single_line


def only_closers(text: str) -> bool:
    """True when ``text`` holds nothing but closing brackets, quotes, separators and whitespace."""
    return all(c in CLOSERS or c.isspace() for c in text)


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _char_offset(window: bytes, window_start: int, byte_in_window: int) -> int:
    try:
        return window_start + len(window[:byte_in_window].decode("utf-8", "surrogatepass"))
    except UnicodeDecodeError:  # a node edge inside a character: round down to its start
        return window_start + len(window[:byte_in_window].decode("utf-8", "ignore"))


def _captured(query: tree_sitter.Query, tree: tree_sitter.Tree, start_byte: int, end_byte: int):
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_byte_range(start_byte, end_byte)
    return cursor.captures(tree.root_node)


def prefix_cut(
    text: str, cursor: int, budget: int, language: LanguageSupport | None, tree: tree_sitter.Tree | None
) -> int:
    """Return where the prefix starts: the earliest boundary (at its line start) within the budget."""
    lower = max(0, cursor - budget)
    if lower == 0:
        return 0
    if tree is not None and language is not None:
        window = text[lower:cursor].encode("utf-8", "surrogatepass")
        lower_byte = _byte_length(text[:cursor]) - len(window)
        nodes = _captured(language.boundaries, tree, lower_byte, lower_byte + len(window)).get("boundary", [])
        starts = [n.start_byte for n in nodes if lower_byte <= n.start_byte < lower_byte + len(window)]
        if starts:
            start = _char_offset(window, lower, min(starts) - lower_byte)
            line_start = text.rfind("\n", 0, start) + 1
            return line_start if line_start >= lower else start
    next_line = text.find("\n", lower, cursor)
    return next_line + 1 if next_line != -1 else lower


def suffix_cut(
    text: str, cursor: int, budget: int, language: LanguageSupport | None, tree: tree_sitter.Tree | None
) -> int:
    """Return where the suffix ends: the last boundary end (at its line end) within the budget."""
    upper = min(len(text), cursor + budget)
    if upper == len(text):
        return upper
    if tree is not None and language is not None:
        window = text[cursor:upper].encode("utf-8", "surrogatepass")
        cursor_byte = _byte_length(text[:cursor])
        nodes = _captured(language.boundaries, tree, cursor_byte, cursor_byte + len(window)).get(
            "boundary", []
        )
        ends = [n.end_byte for n in nodes if cursor_byte < n.end_byte <= cursor_byte + len(window)]
        if ends:
            end = _char_offset(window, cursor, max(ends) - cursor_byte)
            line_end = text.find("\n", end)
            return line_end if 0 <= line_end <= upper else end
    last_line = text.rfind("\n", cursor, upper)
    return last_line if last_line != -1 else upper


def detect_indent_unit(text: str, default: str = "    ") -> str:
    """Return the indentation step of ``text``: a tab, or the most common increase in leading spaces."""
    tabs = spaces = 0
    steps: Counter[int] = Counter()
    previous = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            tabs += 1
            continue
        width = len(line) - len(line.lstrip(" "))
        spaces += width > 0
        if width > previous:
            steps[width - previous] += 1
        previous = width
    if tabs > spaces:
        return "\t"
    if not steps:
        return default
    step = steps.most_common(1)[0][0]
    return " " * step if 1 < step <= 8 else default


def _innermost_hole_capture(
    language: LanguageSupport, tree: tree_sitter.Tree, cursor_byte: int
) -> str | None:
    """The capture name of the smallest holes.scm node around the cursor; of two nodes of one extent
    (``@moduledoc "..."``: a paren-less call's arguments are its one string), the inner one."""
    best: tuple[int, str, tree_sitter.Node] | None = None
    captures = _captured(language.holes, tree, max(0, cursor_byte - 1), cursor_byte + 1)
    for name, nodes in captures.items():
        for node in nodes:
            inside = node.start_byte < cursor_byte < node.end_byte
            if name == "comment":  # a line comment ends at the line end, where the cursor often sits
                inside = node.start_byte < cursor_byte <= node.end_byte
            size = node.end_byte - node.start_byte
            if inside and (best is None or size < best[0] or (size == best[0] and _below(node, best[2]))):
                best = (size, name, node)
    return best[1] if best else None


def _below(node: tree_sitter.Node, other: tree_sitter.Node) -> bool:
    """Whether ``other`` is one of ``node``'s ancestors."""
    parent = node.parent
    while parent is not None:
        if parent == other:
            return True
        parent = parent.parent
    return False


def classify_hole(
    text: str,
    cursor: int,
    language: LanguageSupport | None,
    tree: tree_sitter.Tree | None,
) -> HoleKind:
    """Decide what the fill at ``cursor`` should be: finish a line, an argument, a string, or lines."""
    line_start = text.rfind("\n", 0, cursor) + 1
    line_end = len(text) if (e := text.find("\n", cursor)) == -1 else e
    before, after = text[line_start:cursor], text[cursor:line_end].rstrip("\r")
    if tree is not None and language is not None:
        capture = _innermost_hole_capture(language, tree, _byte_length(text[:cursor]))
        if capture in ("string", "comment"):
            return HoleKind.STRING
        if capture == "arguments":
            return HoleKind.ARGUMENTS
    if not only_closers(after):
        return HoleKind.REST_OF_LINE
    openers = language.entry.block_openers if language else ("{", ":")
    if before.rstrip().endswith(tuple(openers)) and before.strip():
        return HoleKind.BLOCK
    if before.strip():
        return HoleKind.REST_OF_LINE
    previous = text[:line_start].rstrip()
    if previous.endswith(tuple(openers)):
        return HoleKind.BLOCK
    return HoleKind.STATEMENT


def grid_start(text: str, cursor: int, budget: int, share: int) -> int:
    """The first line start at or after the first multiple of ``budget // share`` from ``cursor - budget``.

    0 when the budget reaches the document's start; ``cursor - budget`` itself when ``share`` is 0 or
    no such line start lies before the cursor (then the cut is as fine as without a grid).
    """
    lower = max(0, cursor - budget)
    step = budget // share if share > 0 else 0
    if lower == 0 or step <= 1:
        return lower
    point = -(-lower // step) * step
    line_start = point if text[point - 1 : point] == "\n" else text.find("\n", point, cursor) + 1
    return line_start if 0 < line_start <= cursor else lower


def fresh_prefix_start(
    text: str,
    cursor: int,
    budget: int,
    language: LanguageSupport | None,
    tree: tree_sitter.Tree | None,
    grid_share: int = ANCHOR_GRID_SHARE,
) -> int:
    """Where a new prefix starts: the earliest syntax boundary from the grid line within the budget.

    Holes near each other get the same start (it moves in steps of ``budget // grid_share``
    characters), so the prefix before them is the same bytes.
    """
    lower = grid_start(text, cursor, budget, grid_share)
    if lower == max(0, cursor - budget):
        return prefix_cut(text, cursor, budget, language, tree)
    # Cut from the newline before the grid line, so that line itself is the first candidate start.
    return max(lower, prefix_cut(text, cursor, cursor - lower + 1, language, tree))


def stable_anchor(text: str, cursor: int, anchor: int, budget: int) -> bool:
    """True when a prefix may keep starting at ``anchor``: a line start within ``budget`` of ``cursor``.

    An anchor that would leave less than half the budget of prefix is dropped for a fresh cut.
    """
    if not 0 <= anchor <= cursor or cursor - anchor > budget:
        return False
    return anchor == 0 or (text[anchor - 1] == "\n" and cursor - anchor >= budget // 2)


def build_context(
    text: str,
    cursor: int,
    *,
    language: LanguageSupport | None = None,
    tree: tree_sitter.Tree | None = None,
    budgets: Budgets = Budgets(),
    anchor: int | None = None,
    grid_share: int = ANCHOR_GRID_SHARE,
) -> InfillContext:
    """Cut the prefix and suffix around ``cursor`` and classify the hole.

    ``anchor`` is where the previous prefix of this document started: kept while it is a line start
    within the budget, so the prefix (and the engine's cache of it) stays stable across keystrokes. A
    fresh start lies on a grid of ``budget // grid_share`` characters (0: no grid), so nearby holes share it.
    """
    if not 0 <= cursor <= len(text):
        raise ValueError(f"cursor {cursor} lies outside the text (length {len(text)})")
    if anchor is not None and stable_anchor(text, cursor, anchor, budgets.prefix_chars):
        start = anchor
    else:
        start = fresh_prefix_start(text, cursor, budgets.prefix_chars, language, tree, grid_share)
    end = suffix_cut(text, cursor, budgets.suffix_chars, language, tree)
    kind = classify_hole(text, cursor, language, tree)
    line_start = text.rfind("\n", 0, cursor) + 1
    line_end = len(text) if (e := text.find("\n", cursor)) == -1 else e
    return InfillContext(
        prefix=text[start:cursor],
        suffix=text[cursor:end],
        kind=kind,
        canvas_lengths=CANVAS_HINTS[kind],
        line_prefix=text[line_start:cursor],
        line_suffix=text[cursor:line_end].rstrip("\r"),
        indent_unit=detect_indent_unit(text[start:end], language.entry.indent if language else "    "),
        prefix_start=start,
        suffix_end=end,
    )
