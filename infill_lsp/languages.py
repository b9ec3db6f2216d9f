"""Compiled language support: tree-sitter grammars and queries built from the ``grammars`` table.

Grammars are imported and compiled on first use, so starting the server costs nothing per language,
and a grammar whose ABI this tree-sitter cannot read fails with a message naming both versions.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import tree_sitter

from grammars import OPTIONAL_QUERY_KINDS, GrammarTableError, LanguageEntry, entry_for_path, load_table

SUPPORTED_ABI = (tree_sitter.MIN_COMPATIBLE_LANGUAGE_VERSION, tree_sitter.LANGUAGE_VERSION)


class GrammarError(RuntimeError):
    """A grammar could not be loaded or one of its queries does not compile."""


@dataclass(frozen=True, slots=True)
class LanguageSupport:
    """Everything infill needs to parse one language and reason about its syntax."""

    entry: LanguageEntry
    language: tree_sitter.Language
    boundaries: tree_sitter.Query
    holes: tree_sitter.Query
    functions: tree_sitter.Query | None = None  # optional queries: None when the language has none
    imports: tree_sitter.Query | None = None
    definitions: tree_sitter.Query | None = None

    @property
    def name(self) -> str:
        return self.entry.name

    def new_parser(self) -> tree_sitter.Parser:
        return tree_sitter.Parser(self.language)

    def parse(self, source: bytes) -> tree_sitter.Tree:
        return self.new_parser().parse(source)


def check_abi(name: str, abi_version: int, supported: tuple[int, int] = SUPPORTED_ABI) -> None:
    """Raise GrammarError when ``abi_version`` lies outside this tree-sitter's supported range."""
    low, high = supported
    if not low <= abi_version <= high:
        raise GrammarError(
            f"grammar {name!r} has ABI version {abi_version}, but tree-sitter {tree_sitter_version()} "
            f"reads versions {low} to {high}; install a matching tree-sitter or grammar package"
        )


def tree_sitter_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tree-sitter")
    except PackageNotFoundError:
        return "(unknown version)"


def compile_language(entry: LanguageEntry) -> LanguageSupport:
    """Import the grammar named by ``entry``, check its ABI and compile its queries."""
    try:
        module = importlib.import_module(entry.grammar_module)
        pointer = getattr(module, entry.grammar_function)()
    except (ImportError, AttributeError) as exc:
        raise GrammarError(
            f"language {entry.name!r}: cannot load grammar {entry.grammar_module}:{entry.grammar_function}: {exc}"
        ) from None
    try:
        language = tree_sitter.Language(pointer)
    except ValueError as exc:  # tree-sitter refuses ABIs it cannot read before we can ask
        raise GrammarError(
            f"grammar {entry.name!r} was rejected by tree-sitter {tree_sitter_version()} "
            f"(supported ABI versions {SUPPORTED_ABI[0]} to {SUPPORTED_ABI[1]}): {exc}"
        ) from None
    check_abi(entry.name, language.abi_version)
    queries: dict[str, tree_sitter.Query] = {}
    kinds = ("boundaries", "holes", *(k for k in OPTIONAL_QUERY_KINDS if entry.has_query(k)))
    for kind in kinds:
        try:
            queries[kind] = tree_sitter.Query(language, entry.query_source(kind))
        except GrammarTableError as exc:  # a query file that does not read
            raise GrammarError(str(exc)) from None
        except tree_sitter.QueryError as exc:
            raise GrammarError(f"language {entry.name!r}: {entry.query_dir / kind}.scm: {exc}") from None
    optional = {k: queries.get(k) for k in OPTIONAL_QUERY_KINDS}
    return LanguageSupport(entry, language, queries.pop("boundaries"), queries.pop("holes"), **optional)


class LanguageRegistry:
    """Maps LSP languageIds and file extensions to compiled ``LanguageSupport``; unknown → None."""

    def __init__(self, entries: dict[str, LanguageEntry] | None = None) -> None:
        self.entries = load_table() if entries is None else entries
        self._by_id = {i: e.name for e in self.entries.values() for i in e.language_ids}
        self._compiled: dict[str, LanguageSupport] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def name_for(self, language_id: str, uri: str = "") -> str | None:
        """Return the table name for a document, by languageId first and file extension second."""
        if language_id in self._by_id:
            return self._by_id[language_id]
        if language_id in self.entries:
            return language_id
        entry = entry_for_path(unquote(urlparse(uri).path), self.entries)
        return entry.name if entry is not None else None

    def get(self, name: str | None) -> LanguageSupport | None:
        """Return compiled support for ``name``; None for unknown languages or grammars that fail."""
        if name is None or name not in self.entries or name in self._failed:
            return None
        with self._lock:
            if name not in self._compiled:
                try:
                    self._compiled[name] = compile_language(self.entries[name])
                except GrammarError as exc:
                    self._failed[name] = str(exc)
                    return None
            return self._compiled[name]

    def loaded(self) -> list[str]:
        """Names of the grammars compiled so far."""
        return sorted(self._compiled)

    def failures(self) -> dict[str, str]:
        """Grammars that failed to load, with why (reported once by the server)."""
        return dict(self._failed)

    def for_document(self, language_id: str, uri: str = "") -> LanguageSupport | None:
        return self.get(self.name_for(language_id, uri))
