"""What an open document offers other documents' context: its definitions, its imports, its latest edit.

Read from the document's live syntax tree (an open document's text wins over the file on disk). The context
sources (``infill_lsp.retrieval``) turn these into snippets; the packer writes them before the prefix.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from infill_lsp.documents import Document, encode_source
from infill_lsp.syntax import comment_ranges, without_comments
from infill_lsp.workspace.definitions import Definition, definitions_in, imports_in, module_names_of

RECENT_RADIUS = 4  # lines either side of a document's latest edit


def uri_path(uri: str) -> PurePosixPath:
    return PurePosixPath(unquote(urlparse(uri).path))


def module_names(document: Document) -> set[str]:
    """Names an import uses for ``document``: its file stem, or its folder where packages are folders."""
    return module_names_of(str(uri_path(document.uri)), document.language is not None
                           and document.language.entry.package_is_folder)  # fmt: skip


def imported(document: Document) -> tuple[set[str], set[str]]:
    """The names (``@name``) and modules (``@module``, last path element) ``document`` imports."""
    language, tree = document.language, document.tree
    if language is None or tree is None:
        return set(), set()
    return imports_in(language, tree)


def document_definitions(document: Document) -> list[Definition]:
    """Top-level definitions of ``document``, in document order (``path`` is its URI's path)."""
    language, tree = document.language, document.tree
    if language is None or tree is None:
        return []
    return definitions_in(language, tree, encode_source(document.text), str(uri_path(document.uri)))


def definitions(document: Document) -> list[tuple[str, str]]:
    """Top-level (name, comment-free definition) pairs of ``document``, in document order."""
    return [(d.name, d.text) for d in document_definitions(document)]


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
