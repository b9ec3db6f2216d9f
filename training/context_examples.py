"""Repository context for training examples: the block the language server would put before a hole's prefix.

At serving time the language server fills the prompt's context slot with code from other files of the
workspace (``infill_lsp.retrieval``: definitions of the names near the cursor, resolved through the file's
imports and the workspace index; what the file imports from the files open beside it; the most similar
60-line windows of those files), each file under a marker line in the language's comment syntax
(``# file: pkg/models.py``), packed into the cross-file character budget. Here the same code builds that
block for a hole cut from a corpus file, from the *other* files of the same package:

- the workspace is the package: every file of it is in the index (``PackageDefinitions``, the
  ``DefinitionLookup`` the definitions source asks);
- the files "open beside it" are up to ``OPEN_FILES`` other files of the hole's folder (as ``infill eval repo``
  opens the target's folder), drawn at random;
- the hole's file is the document being edited, with the middle not yet written (prefix + suffix, the cursor
  between them), so nothing of the answer can be looked up; it is never a source of context;
- a snippet that holds the middle verbatim (at least ``MIN_ANSWER_CHARS`` non-blank characters: shorter
  middles, a name or a bracket, occur in any code) is dropped and the block packed again.

The budget is serving's (``infill_lsp.completion.context_budgets``: ``cross_file_chars`` scaled to the prefix
window the model's token budget allows). The corpus is decontaminated and license-checked per file, and the
context comes only from files of the same package (of the same split), so no text enters that the corpus
does not already hold.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from pathlib import PurePosixPath

from engine.protocol import PROTOCOL_VERSION, Welcome
from grammars import entry_for_path
from infill_lsp.completion import context_budgets
from infill_lsp.config import Settings
from infill_lsp.documents import Document
from infill_lsp.languages import LanguageRegistry, LanguageSupport
from infill_lsp.retrieval.gather import SourceCache, context_block, shown_windows
from infill_lsp.retrieval.packer import pack
from infill_lsp.workspace.definitions import Definition, symbols_of
from infill_lsp.workspace.index import module_keys

ROOT = "/infill-corpus"  # packages are laid out under it, one folder each (a path nothing on disk has)
OPEN_FILES = 8  # other files of the hole's folder taken as open documents
MIN_ANSWER_CHARS = 8  # a middle with this many non-blank characters never appears in its context
CACHED_CHARS = 24_000_000  # text of the packages whose parsed definitions a builder keeps
# Serving's sources with time budgets that never cut a training example short (the result does not depend
# on the machine's speed); the recent-edits source has nothing to show for files nobody edited.
TRAINING_SETTINGS = Settings(context_definitions_ms=1000, context_similar_ms=1000, context_recent=False)


def serving_budgets(max_prefix_tokens: int, max_suffix_tokens: int, chars_per_token: float) -> tuple[int, int, int]:
    """(cross-file budget, prefix window, suffix window) in characters, as the language server computes them
    for an engine that announces these token budgets."""
    welcome = Welcome(protocol_version=PROTOCOL_VERSION, model_name="training", device="", backend="",
                      max_prefix_tokens=max_prefix_tokens, max_suffix_tokens=max_suffix_tokens,
                      chars_per_token=chars_per_token)  # fmt: skip
    budgets, cross_file = context_budgets(Settings(), welcome)
    return cross_file, budgets.prefix_chars, budgets.suffix_chars


def package_key(record: dict) -> str:
    """The package a corpus record belongs to ("" for a record that names none)."""
    package = record.get("package") or ""
    return f"{package}=={record.get('version') or ''}" if package else ""


class PackageDefinitions:
    """The top-level definitions of a package's files by name, per language family: the package as the
    workspace index sees it. A family's files are parsed when it is first asked for."""

    def __init__(self, root: str, files: dict[str, tuple[str, LanguageSupport]]) -> None:
        self.root = root
        self.files = files  # path in the package -> (text, language)
        self._by_family: dict[str | None, dict[str, list[Definition]]] = {}
        self._modules: dict[str | None, dict[str, list[tuple[str, tuple[Definition, ...]]]]] = {}

    def lookup(self, name: str, family: str | None = None) -> list[Definition]:
        if family not in self._by_family:
            self._build(family)
        return list(self._by_family[family].get(name, ()))

    def module_files(self, name: str, family: str | None = None) -> list[tuple[str, tuple[Definition, ...]]]:
        """The files an import naming ``name`` may mean, with their definitions (``WorkspaceIndex.module_files``)."""
        if family not in self._modules:
            self._build(family)
        return list(self._modules[family].get(name, ()))

    def _build(self, family: str | None) -> None:
        by_name: dict[str, list[Definition]] = {}
        modules: dict[str, list[tuple[str, tuple[Definition, ...]]]] = {}
        for path in sorted(self.files):
            text, support = self.files[path]
            if family is None or support.entry.query_dir.name == family:
                full = f"{self.root}/{path}"
                definitions = symbols_of(text, support, full).definitions
                for definition in definitions:
                    by_name.setdefault(definition.name, []).append(definition)
                for key in module_keys(PurePosixPath(full)):
                    modules.setdefault(key, []).append((full, definitions))
        for found in by_name.values():
            found.sort(key=lambda d: (d.path, d.line))
        self._by_family[family], self._modules[family] = by_name, modules


