"""Source (a): the definitions of the names near the cursor and in the enclosing function's signature.

Names are taken from whole lines (a few either side of the cursor's), so every cursor position on one line
asks for the same definitions. Each name resolves to one definition in another file: one the document
imports (by name, or through the module it names) first, then one in the same folder, then the first by
path. Pure: the look-up of definitions by name is passed in.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from infill_lsp.retrieval.snippets import Snippet
from infill_lsp.workspace.definitions import Definition

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LINES_AROUND = 3  # lines above and below the cursor's line whose names are looked up
MAX_NAMES = 24  # names looked up per request, nearest first
PER_NAME = 1  # definitions shown per name


@dataclass(frozen=True, slots=True)
class Candidate:
    """A definition another file offers under a name, with the names an import uses for that file."""

    definition: Definition
    shown_path: str
    module_names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Cursor:
    """What this source needs of the document at the cursor."""

    path: str  # the document's own path (its definitions are never offered back)
    lines: list[str]
    line: int
    signature: str = ""  # the enclosing function's text up to its body ("" outside a function)
    imported_names: frozenset[str] = frozenset()
    imported_modules: frozenset[str] = frozenset()
    own_names: frozenset[str] = frozenset()  # names the document defines itself
    import_sources: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> its import's words


def names_near(cursor: Cursor) -> list[tuple[str, int]]:
    """The names to look up with their distance in lines (-1: the signature), nearest first, each once."""
    seen: dict[str, int] = {}
    order = [cursor.line]
    for step in range(1, LINES_AROUND + 1):
        order += [cursor.line - step, cursor.line + step]
    for row in order:
        if 0 <= row < len(cursor.lines):
            for name in IDENTIFIER.findall(cursor.lines[row]):
                seen.setdefault(name, abs(row - cursor.line))
    for name in IDENTIFIER.findall(cursor.signature):
        seen.setdefault(name, LINES_AROUND + 1)
    names = [(n, d) for n, d in seen.items() if n not in cursor.own_names and len(n) > 1]
    imported = cursor.imported_names | cursor.imported_modules
    names.sort(key=lambda item: (item[0] not in imported, item[1]))  # stable: line order within a distance
    return names[:MAX_NAMES]


def _rank(candidate: Candidate, name: str, cursor: Cursor) -> tuple[int, str, int]:
    through_module = bool(candidate.module_names & cursor.imported_modules)
    through_name = bool(candidate.module_names & cursor.import_sources.get(name, frozenset()))
    through_import = through_module or through_name
    same_folder = PurePosixPath(candidate.definition.path).parent == PurePosixPath(cursor.path).parent
    rank = 0 if through_import else 1 if same_folder else 2
    return rank, candidate.definition.path, candidate.definition.line


def definitions_near(
    cursor: Cursor, lookup: Callable[[str], list[Candidate]], *, deadline: float = float("inf")
) -> list[Snippet]:
    """One snippet per name near the cursor that another file defines, nearest (and imported) names first."""
    out: list[Snippet] = []
    taken: set[tuple[str, int]] = set()
    for name, distance in names_near(cursor):
        if time.perf_counter() > deadline:
            break
        found = [c for c in lookup(name) if c.definition.path != cursor.path]
        found.sort(key=lambda c: _rank(c, name, cursor))
        for candidate in found[:PER_NAME]:
            definition = candidate.definition
            if (definition.path, definition.line) in taken:
                continue
            taken.add((definition.path, definition.line))
            rank = _rank(candidate, name, cursor)[0]
            how = ("imported" if rank == 0 else "same folder" if rank == 1 else "by name")
            where = "the enclosing signature" if distance > LINES_AROUND else f"{distance} line(s) from the cursor"
            why = f"{definition.kind} {name!r} used {where}; resolved {how}"
            d = definition
            out.append(Snippet("definitions", candidate.shown_path, d.line, d.end_line, d.text, why))
    return out
