"""Source (a): the definitions of the names near the cursor and in the enclosing function's signature.

Names are taken from whole lines (a few either side of the cursor's), so every cursor position on one line
asks for the same definitions. Each name resolves to one definition in another file: one the document
imports (by name, or through the module it names) first, then one in the same folder, then the first by
path. Pure: the look-up of definitions by name is passed in.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from infill_lsp.retrieval.outline import outline
from infill_lsp.retrieval.snippets import Snippet
from infill_lsp.workspace.definitions import Definition

# A name the lines around the cursor use, not an attribute (``obj.name``, ``Type::name``, ``ptr->name``): an
# attribute is a member of something, never a top-level definition found by its name alone (an imported
# module's attributes are looked up through the module: ``imported_in_use``).
NAME_NEAR = re.compile(r"(?<![.\w])(?<!::)(?<!->)[A-Za-z_][A-Za-z0-9_]*")
LINES_AROUND = 3  # lines above and below the cursor's line whose names are looked up
MAX_NAMES = 24  # names looked up per request, nearest first
MAX_IMPORTED = 16  # then imported names used further away
USE_LINES = 200  # how far from the cursor a use of an imported name is looked for
PER_NAME = 1  # definitions shown per name
OUTLINE_CHARS = 500  # a longer definition is shown as its outline (the packer passes a third of its budget)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A definition another file offers under a name, with the names an import uses for that file."""

    definition: Definition
    shown_path: str
    module_names: frozenset[str]
    package: str = ""  # the folder holding its file (a package an import may name)


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
    import_rows: frozenset[int] = frozenset()  # the lines of the import statements


def names_near(cursor: Cursor) -> list[tuple[str, int, frozenset[str]]]:
    """The names to look up with their distance in lines and the modules that qualify them where they are used
    (``core`` for ``core.is_json``), nearest first, each once: the names of the lines around the cursor and
    of the enclosing signature (distance ``LINES_AROUND + 1``; imported names first), then ``imported_in_use``."""
    seen: dict[str, int] = {}
    order = [cursor.line]
    for step in range(1, LINES_AROUND + 1):
        order += [cursor.line - step, cursor.line + step]
    for row in order:
        if 0 <= row < len(cursor.lines):
            for name in NAME_NEAR.findall(cursor.lines[row]):
                seen.setdefault(name, abs(row - cursor.line))
    for name in NAME_NEAR.findall(cursor.signature):
        seen.setdefault(name, LINES_AROUND + 1)
    names = [(n, d) for n, d in seen.items() if n not in cursor.own_names and len(n) > 1]
    imported = cursor.imported_names | cursor.imported_modules
    names.sort(key=lambda item: (item[0] not in imported, item[1]))  # stable: line order within a distance
    near = [(name, distance, frozenset[str]()) for name, distance in names[:MAX_NAMES]]
    taken = {name for name, _ in names[:MAX_NAMES]}
    return near + [use for use in imported_in_use(cursor) if use[0] not in taken][:MAX_IMPORTED]


def imported_in_use(cursor: Cursor) -> list[tuple[str, int, frozenset[str]]]:
    """What the document imports, as names to look up: each imported name, and each attribute it or an
    imported module is used with (``core.is_json``: is_json, qualified by core), by the distance from the
    cursor's line to the nearest use within ``USE_LINES`` lines (import statements are not uses); then the
    imported names without such a use, in import order. Distances start past the lines around the cursor.
    The line a fill is asked for may well use a name the lines around it do not: what the document imports
    is what its code calls."""
    names = [n for n in cursor.import_sources or sorted(cursor.imported_names)
             if len(n) > 1 and n not in cursor.own_names]  # fmt: skip
    qualifiers = sorted({*names, *(m for m in cursor.imported_modules if len(m) > 1)})
    if not qualifiers:
        return []
    low, high = max(0, cursor.line - USE_LINES), min(len(cursor.lines), cursor.line + USE_LINES + 1)
    rows = [row for row in range(low, high) if row not in cursor.import_rows]
    text = "\n".join(cursor.lines[row] for row in rows)
    starts = [0]
    for row in rows[:-1]:
        starts.append(starts[-1] + len(cursor.lines[row]) + 1)
    nearest: dict[str, int] = {}
    via: dict[str, set[str]] = {}
    wanted = set(names)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, qualifiers)) + r")\b(?:(?:\.|::)([A-Za-z_]\w*))?")
    for found in pattern.finditer(text):
        name, attribute = found.group(1), found.group(2)
        distance = abs(rows[bisect.bisect_right(starts, found.start()) - 1] - cursor.line)
        if attribute and attribute not in cursor.own_names and len(attribute) > 1:
            via.setdefault(attribute, set()).add(name)
            nearest[attribute] = min(nearest.get(attribute, distance), distance)
        if name in wanted:
            nearest[name] = min(nearest.get(name, distance), distance)
    far = LINES_AROUND + 2
    used = sorted(nearest.items(), key=lambda item: (item[1], item[0]))
    unused = [n for n in names if n not in nearest]
    return ([(n, far + d, frozenset(via.get(n, ()))) for n, d in used]
            + [(n, far + USE_LINES + 1, frozenset[str]()) for n in unused])


