"""Edit commands as holes: fill a selection, complete a body, write a docstring (pure planning + finishing)."""

from __future__ import annotations

import pytest

from infill_lsp.docstrings import docstring_plan
from infill_lsp.documents import Document
from infill_lsp.edits import (
    CommandError,
    body_is_fillable,
    canvas_for,
    complete_body_plan,
    fill_selection_plan,
    function_at,
)
from infill_lsp.fill import Fill, finish_fill
from infill_lsp.languages import LanguageRegistry
from infill_lsp.postprocess import indent_continuation

REGISTRY = LanguageRegistry()


def finish_edit(raw, plan, language=None) -> str | None:
    """The replacement text the fill layer gives for ``raw``, or None when it refuses it."""
    outcome = finish_fill(raw, plan, language)
    return outcome.text if isinstance(outcome, Fill) else None


def document(language: str, text: str) -> Document:
    return Document("file:///w/x", text, language=REGISTRY.get(language))


def body_after(language: str, text: str, fill: str, at: str = "(") -> str | None:
    doc = document(language, text)
    plan = complete_body_plan(text, text.index(at), language=doc.language, tree=doc.tree)
    replacement = finish_edit(fill, plan, doc.language)
    return None if replacement is None else text[: plan.start] + replacement + text[plan.end :]


