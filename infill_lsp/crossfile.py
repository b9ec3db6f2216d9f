"""Context from other open documents: definitions of the names a document imports, and recent edits.

The snippets are comment-free code, each under a file marker line in the target document's comment
syntax (``# file: models.py``), and go at the start of the prefix. The block is a deterministic function
of the documents' contents (snippets in URI order, never by recency), so it stays byte-identical across
keystrokes in the target document and the engine keeps reusing its encoder cache for the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from infill_lsp.documents import Document, encode_source
from infill_lsp.syntax import captures, comment_ranges, matches, node_text, without_comments

RECENT_DOCUMENTS = 2  # other documents whose latest edit is shown
RECENT_RADIUS = 4  # lines either side of that edit


@dataclass(frozen=True, slots=True)
class Snippet:
    """Comment-free code from another document."""

    uri: str
    text: str


def uri_path(uri: str) -> PurePosixPath:
    return PurePosixPath(unquote(urlparse(uri).path))


def module_names(document: Document) -> set[str]:
    """Names an import uses for ``document``: its file stem, or its folder where packages are folders; and
    that name capitalized (OCaml's module of ``bi_share.ml`` is ``Bi_share``)."""
    path = uri_path(document.uri)
    folder = document.language is not None and document.language.entry.package_is_folder
    name = path.parent.name if folder else path.stem
    return {name, name[:1].upper() + name[1:]} - {""}


def imported(document: Document) -> tuple[set[str], set[str]]:
    """The names (``@name``) and modules (``@module``, last path element) ``document`` imports."""
    language, tree = document.language, document.tree
    if language is None or language.imports is None or tree is None:
        return set(), set()
    found = captures(language.imports, tree.root_node)
    names = {node_text(n) for n in found.get("name", [])}
    modules = set()
    for node in found.get("module", []):  # "./models.js", "github.com/x/pkg", "models" -> the last stem
        modules.add(node_text(node).strip("\"'`").rstrip("/").rsplit("/", 1)[-1].split(".")[0])
    return names, modules - {""}


def definitions(document: Document) -> list[tuple[str, str]]:
    """Top-level (name, comment-free definition) pairs of ``document``, in document order."""
    language, tree = document.language, document.tree
    if language is None or language.definitions is None or tree is None:
        return []
    source = encode_source(document.text)
    found_at: dict[int, tuple[str, str]] = {}
    for found in matches(language.definitions, tree.root_node):
        definition, name = found.get("definition", [None])[0], found.get("name", [None])[0]
        if definition is None or name is None or definition.start_byte in found_at:
            continue
        comments = comment_ranges(language, definition)
        text = without_comments(source, definition.start_byte, definition.end_byte, comments)
        found_at[definition.start_byte] = (node_text(name), text)
    return [found_at[k] for k in sorted(found_at)]


def recent_region(document: Document) -> str:
    """Comment-free lines around ``document``'s latest edit ("" when it was never edited)."""
    if document.edited_line is None:
        return ""
    index = document.index
    first = max(0, document.edited_line - RECENT_RADIUS)
    last = min(index.line_count - 1, document.edited_line + RECENT_RADIUS)
    start, end = index.starts[first], index.line_end(index.starts[last])
    source = encode_source(document.text)
    start_byte, end_byte = len(encode_source(document.text[:start])), len(encode_source(document.text[:end]))
    comments: list[tuple[int, int]] = []
    if document.language is not None and document.tree is not None:
        comments = comment_ranges(document.language, document.tree.root_node, start_byte, end_byte)
    return without_comments(source, start_byte, end_byte, comments).strip()


def related_snippets(
    target: Document,
    others: list[Document],
    *,
    definitions_of: Callable[[Document], list[tuple[str, str]]] = definitions,
) -> tuple[list[Snippet], list[Snippet]]:
    """Definitions imported by ``target`` from ``others``, and the recent edits of ``others``."""
    names, modules = imported(target)
    family = target.language.entry.query_dir if target.language else None
    imported_defs: list[Snippet] = []
    for other in sorted(others, key=lambda d: d.uri):
        if other.uri == target.uri or other.language is None or other.language.entry.query_dir != family:
            continue
        whole = bool(module_names(other) & (modules | names))
        texts = [text for name, text in definitions_of(other) if whole or name in names]
        if texts:
            imported_defs.append(Snippet(other.uri, "\n\n".join(dict.fromkeys(texts))))
    edited = [d for d in others if d.uri != target.uri and d.edited_line is not None]
    edited.sort(key=lambda d: d.edited_at, reverse=True)
    recent = [Snippet(d.uri, text) for d in edited[:RECENT_DOCUMENTS] if (text := recent_region(d))]
    return imported_defs, recent


def cross_file_block(
    imported_defs: list[Snippet],
    recent: list[Snippet],
    *,
    comment: str,
    budget: int,
    display: Callable[[str], str] = lambda uri: uri_path(uri).name,
) -> str:
    """The block placed before the prefix: snippets that fit ``budget``, each under a file marker.

    Imported definitions are chosen first, then recent edits; the chosen snippets are written in URI
    order. A snippet that does not fit whole is cut at a line boundary or left out.
    """
    if not comment or budget <= 0:
        return ""
    chosen: list[tuple[str, int, str]] = []
    used = 0
    for rank, snippet in enumerate([*imported_defs, *recent]):
        header = f"{comment} file: {display(snippet.uri)}\n"
        room = budget - used - len(header) - 2
        text = snippet.text if len(snippet.text) <= room else snippet.text[: max(0, room)].rsplit("\n", 1)[0]
        if not text.strip() or any(uri == snippet.uri and text in shown for uri, _, shown in chosen):
            continue
        chosen.append((snippet.uri, rank, header + text))
        used += len(header) + len(text) + 2
    chosen.sort(key=lambda c: (c[0], c[1]))
    return "".join(f"{text}\n\n" for _, _, text in chosen)
