"""The context sources for one cursor, each within its time budget, from open documents and the index.

Open documents speak for their files (their live text wins over the index's copy); the index answers for
every other file of the workspace. ``SourceCache`` keeps what the sources derive per document version.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from infill_lsp.config import Settings
from infill_lsp.crossfile import (
    RECENT_RADIUS,
    document_definitions,
    imported,
    module_names_of,
    recent_region,
    uri_path,
)
from infill_lsp.documents import Document
from infill_lsp.retrieval.modules import module_outlines
from infill_lsp.retrieval.nearby import OUTLINE_CHARS, Candidate, Cursor, definitions_near
from infill_lsp.retrieval.outline import outline
from infill_lsp.retrieval.packer import Packed, pack
from infill_lsp.retrieval.similar import line_words, query_words, similar_windows
from infill_lsp.retrieval.snippets import Snippet, by_priority
from infill_lsp.syntax import enclosing_function
from infill_lsp.workspace.definitions import Definition, defined_names, import_sources

MIN_OUTLINE_CHARS = 160
RECENT_DOCUMENTS = 2  # other documents whose latest edit is shown
SIMILAR_DOCUMENTS = 20  # open documents searched for similar windows, most recently edited first


class DefinitionLookup(Protocol):
    """What the definitions source asks of an index: the definitions named ``name`` in files of a language
    family, in path order (``WorkspaceIndex``; the training corpus's table of a package's files)."""

    def lookup(self, name: str, family: str | None = None) -> list[Definition]: ...


@functools.lru_cache(maxsize=4096)
def candidate_names(path: str, package_is_folder: bool) -> tuple[frozenset[str], str]:
    """The names an import may use for the file at ``path`` (``module_names_of``), and its folder's name: a
    package re-exports what its files define (``from shop import Cart`` with ``Cart`` in shop/cart.py)."""
    return frozenset(module_names_of(path, package_is_folder)), Path(path).parent.name


@functools.lru_cache(maxsize=4096)
def real_path(path: str) -> str:
    """``path`` with symbolic links resolved (an index stores resolved paths)."""
    return os.path.realpath(path)


class SourceCache:
    """What the sources derive from a document, kept per URI while its version stays the same."""

    def __init__(self) -> None:
        self._definitions: dict[str, tuple[str, list[Definition]]] = {}
        self._words: dict[str, tuple[str, list[list[str]]]] = {}
        self._imports: dict[str, tuple[str, tuple[dict[str, frozenset[str]], frozenset[int]]]] = {}
        self._lines: dict[str, tuple[str, list[str]]] = {}

    def lines(self, document: Document) -> list[str]:
        cached = self._lines.get(document.uri)
        if cached is None or cached[0] is not document.text:
            cached = self._lines[document.uri] = (document.text, document.text.split("\n"))
        return cached[1]

    def definitions(self, document: Document) -> list[Definition]:
        cached = self._definitions.get(document.uri)
        if cached is None or cached[0] is not document.text:  # text objects are replaced on every edit
            cached = self._definitions[document.uri] = (document.text, document_definitions(document))
        return cached[1]

    def imports(self, document: Document) -> tuple[dict[str, frozenset[str]], frozenset[int]]:
        """``import_sources`` of the document: each imported name's import words, and the import lines."""
        cached = self._imports.get(document.uri)
        if cached is None or cached[0] is not document.text:
            found = (import_sources(document.language, document.tree) if document.language and document.tree
                     else ({}, frozenset()))  # fmt: skip
            cached = self._imports[document.uri] = (document.text, found)
        return cached[1]

    def words(self, document: Document) -> list[list[str]]:
        cached = self._words.get(document.uri)
        if cached is None or cached[0] is not document.text:
            cached = self._words[document.uri] = (document.text, line_words(document.text))
        return cached[1]

    def forget(self, uri: str) -> None:
        self._definitions.pop(uri, None)
        self._words.pop(uri, None)
        self._imports.pop(uri, None)
        self._lines.pop(uri, None)


@dataclass(frozen=True, slots=True)
class Gathered:
    """The snippets of every source, by priority, and how long each source took (ms)."""

    snippets: list[Snippet]
    timings_ms: dict[str, float] = field(default_factory=dict)


def _family(document: Document) -> str | None:
    return document.language.entry.query_dir.name if document.language else None


