"""Holes to fill in one source text: recipe queries, a user query, or explicit markers.

Pure: text and compiled queries in, ``Hole`` values out. Recipes are data (``grammars/batch_recipes.toml``
and ``grammars/<language>/batch_*.scm``); a query marks holes with the captures ``@hole`` (replace the
node) and ``@hole.before`` (insert before the node, then a newline and the node's indentation), and
marks nodes that hold no hole with ``@skip`` (an overload's ``...`` is its definition, not a stub).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from grammars import GrammarTableError, grammars_dir, read_query, read_table
from infill_lsp.languages import LanguageSupport

RECIPES_FILE = "batch_recipes.toml"
CAPTURE_REPLACE = "hole"
CAPTURE_BEFORE = "hole.before"
CAPTURE_SKIP = "skip"
MARKER_RECIPE = "marker"
QUERY_RECIPE = "query"
DOCSTRING_PLANNER = "docstring"  # plan the hole as infill.writeDocstring does (quotes outside the hole)
PLANNERS = ("", DOCSTRING_PLANNER)
DEFAULT_CANVAS = 64


class RecipeError(ValueError):
    """The recipe table, a recipe query or a user query is malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipe:
    """One row of the recipe table: a query file name and how its holes are filled."""

    name: str
    query: str
    canvas: int = DEFAULT_CANVAS
    pinned: str = ""
    single_line: bool = False
    planner: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hole:
    """A span of the text to replace by a fill (``start == end`` inserts); offsets are characters."""

    start: int
    end: int
    recipe: str
    canvas: int = DEFAULT_CANVAS
    pinned: str = ""
    single_line: bool = False
    trailer: str = ""  # appended to every fill (for inserts: a newline and the indentation)
    planner: str = ""  # a fill-layer planner that plans this hole instead of the recipe's fields

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


def load_recipes(path: Path | None = None) -> dict[str, Recipe]:
    """Read the recipe table (default: the packaged one) and return its recipes by name."""
    raw = read_table(path or grammars_dir() / RECIPES_FILE, RecipeError, "recipe table")
    recipes = {}
    for name, row in raw.items():
        if not isinstance(row, dict) or not isinstance(row.get("query"), str):
            raise RecipeError(f"recipe {name!r}: expected a table with a 'query' file name")
        canvas = row.get("canvas", DEFAULT_CANVAS)
        if not isinstance(canvas, int) or not 2 <= canvas <= 256:
            raise RecipeError(f"recipe {name!r}: 'canvas' must be an integer in [2, 256]")
        planner = row.get("planner", "")
        if planner not in PLANNERS:
            raise RecipeError(f"recipe {name!r}: 'planner' must be one of {', '.join(map(repr, PLANNERS))}")
        recipes[name] = Recipe(
            name=name,
            query=row["query"],
            canvas=canvas,
            pinned=str(row.get("pinned", "")),
            single_line=bool(row.get("single_line", False)),
            planner=planner,
            description=str(row.get("description", "")),
        )
    return recipes


def recipe_query(language: LanguageSupport, recipe: Recipe) -> tree_sitter.Query | None:
    """Compile ``recipe``'s query for ``language``; None when the language has no such query file."""
    query_dir = language.entry.query_dir
    if not (query_dir / recipe.query).is_file():
        return None
    try:
        source = read_query(query_dir, recipe.query)
    except GrammarTableError as exc:
        raise RecipeError(str(exc)) from None
    return compile_query(language, source, str(query_dir / recipe.query))


def compile_query(language: LanguageSupport, source: str, origin: str) -> tree_sitter.Query:
    """Compile a hole query and check it captures ``@hole`` or ``@hole.before``."""
    try:
        query = tree_sitter.Query(language.language, source)
    except tree_sitter.QueryError as exc:
        raise RecipeError(f"{origin}: {exc}") from None
    names = {query.capture_name(i) for i in range(query.capture_count)}
    if not names & {CAPTURE_REPLACE, CAPTURE_BEFORE}:
        raise RecipeError(f"{origin}: the query captures neither @{CAPTURE_REPLACE} nor @{CAPTURE_BEFORE}")
    return query


