"""Context extraction: prefix and suffix cut at syntax boundaries within budgets, and hole kinds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from infill_lsp.context import (
    CANVAS_HINTS,
    Budgets,
    HoleKind,
    build_context,
    detect_indent_unit,
    only_closers,
)
from infill_lsp.documents import encode_source
from infill_lsp.languages import LanguageRegistry

REGISTRY = LanguageRegistry()
ROOT = Path(__file__).resolve().parent.parent


def context_at(language: str | None, marked: str, budgets: Budgets | None = None):
    """Build the context for ``marked``, whose ``|`` is the cursor."""
    cursor = marked.index("|")
    text = marked.replace("|", "", 1)
    support = REGISTRY.get(language)
    tree = support.parse(encode_source(text)) if support else None
    return build_context(text, cursor, language=support, tree=tree, budgets=budgets or Budgets())


@pytest.mark.parametrize(
    ("language", "marked", "kind"),
    [
        ("python", "def f(x):\n    return foo(|)\n", HoleKind.ARGUMENTS),
        ("python", "def f(x):|\n", HoleKind.BLOCK),
        ("python", "def f(x):\n    |\n", HoleKind.BLOCK),
        ("python", "x = 1\n|\ny = 2\n", HoleKind.STATEMENT),
        ("python", "s = 'hel|lo'\n", HoleKind.STRING),
        ("python", "# compute the |\n", HoleKind.STRING),
        ("python", "x = a + |b\n", HoleKind.REST_OF_LINE),
        ("python", "total = |\n", HoleKind.REST_OF_LINE),
        ("javascript", "function f() {\n  |\n}\n", HoleKind.BLOCK),
        ("javascript", "foo(a, |)\n", HoleKind.ARGUMENTS),
        ("javascript", "// todo: |\n", HoleKind.STRING),
        ("typescript", "const s = `abc|`;\n", HoleKind.STRING),
        ("tsx", "function A() {\n  return <div>{|}</div>;\n}\n", HoleKind.REST_OF_LINE),
        ("go", "func main() {\n\tfmt.Println(|)\n}\n", HoleKind.ARGUMENTS),
        ("go", "func main() {\n\tx := 1\n\t|\n\ty := 2\n}\n", HoleKind.STATEMENT),
        ("rust", "fn main() {\n    let x = |;\n}\n", HoleKind.REST_OF_LINE),
        ("rust", "fn main() {|}\n", HoleKind.BLOCK),
        ("rust", 'fn main() {\n    let s = "a|";\n}\n', HoleKind.STRING),
        (None, "hello |world", HoleKind.REST_OF_LINE),
        (None, "notes {\n|\n", HoleKind.BLOCK),
    ],
)
def test_hole_kind(language, marked, kind):
    ctx = context_at(language, marked)
    assert ctx.kind is kind
    assert ctx.single_line is kind.single_line
    assert ctx.canvas_lengths == CANVAS_HINTS[kind]


def test_small_documents_are_sent_whole():
    ctx = context_at("python", "import os\n\ndef f():\n    return |\n\nprint(f())\n")
    assert ctx.prefix == "import os\n\ndef f():\n    return "
    assert ctx.suffix == "\n\nprint(f())\n"
    assert ctx.line_prefix == "    return "
    assert ctx.line_suffix == ""


def _functions(n: int, body_lines: int = 3) -> str:
    out = []
    for i in range(n):
        body = "".join(f"    v{j} = compute({i}, {j})\n" for j in range(body_lines))
        out.append(f"def f{i}(a, b):\n{body}    return v0\n\n")
    return "".join(out)


def _context_before(text: str, needle: str):
    """The Python context of a cursor just before ``needle``, on 500 characters of prefix and 300 of suffix."""
    cursor = text.index(needle)
    return context_at("python", text[:cursor] + "|" + text[cursor:], Budgets(prefix_chars=500, suffix_chars=300))


def test_prefix_is_cut_at_the_start_of_a_statement_line_within_budget():
    text = _functions(40)
    ctx = _context_before(text, "def f30")
    assert len(ctx.prefix) <= 500
    assert ctx.prefix_start == 0 or text[ctx.prefix_start - 1] == "\n"
    first_line = ctx.prefix.split("\n", 1)[0]
    assert first_line.lstrip().startswith(("def ", "v", "return")), first_line
    assert len(ctx.prefix) > 400  # cutting at boundaries should not waste most of the budget


def test_a_fresh_prefix_starts_on_a_coarse_grid_that_nearby_holes_share():
    text = _functions(80)  # functions of 102 characters
    support = REGISTRY.get("python")
    tree = support.parse(encode_source(text))
    budgets = Budgets(prefix_chars=3000, suffix_chars=300)  # a grid step of 300 characters

    def starts(function: int, grid_share: int) -> set[int]:
        body = text.index(f"def f{function}(")
        holes = [text.index(f"v{j} = compute({function}, {j})") for j in range(3)]
        holes.append(text.index("return v0", body))
        contexts = [
            build_context(text, c, language=support, tree=tree, budgets=budgets, grid_share=grid_share)
            for c in holes
        ]
        for c, ctx in zip(holes, contexts, strict=True):  # at most a grid step, a line and a statement lost
            assert 3000 - 300 - 2 * 30 <= c - ctx.prefix_start <= 3000
            assert text[ctx.prefix_start - 1] == "\n"
        return {ctx.prefix_start for ctx in contexts}

    functions = range(40, 70)
    assert all(len(starts(f, 0)) == 4 for f in functions)  # without the grid the start slides with the cursor
    shared = sum(len(starts(f, 10)) == 1 for f in functions)  # on the grid most functions' holes share it
    assert shared >= len(functions) // 2


def test_a_grid_start_is_a_line_start_that_the_next_keystroke_keeps():
    # A sliding cut may start mid-line (at a boundary node whose line begins before the budget), which the
    # anchor then refuses: the next keystroke re-cuts and the engine re-encodes the whole prompt.
    text = (ROOT / "tests" / "vendor" / "requests" / "utils.py").read_text(encoding="utf-8")
    support = REGISTRY.get("python")
    tree = support.parse(encode_source(text))
    budgets = Budgets(prefix_chars=2500)
    rng = random.Random(0)
    for cursor in rng.sample([i for i, c in enumerate(text) if c == "\n" and i > 4000], 30):
        first = build_context(text, cursor, language=support, tree=tree, budgets=budgets)
        assert text[first.prefix_start - 1] == "\n"
        typed = text[:cursor] + "x" + text[cursor:]
        after = build_context(typed, cursor + 1, language=support, tree=support.parse(encode_source(typed)),
                              budgets=budgets, anchor=first.prefix_start)
        assert after.prefix_start == first.prefix_start


def test_suffix_is_cut_at_the_end_of_a_statement_line_within_budget():
    text = _functions(40)
    ctx = _context_before(text, "def f10")
    assert len(ctx.suffix) <= 300
    assert ctx.suffix_end == len(text) or text[ctx.suffix_end] == "\n"
    assert ctx.suffix.rstrip().split("\n")[-1].strip().startswith(("v", "return", "def"))


def test_without_a_tree_cuts_fall_on_line_breaks():
    text = "".join(f"line number {i}\n" for i in range(200))
    cursor = text.index("line number 100") + 5
    ctx = context_at(None, text[:cursor] + "|" + text[cursor:], Budgets(prefix_chars=100, suffix_chars=100))
    assert ctx.prefix.startswith("line number ") and len(ctx.prefix) <= 100
    assert ctx.suffix.endswith("\n") is False and text[ctx.suffix_end] == "\n"
    assert len(ctx.suffix) <= 100


def test_cuts_in_a_long_line_without_boundaries_stay_within_budget():
    text = "x = [" + ", ".join(str(i) for i in range(3000)) + "]\n"
    cursor = len(text) // 2
    ctx = context_at(
        "python", text[:cursor] + "|" + text[cursor:], Budgets(prefix_chars=200, suffix_chars=50)
    )
    assert 0 < len(ctx.prefix) <= 200
    assert 0 < len(ctx.suffix) <= 50


@pytest.mark.parametrize("language", ["python", "javascript", "go", "rust", None])
def test_random_cursors_respect_budgets_and_contiguity(language):
    text = {
        "python": _functions(30),
        "javascript": "function f(a) {\n  const b = a + 1;\n  return b;\n}\n" * 40,
        "go": "func f(a int) int {\n\tb := a + 1\n\treturn b\n}\n" * 40,
        "rust": "fn f(a: i32) -> i32 {\n    let b = a + 1;\n    b\n}\n" * 40,
        None: "plain text here\n" * 200,
    }[language]
    text = text.replace("b", "ü", 3)  # some non-ASCII to exercise byte/char conversion
    rng = random.Random(3)
    for _ in range(50):
        cursor = rng.randrange(len(text) + 1)
        budgets = Budgets(prefix_chars=rng.randrange(0, 900), suffix_chars=rng.randrange(0, 400))
        ctx = context_at(language, text[:cursor] + "|" + text[cursor:], budgets)
        assert text[ctx.prefix_start : cursor] == ctx.prefix
        assert text[cursor : ctx.suffix_end] == ctx.suffix
        assert len(ctx.prefix) <= budgets.prefix_chars
        assert len(ctx.suffix) <= budgets.suffix_chars


def test_cursor_outside_the_text_is_rejected():
    with pytest.raises(ValueError, match="cursor"):
        build_context("abc", 4)


def test_negative_budget_is_rejected_with_the_field_name():
    with pytest.raises(ValueError, match="prefix_chars"):
        Budgets(prefix_chars=-1)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("def f():\n    if x:\n        y\n", "    "),
        ("function f() {\n  if (x) {\n    y;\n  }\n}\n", "  "),
        ("func f() {\n\tif x {\n\t\ty()\n\t}\n}\n", "\t"),
        ("no indentation at all\n", "    "),
    ],
)
def test_detect_indent_unit(text, unit):
    assert detect_indent_unit(text) == unit


def test_only_closers():
    assert only_closers(")];")
    assert only_closers("  ) ")
    assert only_closers("")
    assert not only_closers(") + 1")