class _Package:
    """What a builder keeps of one package: its files with their languages, their definitions, a source cache."""

    def __init__(self, root: str, files: dict[str, tuple[str, LanguageSupport]]) -> None:
        self.root = root
        self.files = files
        self.definitions = PackageDefinitions(root, files)
        self.cache = SourceCache()
        self.chars = sum(len(text) for text, _ in files.values())


class ContextBuilder:
    """The context block for holes in the files of one corpus split, from the other files of their package.

    ``texts`` are (text, language) pairs and ``places`` the (package key, path) of each, in the same order;
    a file with no package key, or alone in its package, gets no context.
    """

    def __init__(
        self,
        texts: list[tuple[str, str]],
        places: list[tuple[str, str]],
        *,
        budget: int,
        prefix_chars: int,
        suffix_chars: int,
        registry: LanguageRegistry | None = None,
    ) -> None:
        if len(texts) != len(places):
            raise ValueError(f"{len(places)} places for {len(texts)} texts")
        self.texts, self.places = texts, places
        self.budget, self.prefix_chars, self.suffix_chars = budget, prefix_chars, suffix_chars
        self.registry = registry or LanguageRegistry()
        self.members: dict[str, list[int]] = {}
        for index, (package, _) in enumerate(places):
            if package:
                self.members.setdefault(package, []).append(index)
        self._packages: OrderedDict[str, _Package] = OrderedDict()
        self._supports: dict[str, LanguageSupport | None] = {}

    def support(self, path: str) -> LanguageSupport | None:
        """The language of a file by its name (None: no grammar, or a language without line comments)."""
        name = PurePosixPath(path).name
        if name not in self._supports:
            entry = entry_for_path(name)
            support = self.registry.get(entry.name) if entry is not None else None
            self._supports[name] = support if support is not None and support.entry.line_comment else None
        return self._supports[name]

    def _package(self, key: str) -> _Package:
        package = self._packages.get(key)
        if package is not None:
            self._packages.move_to_end(key)
            return package
        root = f"{ROOT}/{self.members[key][0]}"  # one folder per package, named by its first file's number
        files = {}
        for index in self.members[key]:
            path = self.places[index][1]
            support = self.support(path)
            if support is not None:
                files[path] = (self.texts[index][0], support)
        package = self._packages[key] = _Package(root, files)
        total = sum(p.chars for p in self._packages.values())
        while len(self._packages) > 1 and total > CACHED_CHARS:
            total -= self._packages.popitem(last=False)[1].chars
        return package

    def block(self, index: int, start: int, end: int, rng: random.Random) -> str:
        """The block for a hole at ``[start, end)`` of file ``index``: "" when its package offers nothing."""
        package_key, path = self.places[index]
        support = self.support(path)
        if not package_key or support is None or len(self.members.get(package_key, ())) < 2:
            return ""
        package = self._package(package_key)
        text = self.texts[index][0]
        middle = text[start:end]
        target = Document(_uri(package.root, path), text[:start] + text[end:], language=support)
        folder = PurePosixPath(path).parent
        beside = sorted(p for p in package.files if p != path and PurePosixPath(p).parent == folder)
        if len(beside) > OPEN_FILES:
            beside = sorted(rng.sample(beside, OPEN_FILES))
        others = [Document(_uri(package.root, p), package.files[p][0], language=package.files[p][1]) for p in beside]
        prefix = len(package.root) + 1

        def display(where: str) -> str:
            return where[prefix:] if where.startswith(package.root + "/") else PurePosixPath(where).name

        packed, gathered = context_block(target, start, others, TRAINING_SETTINGS, budget=self.budget,
                                         prefix_chars=self.prefix_chars, suffix_chars=self.suffix_chars,
                                         index=package.definitions, display=display, cache=package.cache)  # fmt: skip
        answer = middle.strip()
        if len("".join(answer.split())) < MIN_ANSWER_CHARS or answer not in packed.block:
            return packed.block
        kept = [s for s in gathered.snippets if answer not in s.text]
        shown = shown_windows(target.text, start, max(0, self.prefix_chars - self.budget), self.suffix_chars)
        block = pack(kept, budget=self.budget, comment=support.entry.line_comment, shown=shown).block
        return "" if answer in block else block

    def hook(
        self, index: int, rng: random.Random, encode: Callable[[str], list[int]]
    ) -> Callable[[int, int], list[int]]:
        """The sampler's context hook for file ``index``: a hole's span -> the block's token ids."""
        return lambda start, end: encode(block) if (block := self.block(index, start, end, rng)) else []


def _uri(root: str, path: str) -> str:
    return PurePosixPath(f"{root}/{path}").as_uri()