def gather(
    target: Document,
    offset: int,
    others: list[Document],
    settings: Settings,
    *,
    index: DefinitionLookup | None = None,
    display: Callable[[str], str] = lambda path: Path(path).name,
    cache: SourceCache | None = None,
    extra: list[Snippet] | None = None,
    outline_chars: int = OUTLINE_CHARS,
) -> Gathered:
    """Every source's snippets for the cursor at ``offset`` of ``target`` (``others``: the other open documents);
    a definition longer than ``outline_chars`` is given as its outline."""
    cache = cache or SourceCache()
    family = _family(target)
    others = [d for d in sorted(others, key=lambda d: d.uri) if d.uri != target.uri]
    kin = [d for d in others if family is not None and _family(d) == family]
    snippets: list[Snippet] = list(extra or [])
    timings: dict[str, float] = {}

    def run(name: str, enabled: bool, budget_ms: int, source: Callable[[float], list[Snippet]]) -> None:
        if not enabled:
            return
        started = time.perf_counter()
        snippets.extend(source(started + budget_ms / 1000))
        timings[name] = round((time.perf_counter() - started) * 1000, 3)

    names, modules = imported(target) if family is not None else (set(), set())
    line = target.index.line_of(offset)
    run("definitions", settings.context_definitions and family is not None, settings.context_definitions_ms,
        lambda deadline: _definitions(target, line, names, modules, kin, index, display, cache, deadline,
                                      outline_chars))
    run("imports", settings.context_definitions and family is not None, settings.context_definitions_ms,
        lambda deadline: _imports(names, modules, kin, display, cache, elided_body(target), outline_chars))
    run("outlines", settings.context_definitions and family is not None, settings.context_definitions_ms,
        lambda deadline: _outlines(target, line, names, modules, kin, index, display, cache))
    run("recent", settings.context_recent, settings.context_recent_ms, lambda deadline: _recent(others, display))
    run("similar", settings.context_similar and family is not None, settings.context_similar_ms,
        lambda deadline: _similar(target, line, kin, display, cache, deadline))  # fmt: skip
    return Gathered(by_priority(snippets), timings)


def _definitions(
    target: Document,
    line: int,
    names: set[str],
    modules: set[str],
    kin: list[Document],
    index: DefinitionLookup | None,
    display: Callable[[str], str],
    cache: SourceCache,
    deadline: float,
    outline_chars: int = OUTLINE_CHARS,
) -> list[Snippet]:
    entry = target.language.entry if target.language else None
    folder = bool(entry and entry.package_is_folder)
    family = _family(target)
    own_path = real_path(str(uri_path(target.uri)))
    open_paths = {real_path(str(uri_path(d.uri))) for d in kin} | {own_path}
    live: dict[str, list[Candidate]] = {}
    for document in kin:
        path = real_path(str(uri_path(document.uri)))
        shown, names_of = display(path), candidate_names(path, folder)
        for definition in cache.definitions(document):
            live.setdefault(definition.name, []).append(Candidate(definition, shown, *names_of))

    def lookup(name: str) -> list[Candidate]:
        found = list(live.get(name, ()))
        if index is not None and family is not None:
            for definition in index.lookup(name, family):
                if definition.path not in open_paths:
                    names_of = candidate_names(definition.path, folder)
                    found.append(Candidate(definition, display(definition.path), *names_of))
        return found

    signature = ""
    if target.language is not None and target.tree is not None:
        function = enclosing_function(target.language, target.tree, target.text, target.index.starts[line])
        if function is not None:
            signature = target.text[function.start : function.body_start]
    own = defined_names(target.language, target.tree) if target.language and target.tree else frozenset()
    sources, rows = cache.imports(target)
    cursor = Cursor(own_path, cache.lines(target), line, signature, frozenset(names), frozenset(modules), own,
                    sources, rows)  # fmt: skip
    return definitions_near(cursor, lookup, deadline=deadline, limit=outline_chars, ellipsis=elided_body(target))


def _outlines(target: Document, line: int, names: set[str], modules: set[str], kin: list[Document], index,
              display, cache: SourceCache) -> list[Snippet]:
    """The outlines of the modules ``target`` imports: from open documents (their live text) and from the
    index's other files."""
    entry = target.language.entry if target.language else None
    folder = bool(entry and entry.package_is_folder)
    family = _family(target)
    open_files = {real_path(str(uri_path(d.uri))): d for d in kin}
    module_files = getattr(index, "module_files", None)

    def is_module(word: str, path: str) -> bool:
        """Whether ``word`` names the file at ``path``: its stem (or folder) as written; capitalized (OCaml's
        ``Bi_share`` for bi_share.ml) only where the import names a module, not a name (``Settings`` imported
        from somewhere is a class, not settings.py)."""
        exact = PurePosixPath(path).parent.name if folder else PurePosixPath(path).stem
        return word == exact or (word in modules and word in candidate_names(path, folder)[0])

    def files(word: str) -> list[tuple[str, tuple[Definition, ...]]]:
        """The files ``word`` names: open documents (their live text) first, then the index's other files."""
        found = [(path, tuple(cache.definitions(d))) for path, d in open_files.items() if is_module(word, path)]
        if module_files is not None:
            found += [(path, definitions) for path, definitions in module_files(word, family)
                      if path not in open_files and is_module(word, path)]
        return found

    return module_outlines(names | modules, cache.lines(target), line, cache.imports(target)[1], files,
                           skip={real_path(str(uri_path(target.uri)))}, display=display)


