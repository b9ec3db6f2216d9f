"""Source (a'): the outline of each module the document imports.

A line that calls ``utils.parse(...)`` may be the only one that names ``parse``: while the user writes it, no
name near the cursor leads to that definition. What the document imports does: the module's outline (the
first line of each of its top-level definitions) shows what the line can call. Modules used nearest the
cursor come first, and in each outline the definitions whose names share words with the lines around the
cursor, then the public ones, each group in file order, so the packer's cut keeps the likeliest. Pure: the
index's look-up of a module's files is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infill_lsp.retrieval.snippets import Snippet
from infill_lsp.workspace.definitions import Definition

WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")  # identifier words: parse, URL, Query, 2
USE_LINES = 200  # how far from the cursor a module's use is looked for (unused modules come last)
AROUND = 10  # lines either side of the cursor whose words rank an outline's definitions

ModuleFiles = Callable[[str], list[tuple[str, tuple[Definition, ...]]]]


@dataclass(frozen=True, slots=True)
class ImportedModule:
    """A word an import statement uses (a module, or a name that may be one), and where it is used."""

    word: str
    distance: int  # lines from the cursor to its nearest use outside the import statements


def subwords(name: str) -> set[str]:
    """``parse_url`` and ``parseURL`` -> {parse, url}: lower-case words of an identifier."""
    return {w.lower() for part in name.split("_") for w in WORD.findall(part)}


def imported_modules(words: Iterable[str], lines: list[str], line: int, import_rows: frozenset[int]
                     ) -> list[ImportedModule]:
    """``words`` (what the document imports), each with the distance to its nearest use within ``USE_LINES``
    lines of the cursor's (``USE_LINES + 1`` when unused), nearest first."""
    wanted = sorted({w for w in words if len(w) > 1})
    if not wanted:
        return []
    nearest = dict.fromkeys(wanted, USE_LINES + 1)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, wanted)) + r")\b")
    for row in range(max(0, line - USE_LINES), min(len(lines), line + USE_LINES + 1)):
        if row not in import_rows:
            for word in pattern.findall(lines[row]):
                nearest[word] = min(nearest[word], abs(row - line))
    return sorted((ImportedModule(w, d) for w, d in nearest.items()), key=lambda m: (m.distance, m.word))


def module_outline(definitions: tuple[Definition, ...], near: set[str]) -> str:
    """The first lines of ``definitions``: those sharing a word with ``near`` first, then public ones, then the
    rest, each group in file order."""
    def rank(item: tuple[int, Definition]) -> tuple[int, int]:
        order, definition = item
        group = 0 if subwords(definition.name) & near else 1 if not definition.name.startswith("_") else 2
        return group, order

    firsts = [d.signature.strip() for _, d in sorted(enumerate(definitions), key=rank) if d.signature.strip()]
    return "\n".join(dict.fromkeys(firsts))


def module_outlines(
    words: Iterable[str],
    lines: list[str],
    line: int,
    import_rows: frozenset[int],
    module_files: ModuleFiles,
    *,
    skip: set[str],
    display: Callable[[str], str],
) -> list[Snippet]:
    """One snippet per file a word the document imports names (``module_files(word)``), not in ``skip`` (the
    document itself): the outline of its definitions, modules used nearest first."""
    near = {w for row in lines[max(0, line - AROUND) : line + AROUND + 1] for w in subwords(row)}
    out: list[Snippet] = []
    seen: set[str] = set()
    for module in imported_modules(words, lines, line, import_rows):
        for path, definitions in module_files(module.word):
            if path in skip or path in seen or not definitions:
                continue
            seen.add(path)
            where = (f"used {module.distance} line(s) from the cursor" if module.distance <= USE_LINES
                     else "not used yet")
            why = f"outline of module {module.word!r}: imported, {where}"
            # Placed at its first definition's line, so the block writes it before that file's definitions.
            first = min(d.line for d in definitions)
            out.append(Snippet("outlines", display(path), first, first, module_outline(definitions, near), why))
    return out
