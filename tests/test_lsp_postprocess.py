"""Post-processing of raw fills, on real cases: suffix overlap, line cuts, indentation, repeats, parse."""

from __future__ import annotations

import pytest

from infill_lsp.context import build_context
from infill_lsp.documents import encode_source
from infill_lsp.fill import Fill, finish_fill, plan_from_context
from infill_lsp.languages import LanguageRegistry
from infill_lsp.postprocess import (
    closer_overlap,
    drop_repeated_lines,
    error_count,
    normalise_indentation,
    suffix_line_overlap,
)

REGISTRY = LanguageRegistry()


def clean(language: str | None, marked: str, raw: str, **options) -> Fill | None:
    cursor = marked.index("|")
    text = marked.replace("|", "", 1)
    support = REGISTRY.get(language)
    tree = support.parse(encode_source(text)) if support else None
    ctx = build_context(text, cursor, language=support, tree=tree)
    plan = plan_from_context(ctx, cursor=cursor, language=language or "text", **options)
    outcome = finish_fill(raw, plan, support)
    return outcome if isinstance(outcome, Fill) else None


# ---- suffix overlap and the rest of the line ----------------------------------------------------


def test_fill_that_closes_the_call_replaces_the_closing_paren_after_the_cursor():
    assert clean("python", "x = foo(|)\n", "a, b)") == Fill("a, b)", replaces=1)


def test_fill_without_the_closer_is_inserted_before_it():
    assert clean("python", "x = foo(|)\n", "a, b") == Fill("a, b")


def test_a_closer_that_belongs_to_the_fill_is_kept():
    # "(b)" closes its own paren; trimming the ")" would unbalance it
    assert clean("python", "x = foo(|)\n", "a, (b)") == Fill("a, (b)")


def test_several_closers_and_a_semicolon_are_replaced_together():
    fill = clean("javascript", "const v = f(g(|));\n", "x, 1));")
    assert fill == Fill("x, 1));", replaces=3)


def test_string_fill_ending_with_the_closing_quote_replaces_it():
    assert clean("python", "s = '|'\n", "hello'") == Fill("hello'", replaces=1)


def test_overlap_in_the_middle_of_a_line_with_code_after_is_trimmed():
    # the rest of the line is ") + 1", not only closers: the duplicated ")" is cut from the fill
    assert clean("python", "y = (a|) + 1\n", " * b)") == Fill(" * b")


def test_trailing_lines_that_repeat_the_suffix_are_dropped():
    marked = "def f(x):\n    |\n    return y\n"
    assert clean("python", marked, "y = x * 2\n    return y") == Fill("y = x * 2")


def test_a_closing_brace_the_fill_needs_is_not_taken_for_the_suffix():
    marked = "function f(x) {\n  if (x) {\n    |\n}\n"
    assert clean("javascript", marked, "x++;\n  }") == Fill("x++;\n  }")


def test_a_closing_brace_the_suffix_already_has_is_dropped():
    marked = "function f(x) {\n  |\n}\n"
    assert clean("javascript", marked, "return x + 1;\n}") == Fill("return x + 1;")


# ---- single-line holes ----------------------------------------------------------------------------


def test_single_line_holes_are_cut_at_the_end_of_the_line():
    assert clean("python", "total = |\n", "a + b\nprint(total)\n") == Fill("a + b")


def test_single_line_fill_that_starts_with_a_newline_is_dropped():
    assert clean("python", "total = |\n", "\nprint(total)") is None


def test_plain_text_is_cut_without_a_parse_check():
    assert clean(None, "hello |", "world\nmore") == Fill("world")


def test_whitespace_in_the_middle_of_a_line_is_kept():
    assert clean("python", "x = |b\n", "a + ") == Fill("a + ")


# ---- multi-line holes -------------------------------------------------------------------------------


def test_degenerate_repeats_are_cut():
    marked = "def f(x):\n    |\n"
    assert clean("python", marked, "return x + 1\n    return x + 1\n    return x + 1") == Fill("return x + 1")


def test_a_first_line_repeating_the_line_before_the_cursor_is_cut():
    assert drop_repeated_lines("x = 1\ny = 2", previous_line="x = 1") == ""
    assert drop_repeated_lines("y = 2\n\ny = 2\nz = 3") == "y = 2\n"


def test_max_lines_limits_multi_line_fills():
    marked = "def f(x):\n    |\n"
    raw = "a = 1\n    b = 2\n    c = 3\n    return c"
    assert clean("python", marked, raw, max_lines=2) == Fill("a = 1\n    b = 2")


def test_two_space_fill_is_reindented_to_a_four_space_document():
    marked = "class A:\n    def f(self):\n        pass\n\n    def g(self):|\n"
    fill = clean("python", marked, "\n      if self:\n        return 1")
    assert fill == Fill("\n        if self:\n            return 1")


def test_tab_fill_is_reindented_to_spaces():
    assert normalise_indentation("if x:\n\t\treturn 1", "    ", base="    ") == "if x:\n        return 1"


def test_space_fill_is_reindented_to_tabs_in_go():
    marked = "package main\n\nfunc f() {\n\tx := 1\n\t|\n}\n"
    fill = clean("go", marked, "if x > 0 {\n        x--\n    }")
    assert fill == Fill("if x > 0 {\n\t\tx--\n\t}")


def test_consistent_indentation_is_left_alone():
    text = "for i in x:\n        y(i)\n    return y"
    assert normalise_indentation(text, "    ", base="    ") == text


# ---- the parse check -------------------------------------------------------------------------------


def test_fill_that_breaks_the_parse_is_dropped():
    assert clean("python", "def f(x):\n    |\n", "return ((x") is None


def test_fill_that_keeps_an_existing_error_is_kept():
    # the document is already broken after the cursor; a harmless fill is still shown
    assert clean("python", "x = |\ny = (\n", "1") == Fill("1")


def test_error_count():
    python = REGISTRY.get("python")
    assert error_count(python, "x = 1\n") == 0
    assert error_count(python, "x = (1\n") >= 1


def test_empty_and_whitespace_fills_are_dropped():
    assert clean("python", "x = |\n", "") is None
    assert clean("python", "x = |\n", "   \n") is None
    assert clean("python", "x = foo(|)\n", ")") is None  # nothing but the closer already there


@pytest.mark.parametrize(
    ("fill", "rest", "k"),
    [("a, b)", ")", 1), ("x));", "));", 3), ("x", ")", 0), ("y = x", "x + 1", 0), ("f()", " )", 1)],
)
def test_closer_overlap(fill, rest, k):
    assert closer_overlap(fill, rest) == k


def test_suffix_line_overlap():
    assert suffix_line_overlap("a\n  return b", "\n  return b\n") == 1
    assert suffix_line_overlap("a", "\nreturn b\n") == 0
