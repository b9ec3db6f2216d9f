"""Data and markup languages (json, yaml, toml, html, css, sql, markdown) on real files: each loads from
the table, its hole query classifies a hole in the file, the context is cut at its boundaries, a piece
of the file removed is accepted back by the fill layer, and the filled file parses as before."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infill_lsp.completion import plan_completion
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, HoleKind, build_context, classify_hole
from infill_lsp.documents import Document, encode_source
from infill_lsp.fill import Fill, finish_fill
from infill_lsp.languages import LanguageRegistry
from infill_lsp.syntax import ByteMap

REGISTRY = LanguageRegistry()
VENDOR = Path(__file__).parent / "vendor" / "languages"


@dataclass(frozen=True, slots=True)
class Real:
    """A vendored file; ``hole``: the text before a cursor and the kind of hole there; ``fill``: the text
    before a cursor and the piece of the file after it that is removed and filled back."""

    path: str
    hole: tuple[str, HoleKind]
    fill: tuple[str, str]


REAL_FILES = {
    "json": Real("json/package.json", ('"description": "A modern', HoleKind.STRING), ('"main": ', '"normalize.css"')),
    "yaml": Real(
        "yaml/pre-commit-config.yaml", ("args: [--fix, ", HoleKind.ARGUMENTS), ("      - id: ", "ruff-check")
    ),
    "toml": Real(
        "toml/pyproject.toml", ('keywords = ["class", "attr', HoleKind.STRING), ("requires-python = ", '">=3.9"')
    ),
    "html": Real(
        "html/index.html", ('content="width=device', HoleKind.STRING), ('stylesheet" href=', '"css/style.css"')
    ),
    "css": Real("css/normalize.css", (" * 1. Correct the line", HoleKind.STRING), ("  line-height: ", "1.15;")),
    "sql": Real("sql/schema.sql", ("-- Drop any existing", HoleKind.STRING), ("  username TEXT ", "UNIQUE NOT NULL")),
    "markdown": Real(
        "markdown/README.md",
        ("## What does it", HoleKind.STRING),
        ("* Normalizes styles for ", "a wide range of elements."),
    ),
}


def _real(name: str) -> tuple[Real, str]:
    real = REAL_FILES[name]
    return real, (VENDOR / real.path).read_text(encoding="utf-8")


def _errors(node: tree_sitter.Node) -> int:
    return int(node.is_error or node.is_missing) + sum(_errors(child) for child in node.children)


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_the_language_loads_from_the_table_and_parses_its_real_file(name):
    real, text = _real(name)
    support = REGISTRY.for_document("", f"file:///project/{Path(real.path).name}")
    assert support is not None and support.name == name, REGISTRY.failures()
    assert support.entry.model_tag == "text"  # the embedded model was not trained on it
    assert _errors(support.parse(encode_source(text)).root_node) == 0


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_the_hole_query_classifies_a_hole_in_the_real_file(name):
    real, text = _real(name)
    support = REGISTRY.get(name)
    before, kind = real.hole
    cursor = text.index(before) + len(before)
    assert classify_hole(text, cursor, support, support.parse(encode_source(text))) is kind


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_the_context_is_cut_at_boundaries_of_the_real_file(name):
    real, text = _real(name)
    support = REGISTRY.get(name)
    tree = support.parse(encode_source(text))
    nodes = tree_sitter.QueryCursor(support.boundaries).captures(tree.root_node)["boundary"]
    chars = ByteMap(text)
    starts = {text.rfind("\n", 0, chars.char(n.start_byte)) + 1 for n in nodes}
    ends = {chars.char(n.end_byte) for n in nodes}
    ends |= {text.find("\n", end) if "\n" in text[end:] else len(text) for end in ends}
    cursor = text.index(real.fill[0]) + len(real.fill[0])
    budgets = Budgets(prefix_chars=min(cursor - 1, 200), suffix_chars=min(len(text) - cursor - 1, 200))
    ctx = build_context(text, cursor, language=support, tree=tree, budgets=budgets, grid_share=0)
    assert 0 < ctx.prefix_start < cursor and ctx.prefix_start in starts
    assert cursor < ctx.suffix_end < len(text) and ctx.suffix_end in ends


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_a_piece_of_the_real_file_is_filled_back_and_the_file_still_parses(name):
    real, text = _real(name)
    support = REGISTRY.get(name)
    before, piece = real.fill
    cursor = text.index(before) + len(before)
    assert text[cursor : cursor + len(piece)] == piece
    holed = text[:cursor] + text[cursor + len(piece) :]
    document = Document(f"file:///project/{Path(real.path).name}", holed, language=support)
    plan = plan_completion(document, document.index.position(cursor), Settings(), request_id="r1")
    assert plan.request.language == name
    fill = finish_fill(piece, plan.hole, support)
    assert fill == Fill(piece)
    filled = holed[:cursor] + fill.text + holed[cursor + fill.replaces :]
    assert filled == text and _errors(support.parse(encode_source(filled)).root_node) == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.binary(max_size=300), cursor=st.integers(min_value=0, max_value=300))
def test_no_query_of_these_languages_raises_on_random_bytes(source, cursor):
    text = source.decode("utf-8", "replace")
    cursor = min(cursor, len(text))
    for name in REAL_FILES:
        support = REGISTRY.get(name)
        tree = support.parse(encode_source(text))
        tree_sitter.QueryCursor(support.boundaries).captures(tree.root_node)
        tree_sitter.QueryCursor(support.holes).captures(tree.root_node)
        budgets = Budgets(prefix_chars=40, suffix_chars=40)
        ctx = build_context(text, cursor, language=support, tree=tree, budgets=budgets)
        assert ctx.prefix + ctx.suffix == text[ctx.prefix_start : ctx.suffix_end]