@pytest.mark.parametrize(
    ("language", "text", "fill", "expected"),
    [
        (
            "python",
            "def add(a, b):\n    pass\n\nx = 1\n",
            "return a + b",
            "def add(a, b):\n    return a + b\n\nx = 1\n",
        ),
        (
            "python",
            'def add(a, b):\n    """Add."""\n    ...\n',
            "total = a + b\nreturn total",  # the engine left the second line unindented
            'def add(a, b):\n    """Add."""\n    total = a + b\n    return total\n',
        ),
        ("python", "def f(a): pass\n", "return a", "def f(a):\n    return a\n"),
        ("python", "def f(a):\n\nx = 1\n", "return a", "def f(a):\n    return a\n\nx = 1\n"),
        (
            "javascript",
            "function add(a, b) {\n  // TODO\n}\n",
            "return a + b;",
            "function add(a, b) {\n  return a + b;\n}\n",
        ),
        (
            "javascript",
            "function add(a, b) {}\n",
            "return a + b;",
            "function add(a, b) {\n  return a + b;\n}\n",
        ),
        (
            "go",
            'package m\n\nfunc Add(a, b int) int {\n\tpanic("TODO")\n}\n',
            "return a + b",
            "package m\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
        ),
        (
            "rust",
            "fn add(a: i32, b: i32) -> i32 {\n    todo!()\n}\n",
            "a + b",
            "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        ),
        (
            "typescript",
            "const add = (a: number, b: number): number => {\n};\n",
            "return a + b;",
            "const add = (a: number, b: number): number => {\n  return a + b;\n};\n",
        ),
    ],
)
def test_complete_body_replaces_placeholders(language, text, fill, expected):
    assert body_after(language, text, fill) == expected


def test_complete_body_refuses_a_body_with_code_and_places_without_functions():
    with pytest.raises(CommandError, match="not empty"):
        body_after("python", "def f(a):\n    x = 2\n    return x\n", "pass")
    with pytest.raises(CommandError, match="no function"):
        body_after("python", "x = (1)\n", "pass")


def test_complete_body_never_repeats_the_closing_brace_and_rejects_broken_fills():
    text = "function f() {\n  // TODO\n}\n"
    assert body_after("javascript", text, "return 1;\n}") == "function f() {\n  return 1;\n}\n"
    assert body_after("javascript", text, "return (1;") is None


def test_the_innermost_function_is_the_one_completed():
    text = "class K:\n    def outer(self):\n        def inner():\n            pass\n        return inner\n"
    doc = document("python", text)
    found = function_at(doc.language, doc.tree, text, text.index("pass"))
    assert found is not None and found.name == "inner" and body_is_fillable(found)
    outer = function_at(doc.language, doc.tree, text, text.index("return"))
    assert outer is not None and outer.name == "outer" and not body_is_fillable(outer)


def test_fill_selection_masks_exactly_the_span_and_puts_the_instruction_above():
    text = "def f(x):\n    y = x * 2\n    return y\n"
    doc = document("python", text)
    start = text.index("x * 2")
    plan = fill_selection_plan(
        text, start, start + 5, language=doc.language, tree=doc.tree, instruction="square\nit"
    )
    assert plan.prefix == "def f(x):\n    # square it\n    y = "
    assert plan.suffix == "\n    return y\n"
    assert plan.single_line and (plan.start, plan.end) == (start, start + 5)
    assert finish_edit("x ** 2\nextra", plan, doc.language) == "x ** 2"
    assert finish_edit("x ** (2", plan, doc.language) is None


def test_fill_selection_comment_syntax_follows_the_language():
    text = "let a = 1;\nlet b = 2;\n"
    doc = document("javascript", text)
    plan = fill_selection_plan(text, 8, 9, language=doc.language, tree=doc.tree, instruction="pick")
    assert plan.prefix == "// pick\nlet a = "
    with pytest.raises(CommandError):
        fill_selection_plan(text, 3, 3)


def test_fill_selection_does_not_duplicate_closers_after_the_span():
    text = "print(value)\n"
    plan = fill_selection_plan(text, 6, 11)
    assert finish_edit("other)", plan) == "other"


def test_canvas_grows_with_the_selection():
    assert canvas_for(3) == (8, 16)
    small, large = canvas_for(90), canvas_for(900)
    assert max(large) > max(small) and max(large) <= 512


def test_indent_continuation():
    assert indent_continuation("a\nb\n\n  c\n    d", "    ") == "a\n    b\n\n    c\n    d"


def docstring_after(language: str, text: str, fill: str) -> str | None:
    doc = document(language, text)
    plan = docstring_plan(text, text.index("("), language=doc.language, tree=doc.tree)
    replacement = finish_edit(plan.pinned + fill, plan, doc.language)
    return None if replacement is None else text[: plan.start] + replacement + text[plan.end :]


@pytest.mark.parametrize(
    ("language", "text", "fill", "expected"),
    [
        (
            "python",
            "def add(a, b):\n    return a + b\n",
            'Return the sum."""',
            'def add(a, b):\n    """Return the sum."""\n    return a + b\n',
        ),
        (
            "python",
            "def add(a, b):\n    return a + b\n",
            "Return the sum.\n\n    Args:\n        a: first",
            'def add(a, b):\n    """Return the sum.\n\n    Args:\n        a: first\n    """\n    return a + b\n',
        ),
        (
            "javascript",
            "  function add(a, b) {\n    return a + b;\n  }\n",
            "Adds two numbers.\n * @param a first",
            "  /**\n   * Adds two numbers.\n   * @param a first\n   */\n  function add(a, b) {\n"
            "    return a + b;\n  }\n",
        ),
        (
            "go",
            "package m\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
            "returns the sum.",
            "package m\n\n// Add returns the sum.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
        ),
        (
            "rust",
            "#[inline]\nfn add(a: i32) -> i32 {\n    a\n}\n",
            "Returns a.\nUnchanged.",
            "/// Returns a.\n/// Unchanged.\n#[inline]\nfn add(a: i32) -> i32 {\n    a\n}\n",
        ),
    ],
)
def test_docstrings_follow_the_language(language, text, fill, expected):
    assert docstring_after(language, text, fill) == expected


def test_documented_functions_are_refused():
    with pytest.raises(CommandError, match="already"):
        docstring_after("python", 'def f(a):\n    """Doc."""\n    return a\n', "x")
    with pytest.raises(CommandError, match="already"):
        docstring_after("rust", "/// Doc.\nfn f(a: i32) {}\n", "x")
