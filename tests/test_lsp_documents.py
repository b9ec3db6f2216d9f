"""Open documents: full and incremental sync, and trees that stay equal to a fresh parse."""

from __future__ import annotations

import random

import pytest

from infill_lsp.documents import Document, DocumentStore, Health, TextChange, encode_source
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import UTF8, UTF16, LineIndex, Position

REGISTRY = LanguageRegistry()
PYTHON = REGISTRY.get("python")

SOURCE = '''import os


def greet(name: str) -> str:
    """Say hello — politely 😀."""
    message = f"hello {name}"
    return message


class Greeter:
    def __init__(self, who):
        self.who = who
'''


def sexp(tree) -> str:
    return str(tree.root_node)


def fresh(document: Document) -> str:
    return sexp(document.language.parse(encode_source(document.text)))


def edit(document: Document, start: int, end: int, text: str) -> TextChange:
    index = document.index
    return TextChange(text, (index.position(start), index.position(end)))


def test_full_sync_replaces_the_text_and_tree():
    doc = Document("file:///a.py", "x = 1\n", language=PYTHON)
    doc.apply([TextChange("def f():\n    return 2\n")], version=2)
    assert doc.text == "def f():\n    return 2\n"
    assert doc.version == 2
    assert sexp(doc.tree) == fresh(doc)


def test_incremental_edit_keeps_the_tree_equal_to_a_fresh_parse():
    doc = Document("file:///a.py", SOURCE, language=PYTHON)
    assert doc.tree is not None
    at = SOURCE.index("return message")
    doc.apply([edit(doc, at, at + len("return message"), "return message.upper()")])
    assert "return message.upper()" in doc.text
    assert sexp(doc.tree) == fresh(doc)


@pytest.mark.parametrize("encoding", [UTF16, UTF8])
def test_random_incremental_edits_match_a_fresh_parse(encoding):
    rng = random.Random(7)
    doc = Document("file:///a.py", SOURCE, language=PYTHON, encoding=encoding)
    pieces = ["x", "\n", "    ", "(", ")", "é", "😀", "def g():\n    pass\n", "", '"', "\r\n"]
    for step in range(120):
        a, b = sorted(rng.randrange(len(doc.text) + 1) for _ in range(2))
        if doc.text[a - 1 : a + 1] == "\r\n" or doc.text[b - 1 : b + 1] == "\r\n":
            continue
        doc.apply([edit(doc, a, b, rng.choice(pieces))], version=step)
        if step % 10 == 0:  # several edits between parses, as when typing fast
            assert sexp(doc.tree) == fresh(doc)
    assert sexp(doc.tree) == fresh(doc)


def test_several_changes_in_one_notification_apply_in_order():
    doc = Document("file:///a.py", "a = 1\nb = 2\n", language=PYTHON)
    first = TextChange("x", (Position(0, 0), Position(0, 1)))
    second = TextChange("yy", (Position(1, 0), Position(1, 1)))
    doc.apply([first, second])
    assert doc.text == "x = 1\nyy = 2\n"
    assert sexp(doc.tree) == fresh(doc)


def test_out_of_range_edits_are_clamped_not_fatal():
    doc = Document("file:///a.py", "a = 1\n", language=PYTHON)
    doc.apply([TextChange("# end\n", (Position(40, 3), Position(50, 0)))])
    assert doc.text == "a = 1\n# end\n"
    doc.apply([TextChange("", (Position(0, 99), Position(0, 2)))])  # reversed range
    assert doc.text == "a \n# end\n"  # (0, 99) clamps to the line end; the range is put in order
    assert sexp(doc.tree) == fresh(doc)


def test_unknown_language_is_plain_text_without_a_tree():
    doc = Document("file:///notes.txt", "some words\n", language=None)
    assert doc.health is Health.PLAIN
    assert doc.tree is None
    assert doc.completable


def test_binary_documents_are_kept_but_not_parsed_or_completed():
    doc = Document("file:///blob.py", "abc\x00def", language=PYTHON)
    assert doc.health is Health.BINARY
    assert doc.tree is None
    assert not doc.completable
    doc.apply([TextChange("abcdef")])  # the NUL is gone: parsed again
    assert doc.health is Health.OK
    assert sexp(doc.tree) == fresh(doc)


def test_huge_documents_are_kept_but_not_parsed():
    doc = Document("file:///big.py", "x = 1\n" * 100, language=PYTHON, max_parse_chars=500)
    assert doc.health is Health.TOO_LARGE
    assert doc.tree is None
    assert not doc.completable
    doc.apply([TextChange("y = 2\n", (Position(0, 0), Position(100, 0)))])
    assert doc.health is Health.OK
    assert sexp(doc.tree) == fresh(doc)


def test_lone_surrogates_from_json_do_not_break_parsing():
    doc = Document("file:///a.py", "s = '\ud800'\n", language=PYTHON)
    assert doc.tree is not None
    doc.apply([TextChange("x", (Position(1, 0), Position(1, 0)))])
    assert doc.tree is not None


def test_store_tracks_open_documents():
    store = DocumentStore()
    store.open("file:///a.py", "a", language=PYTHON, version=1)
    assert "file:///a.py" in store and len(store) == 1
    assert store.change("file:///missing.py", [TextChange("x")]) is None
    assert store.change("file:///a.py", [TextChange("b")], version=2).text == "b"
    assert store.close("file:///a.py") is not None
    assert store.get("file:///a.py") is None


def test_index_follows_the_text():
    doc = Document("file:///a.py", "a\nb", language=None)
    assert isinstance(doc.index, LineIndex) and doc.index.line_count == 2
    doc.apply([TextChange("a\nb\nc")])
    assert doc.index.line_count == 3
