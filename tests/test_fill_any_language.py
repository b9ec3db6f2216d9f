"""A file of a language without a grammar: line-based context, and fills through the checks that need no
grammar (repeats of the suffix, control characters, unbalanced brackets, words glued together)."""

from __future__ import annotations

import pytest

from infill_lsp.completion import plan_completion
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, build_context
from infill_lsp.documents import Document
from infill_lsp.fill import Fill, Rejected, finish_fill
from infill_lsp.languages import LanguageRegistry
from infill_lsp.text_checks import Balance, bracket_balance, glued_word, unbalanced_brackets

REGISTRY = LanguageRegistry()

JAVA = """public class Box {
    private String property;

    public String getProperty() {
        return|
    }
}
"""

PHP = """<?php
function greet($name) {
    echo "Hello, " . $name;|
}
"""


def finish(uri: str, marked: str, raw: str, language_id: str = "plaintext") -> Fill | Rejected:
    """``raw`` finished at the ``|`` of ``marked``, planned as the language server plans it."""
    cursor = marked.index("|")
    text = marked.replace("|", "", 1)
    support = REGISTRY.for_document(language_id, uri)
    document = Document(uri, text, language_id=language_id, language=support)
    plan = plan_completion(document, document.index.position(cursor), Settings(), request_id="r1")
    return finish_fill(raw, plan.hole, support)


@pytest.mark.parametrize("uri", ["file:///src/Box.java", "file:///notes/x.unknown"])
def test_the_java_fill_glued_onto_return_is_refused(uri):
    if REGISTRY.for_document("", uri) is not None:
        pytest.skip("a grammar covers this file: the parse checks apply too")
    outcome = finish(uri, JAVA, "property;")
    assert isinstance(outcome, Rejected) and "'returnproperty'" in outcome.reason
    assert finish(uri, JAVA, " property;") == Fill(" property;")


def test_the_php_fill_opening_a_comment_it_does_not_close_is_refused():
    outcome = finish("file:///www/greet.unknownphp", PHP, " /*test")
    assert isinstance(outcome, Rejected) and "open" in outcome.reason
    assert finish("file:///www/greet.unknownphp", PHP, " /* test */") == Fill(" /* test */")


@pytest.mark.parametrize(
    ("marked", "raw", "expected"),
    [
        ("Dear Sam,\n\nThanks for |\n", "the notes (and the slides).", "the notes (and the slides)."),
        ("total = sum(|)\n", "prices", "prices"),
        ("x = compute(a, |\n", "b, c", "b, c"),  # an argument list open before the fill may stay open
        ("x = compute(a, |\n", "b, c)", "b, c)"),  # or be closed by it
        ("call(f(|))\n", "x)", "x"),
        ('say "it\'s (|"\n', "fine", "fine"),
        ("the item pro|\n", "cessed twice", "cessed twice"),  # a word being typed is completed
        ("x = getNa|\nname = getName()\n", "me()", "me()"),
        ("log = '|'\n", "a (b", "a (b"),  # inside a string: no brackets count (the string is closed)
    ],
)
def test_normal_completions_in_an_unknown_file_are_accepted(marked, raw, expected):
    assert finish("file:///notes/a.txt", marked, raw) == Fill(expected)


@pytest.mark.parametrize(
    ("marked", "raw", "reason"),
    [
        ("x = f(a)|\n", " + g(b", "open"),
        ("x = [1, 2|]\n", ", 3]]", "not open"),
        ("if (ready) {|\n  go();\n}\n", " go()); ", "not open"),
        ("total = sum(|)\n", "prices) + 1)", "not open"),  # the closer after the cursor is not written twice
        ("value = 1\nvalue2 = value|\n", "value", "'valuevalue'"),
        ("x = 1|\n", "\x07", "control characters"),
    ],
)
def test_fills_that_break_the_text_around_them_are_refused(marked, raw, reason):
    outcome = finish("file:///notes/a.txt", marked, raw)
    assert isinstance(outcome, Rejected) and reason in outcome.reason, outcome


def test_a_fill_repeating_the_lines_after_the_hole_is_trimmed_without_a_grammar():
    marked = "step one\n|\nstep three\nstep four\n"
    assert finish("file:///notes/a.txt", marked, "step two\nstep three\nstep four") == Fill("step two")


def test_unknown_language_ids_and_files_have_no_grammar_but_are_planned():
    text = "program hello\n  print *, \nend program hello\n"
    document = Document("file:///src/x.f90", text, language_id="fortran", language=None)
    plan = plan_completion(document, document.index.position(len("program hello\n  print *, ")), Settings(),
                           request_id="r1")
    assert plan.request.language == "text" and plan.hole.single_line
    assert finish_fill("'hello'", plan.hole, None) == Fill("'hello'")


# ---- the checks themselves ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "balance"),
    [
        ("f(a[1], {b: 2})", Balance()),
        ("f(a, ", Balance(unclosed=1)),
        ("a)]", Balance(unopened=2)),
        ('s = "(" + \')\'', Balance()),  # brackets in strings do not count
        ("it's (not) a string", Balance()),  # an apostrophe without a closer on its line is no string
        ("x /* ( */ y", Balance()),
        ("x /* never closed", Balance(unclosed=1)),
        ('"\\"("', Balance()),  # an escaped quote does not end the string
    ],
)
def test_bracket_balance_counts_outside_strings_and_comments(text, balance):
    assert bracket_balance(text) == balance