class _Offsets:
    """Byte offsets to character offsets, for texts that are not pure ASCII."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self.starts: list[int] = []
        if not self.ascii:
            total = 0
            for char in text:
                self.starts.append(total)
                total += len(char.encode("utf-8", "surrogatepass"))
            self.starts.append(total)

    def char(self, byte: int) -> int:
        if self.ascii:
            return byte
        import bisect

        return bisect.bisect_left(self.starts, byte)


def _line_indent(text: str, offset: int) -> str | None:
    """The indentation before ``offset`` when only whitespace precedes it on its line, else None."""
    line_start = text.rfind("\n", 0, offset) + 1
    lead = text[line_start:offset]
    return lead if not lead.strip(" \t") else None


def query_holes(
    text: str,
    tree: tree_sitter.Tree,
    query: tree_sitter.Query,
    *,
    recipe: str,
    canvas: int = DEFAULT_CANVAS,
    pinned: str = "",
    single_line: bool = False,
    planner: str = "",
) -> list[Hole]:
    """Return the holes ``query`` captures in ``tree`` (the parse of ``text``), none inside a ``@skip``."""
    offsets = _Offsets(text)
    holes = []
    matches = tree_sitter.QueryCursor(query).matches(tree.root_node)
    skips = [(n.start_byte, n.end_byte) for _, captures in matches for n in captures.get(CAPTURE_SKIP, ())]
    for _, captures in matches:
        for name, nodes in captures.items():
            if name not in (CAPTURE_REPLACE, CAPTURE_BEFORE):
                continue
            for node in nodes:
                if any(low <= node.start_byte and node.end_byte <= high for low, high in skips):
                    continue
                start, end = offsets.char(node.start_byte), offsets.char(node.end_byte)
                trailer = ""
                if name == CAPTURE_BEFORE:
                    indent = _line_indent(text, start)
                    trailer = "\n" + indent if indent is not None else " "
                    end = start
                holes.append(
                    Hole(
                        start=start,
                        end=end,
                        recipe=recipe,
                        canvas=canvas,
                        pinned=pinned,
                        single_line=single_line,
                        trailer=trailer,
                        planner=planner,
                    )
                )
    return holes


def marker_holes(text: str, marker: str) -> list[Hole]:
    """Return a hole for every occurrence of ``marker`` in ``text``."""
    holes, at = [], text.find(marker)
    while at >= 0 and marker:
        holes.append(Hole(start=at, end=at + len(marker), recipe=MARKER_RECIPE))
        at = text.find(marker, at + len(marker))
    return holes


def without_overlaps(holes: list[Hole]) -> tuple[list[Hole], list[Hole]]:
    """Sort holes by position and drop duplicates and holes overlapping an earlier one.

    Returns (kept, dropped). Two inserts at one offset, or an insert inside a replaced span, overlap.
    """
    kept: list[Hole] = []
    dropped: list[Hole] = []
    seen: set[tuple[int, int]] = set()
    for hole in sorted(holes, key=lambda h: (h.start, -h.end, h.recipe)):
        if hole.span in seen:
            continue
        seen.add(hole.span)
        if kept and (hole.start < kept[-1].end or hole.start == kept[-1].start):
            dropped.append(hole)
            continue
        kept.append(hole)
    return kept, dropped


def hole_context(text: str, hole: Hole, others: list[Hole], marker: str = "") -> tuple[str, str]:
    """Return (prefix, suffix) the engine sees for ``hole``: the text around it, other markers removed."""
    prefix, suffix = text[: hole.start], text[hole.end :]
    if marker and any(h.recipe == MARKER_RECIPE for h in others):
        prefix, suffix = prefix.replace(marker, ""), suffix.replace(marker, "")
    return prefix, suffix
