"""Open documents: their text, kept in sync with full or incremental changes, and their syntax trees.

Each edit is mirrored into the previous tree with ``Tree.edit`` and the document is re-parsed lazily,
on the next read of ``tree``, with the edited tree as the old tree, so tree-sitter reuses what did not
change. Documents that are huge or look binary (NUL characters) are kept as text but never parsed and
are not completed.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import tree_sitter

from infill_lsp.edit_history import EditHistory
from infill_lsp.languages import LanguageSupport
from infill_lsp.positions import UTF16, LineIndex, Position

DEFAULT_MAX_PARSE_CHARS = 2_000_000


class Health(enum.Enum):
    """Whether a document is parsed and completed."""

    OK = "ok"
    PLAIN = "plain"  # no grammar for its language: completed as text, no tree
    TOO_LARGE = "too-large"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class TextChange:
    """One content change: replace ``range`` (None: the whole text) with ``text``."""

    text: str
    range: tuple[Position, Position] | None = None


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def encode_source(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _point(text: str, offset: int) -> tuple[int, int]:
    """tree-sitter's (row, byte column) of ``offset``: rows count ``\\n`` only, as tree-sitter does."""
    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return row, utf8_length(text[line_start:offset])


def _end_point(start: tuple[int, int], inserted: str) -> tuple[int, int]:
    newlines = inserted.count("\n")
    if not newlines:
        return start[0], start[1] + utf8_length(inserted)
    return start[0] + newlines, utf8_length(inserted[inserted.rfind("\n") + 1 :])


class Document:
    """One open document."""

    def __init__(
        self,
        uri: str,
        text: str,
        *,
        language_id: str = "",
        version: int = 0,
        language: LanguageSupport | None = None,
        encoding: str = UTF16,
        max_parse_chars: int = DEFAULT_MAX_PARSE_CHARS,
    ) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.language = language
        self.encoding = encoding
        self.max_parse_chars = max_parse_chars
        self._text = text
        self._index: LineIndex | None = None
        self._tree: tree_sitter.Tree | None = None
        self._stale = True  # the tree (if any) lags behind the text
        self._parser = language.new_parser() if language else None
        self.health = self._judge()
        self.history = EditHistory()  # the recent edits, coalesced into hunks (time.monotonic() times)

    @property
    def edited_line(self) -> int | None:
        """The line where the latest live hunk of edits starts (None: no recent edit)."""
        hunk = self.history.latest(time.monotonic())
        return None if hunk is None else self.index.line_of(min(hunk.start, len(self._text)))

    @property
    def edited_at(self) -> float:
        """time.monotonic() of the latest live hunk's last edit (0: none)."""
        hunk = self.history.latest(time.monotonic())
        return 0.0 if hunk is None else hunk.last_at

    @property
    def text(self) -> str:
        return self._text

    @property
    def index(self) -> LineIndex:
        if self._index is None:
            self._index = LineIndex(self._text, self.encoding)
        return self._index

    @property
    def completable(self) -> bool:
        return self.health in (Health.OK, Health.PLAIN)

    @property
    def tree(self) -> tree_sitter.Tree | None:
        """The syntax tree of the current text, re-parsed incrementally if edits arrived since."""
        if self.health is not Health.OK or self._parser is None:
            return None
        if self._stale:
            source = encode_source(self._text)
            old = self._tree
            self._tree = self._parser.parse(source, old) if old is not None else self._parser.parse(source)
            self._stale = False
        return self._tree

    def _judge(self) -> Health:
        if "\x00" in self._text:
            return Health.BINARY
        if len(self._text) > self.max_parse_chars:
            return Health.TOO_LARGE
        return Health.OK if self.language else Health.PLAIN

    def apply(self, changes: list[TextChange], version: int | None = None) -> None:
        """Apply content changes in order, mirroring each into the syntax tree."""
        for change in changes:
            self._apply_one(change)
        if version is not None:
            self.version = version
        health = self._judge()
        if health is not Health.OK or self.health is not Health.OK:
            self._tree = None  # a document that was or is unparsable starts over from scratch
        self.health = health
        self._stale = True

    def _apply_one(self, change: TextChange) -> None:
        old = self._text
        if change.range is None:
            self.history.record_text(old, change.text, time.monotonic())
            self._text = change.text
            self._tree = None
            self._index = None
            return
        start, end = (self.index.offset(p) for p in change.range)
        if end < start:
            start, end = end, start
        self.history.record(old, start, end, change.text, time.monotonic())
        self._text = old[:start] + change.text + old[end:]
        self._index = None
        if self._tree is not None and self.health is Health.OK:
            start_byte = utf8_length(old[:start]) if not old.isascii() else start
            start_point = _point(old, start)
            self._tree.edit(
                start_byte=start_byte,
                old_end_byte=start_byte + utf8_length(old[start:end]),
                new_end_byte=start_byte + utf8_length(change.text),
                start_point=start_point,
                old_end_point=_point(old, end),
                new_end_point=_end_point(start_point, change.text),
            )


class DocumentStore:
    """The open documents by URI."""

    def __init__(self, *, encoding: str = UTF16, max_parse_chars: int = DEFAULT_MAX_PARSE_CHARS) -> None:
        self.encoding = encoding
        self.max_parse_chars = max_parse_chars
        self._documents: dict[str, Document] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, uri: object) -> bool:
        return uri in self._documents

    def open(
        self,
        uri: str,
        text: str,
        *,
        language_id: str = "",
        version: int = 0,
        language: LanguageSupport | None = None,
    ) -> Document:
        document = Document(
            uri,
            text,
            language_id=language_id,
            version=version,
            language=language,
            encoding=self.encoding,
            max_parse_chars=self.max_parse_chars,
        )
        self._documents[uri] = document
        return document

    def change(self, uri: str, changes: list[TextChange], version: int | None = None) -> Document | None:
        """Apply ``changes`` to an open document; None when ``uri`` is not open."""
        document = self._documents.get(uri)
        if document is not None:
            document.apply(changes, version)
        return document

    def close(self, uri: str) -> Document | None:
        return self._documents.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        return self._documents.get(uri)

    def all(self) -> list[Document]:
        """The open documents, in the order they were opened."""
        return list(self._documents.values())