def elided_body(document: Document) -> str:
    """The line an outline puts for an elided body: Python's ``...``, else a comment saying so."""
    entry = document.language.entry if document.language else None
    if entry is None or entry.name == "python" or not entry.line_comment:
        return "..."
    return f"{entry.line_comment} ..."


def _imports(
    names: set[str], modules: set[str], kin: list[Document], display: Callable[[str], str], cache: SourceCache,
    ellipsis: str = "...",
    outline_chars: int = OUTLINE_CHARS,
) -> list[Snippet]:
    """Definitions the document imports from open documents (a module imported whole gives all of its)."""
    out: list[Snippet] = []
    for document in kin:
        path = real_path(str(uri_path(document.uri)))
        folder = bool(document.language and document.language.entry.package_is_folder)
        whole = bool(module_names_of(path, folder) & (modules | names))
        for definition in cache.definitions(document):
            if whole or definition.name in names:
                why = f"{definition.kind} {definition.name!r}: " + ("its module is imported" if whole else "imported")
                d = definition
                text = outline(d.text, d.signature, outline_chars, ellipsis, d.kind)
                out.append(Snippet("imports", display(path), d.line, d.end_line, text, why))
    return out


def _recent(others: list[Document], display: Callable[[str], str]) -> list[Snippet]:
    edited = sorted((d for d in others if d.edited_line is not None), key=lambda d: d.edited_at, reverse=True)
    out = []
    for document in edited[:RECENT_DOCUMENTS]:
        text = recent_region(document)
        if text and document.edited_line is not None:
            path = real_path(str(uri_path(document.uri)))
            why = f"the latest edit there (line {document.edited_line + 1})"
            first, last = max(0, document.edited_line - RECENT_RADIUS), document.edited_line + RECENT_RADIUS
            out.append(Snippet("recent", display(path), first, last, text, why))
    return out


def _similar(
    target: Document,
    line: int,
    kin: list[Document],
    display: Callable[[str], str],
    cache: SourceCache,
    deadline: float,
) -> list[Snippet]:
    query = query_words(cache.lines(target), line)
    recent = sorted(kin, key=lambda d: d.edited_at, reverse=True)[:SIMILAR_DOCUMENTS]
    files = [(display(real_path(str(uri_path(d.uri)))), d.text, cache.words(d))
             for d in sorted(recent, key=lambda d: d.uri)]  # fmt: skip
    return similar_windows(query, files, deadline=deadline)


def outline_share(budget: int) -> int:
    """The longest definition given whole in a block of ``budget`` characters: a third of it (at least
    ``MIN_OUTLINE_CHARS``), so a block holds a few definitions rather than one."""
    return max(MIN_OUTLINE_CHARS, budget // 3)


def shown_windows(text: str, offset: int, prefix_chars: int, suffix_chars: int) -> str:
    """The text the prefix and suffix windows can show for a cursor at ``offset``: measured from the cursor's
    line start and end, so it is the same for every cursor position on one line."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end == -1 else end
    return text[max(0, start - prefix_chars) : end + suffix_chars]


def context_block(
    target: Document,
    offset: int,
    others: list[Document],
    settings: Settings,
    *,
    budget: int,
    prefix_chars: int,
    suffix_chars: int,
    index: DefinitionLookup | None = None,
    display: Callable[[str], str] = lambda path: Path(path).name,
    cache: SourceCache | None = None,
    extra: list[Snippet] | None = None,
) -> tuple[Packed, Gathered]:
    """The cross-file block for the cursor at ``offset`` within ``budget`` characters, and what it was made of.

    ``prefix_chars`` and ``suffix_chars`` are the windows' budgets: what they show is not repeated.
    """
    comment = target.language.entry.line_comment if target.language else ""
    if not comment or budget <= 0:
        return Packed(), Gathered([])
    gathered = gather(target, offset, others, settings, index=index, display=display, cache=cache, extra=extra,
                      outline_chars=outline_share(budget))
    shown = shown_windows(target.text, offset, max(0, prefix_chars - budget), suffix_chars)
    return pack(gathered.snippets, budget=budget, comment=comment, shown=shown), gathered