def test_unbalanced_brackets_compare_with_the_original_text():
    assert unbalanced_brackets("f(", "f(a, b") is None  # open before, open after
    assert unbalanced_brackets("f()", "f(a))") is not None
    assert unbalanced_brackets("f()", "f((a)") is not None


@pytest.mark.parametrize(
    ("before", "fill", "after", "known", "glued"),
    [
        ("    return", "property;", "\n", {"property"}, "returnproperty"),
        ("return 0\n    return", "value;", "\n", set(), "returnvalue"),  # ``return`` is a word of the file
        ("    return", "value;", "\n", set(), None),  # neither ``return`` nor ``value`` is: a new word
        ("self.pro", "perty", "\n", set(), None),
        ("getNa", "me()", "\nx = getName()", set(), None),
        ("users = []\nfor user in user", "s:", "\n", set(), None),  # users is a word of the file
        ("size = 1", "0", "\n", set(), None),  # a number
        ("    return ", "property;", "\n", {"property"}, None),  # no word before the fill
        ("    ret", "urn", "x\n", {"return"}, None),  # the cursor was inside a word already
        ("x = s\ny = s", "tring", "\n", {"string"}, None),
    ],
)
def test_glued_word_rule(before, fill, after, known, glued):
    assert glued_word(before, fill, after, frozenset(known)) == glued


def test_a_pinned_start_is_not_a_glue():
    """A popup item the user picked may run on from the typed word: the plan pins it, no check refuses it."""
    text = "value = 1\nx = value\n"
    document = Document("file:///a.txt", text, language=None)
    end = document.index.position(len(text) - 1)
    plan = plan_completion(document, end, Settings(), request_id="r1",
                           selected=(document.index.position(len(text) - 6), end, "valueOf"))
    assert plan.hole.pinned == "Of"
    assert finish_fill("Of(x)", plan.hole, None) == Fill("Of(x)")


# ---- line-based context -------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor_line", [5, 20, 38])
def test_the_context_of_a_file_without_a_grammar_is_cut_at_line_boundaries(cursor_line):
    lines = [f"line {i}: " + "word " * (i % 7) + "(x)" for i in range(40)]
    text = "\n".join(lines) + "\n"
    cursor = sum(len(x) + 1 for x in lines[:cursor_line]) + 4
    for budget in (64, 101, 250):  # each line is shorter than the budget: a line boundary lies within it
        ctx = build_context(text, cursor, budgets=Budgets(prefix_chars=budget, suffix_chars=budget))
        assert ctx.prefix_start == 0 or text[ctx.prefix_start - 1] == "\n", (budget, ctx.prefix_start)
        assert ctx.suffix_end == len(text) or text[ctx.suffix_end] == "\n", (budget, ctx.suffix_end)
        assert cursor - ctx.prefix_start <= budget and ctx.suffix_end - cursor <= budget


def test_a_glued_word_is_refused_where_a_grammar_parses_it_as_a_name():
    """``returnproperty;`` parses as an expression statement: the parse check lets it through, the word
    check does not."""
    marked = "class Box {\n  get() {\n    return|\n  }\n  property = 1;\n}\n"
    outcome = finish("file:///src/box.js", marked, "property;", "javascript")
    assert isinstance(outcome, Rejected) and "'returnproperty'" in outcome.reason
    assert finish("file:///src/box.js", marked, " this.property;", "javascript") == Fill(" this.property;")


MEAN = '''def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(|
'''


@pytest.mark.parametrize(("uri", "language_id"),
                         [("file:///src/stats.py", "python"), ("file:///x.unknown", "plaintext")])
def test_a_one_line_fill_that_leaves_a_string_open_is_refused(uri, language_id):
    """Found in the VS Code end-to-end test: ``len(`` + ``values) "`` parses no worse than ``len(`` alone (one
    error either way), but the stray quote opens a string the line never closes."""
    refused = finish(uri, MEAN, 'values) "', language_id)
    assert isinstance(refused, Rejected) and "string open" in refused.reason
    kept = finish(uri, MEAN, "values)", language_id)
    assert isinstance(kept, Fill) and kept.text == "values)"
    prose = finish(uri, MEAN.replace("len(|", "len(values)  # the mean isn|"), "'t defined for none", language_id)
    assert not isinstance(prose, Rejected) or "string open" not in prose.reason  # an apostrophe is prose


@pytest.mark.parametrize(("uri", "language_id"), [("file:///s.py", "python"), ("file:///x.unknown", "plaintext")])
def test_a_fill_repeating_the_word_before_it_is_refused(uri, language_id):
    """Found in `make demo`: `return ` + `return` parses no worse than `return ` alone (one error either way)."""
    marked = "def f(a):\n    return |\n"
    refused = finish(uri, marked, "return", language_id)
    assert isinstance(refused, Rejected)  # in Python the parse refuses it first; without a grammar, this rule
    assert language_id == "python" or "repeats the word" in refused.reason
    kept = finish(uri, marked, "a + 1", language_id)
    assert isinstance(kept, Fill) and kept.text == "a + 1"