def _rank(candidate: Candidate, name: str, cursor: Cursor, via: frozenset[str] = frozenset()) -> tuple[int, str, int]:
    """0: the import names the definition's module; 1: its package (a folder re-exporting its files); 2: its
    file is in the document's folder; 3: found by name alone."""
    words = cursor.import_sources.get(name, frozenset()) | via
    through_module = bool(candidate.module_names & (cursor.imported_modules | words))
    through_package = bool(candidate.package) and candidate.package in cursor.imported_modules | words
    same_folder = PurePosixPath(candidate.definition.path).parent == PurePosixPath(cursor.path).parent
    rank = 0 if through_module else 1 if through_package else 2 if same_folder else 3
    return rank, candidate.definition.path, candidate.definition.line


def definitions_near(
    cursor: Cursor, lookup: Callable[[str], list[Candidate]], *, deadline: float = float("inf"),
    limit: int = OUTLINE_CHARS, ellipsis: str = "...",
) -> list[Snippet]:
    """One snippet per name near the cursor that another file defines, nearest (and imported) names first; a
    name imported but used further away only when it resolves through the import. A definition longer than
    ``limit`` characters is shown as its outline (``ellipsis``: the language's elided-body line)."""
    out: list[Snippet] = []
    taken: set[tuple[str, int]] = set()
    # In a file that imports what it uses from other files, a lower-case name it neither imports nor finds in
    # its own folder is a local, a parameter or a built-in: a definition elsewhere with that name is a stranger.
    # (A capitalized one is a type, which some languages import by namespace rather than by file.)
    explicit = bool(cursor.imported_names or cursor.imported_modules)
    for name, distance, via in names_near(cursor):
        if time.perf_counter() > deadline:
            break
        ranked = sorted(((_rank(c, name, cursor, via), c) for c in lookup(name) if c.definition.path != cursor.path),
                        key=lambda pair: pair[0])
        for (rank, _, _), candidate in ranked[:PER_NAME]:
            definition = candidate.definition
            if (definition.path, definition.line) in taken or (distance > LINES_AROUND + 1 and rank > 1) or (
                    rank == 3 and explicit and not name[:1].isupper()):
                continue
            taken.add((definition.path, definition.line))
            how = ("imported", "imported from its package", "same folder", "by name")[rank]
            if distance <= LINES_AROUND:
                where = f"used {distance} line(s) from the cursor"
            elif distance == LINES_AROUND + 1:
                where = "used in the enclosing signature"
            elif distance - LINES_AROUND - 2 <= USE_LINES:
                where = f"used {distance - LINES_AROUND - 2} lines from the cursor"
            else:
                where = "imported, not used elsewhere yet"
            why = f"{definition.kind} {name!r} {where}; resolved {how}"
            d = definition
            text = outline(d.text, d.signature, limit, ellipsis, d.kind)
            source = "definitions" if distance <= LINES_AROUND + 1 else "used"
            out.append(Snippet(source, candidate.shown_path, d.line, d.end_line, text, why))
    return out
