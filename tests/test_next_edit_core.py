"""The pure parts of next edit: minimal edits, the repeat-the-last-edit rule, probes and their judgement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infill_lsp.next_edit.minimal import Edit, apply_edits, minimal_edits
from infill_lsp.next_edit.predict import (
    Answer,
    NextEditPlan,
    Probe,
    judge,
    line_span,
    probes,
    reads_as_ghost_text,
    region,
)
from infill_lsp.next_edit.rule import carried_over, change_of, repeated_edits


def test_minimal_edits_are_word_sized_and_merge_when_they_touch():
    assert minimal_edits("return a + b", "return a + b") == []
    assert minimal_edits("return width * height", "return width * size", 10) == [Edit(25, 31, "size")]
    assert minimal_edits("f(a)", "f(a, ctx)") == [Edit(3, 3, ", ctx")]
    assert minimal_edits("x = old_name(1)", "y = new_name(1)") == [Edit(0, 1, "y"), Edit(4, 12, "new_name")]


@given(st.text(alphabet="ab (),.\n_xy1", max_size=40), st.text(alphabet="ab (),.\n_xy1", max_size=40))
def test_minimal_edits_always_turn_the_old_text_into_the_new(old, new):
    assert apply_edits("<<" + old + ">>", minimal_edits(old, new, 2)) == "<<" + new + ">>"


def test_the_single_change_of_an_edit():
    assert change_of("cnt", "count") == ("", "cnt", "count", "")
    assert change_of("foo(a)", "foo(a, ctx)") == ("a", "", ", ctx", ")")
    assert change_of("a b", "x y") is None  # two changes
    assert change_of("same", "same") is None


def test_a_rename_repeats_at_the_next_whole_word_occurrences_after_the_cursor_first():
    text = "n = cnt\ndef f(count):\n    total = cnt * 2\n    return cnt_all + cnt\n"
    start = text.index("count")
    edits = repeated_edits(text, start + 5, [(start, start + 5, "cnt")], (0, len(text)))
    places = [text[: e.start].count("\n") for e in edits]
    assert [e.text for e in edits] == ["count"] * 3 and places == [2, 3, 0]  # after the cursor, then before
    assert all(text[e.start : e.end] == "cnt" for e in edits)  # cnt_all is another word


def test_an_added_argument_repeats_on_lines_that_start_alike_and_not_where_it_is_already():
    text = "foo(a, ctx)\nfoo(b)\nbar(c)\nfoo(d, ctx)\n"
    edits = repeated_edits(text, 11, [(0, 11, "foo(a)")], (0, len(text)))
    assert edits == [Edit(17, 17, ", ctx")]
    assert repeated_edits(text, 11, [], (0, len(text))) == []
    window = (text.index("bar"), len(text))  # outside the region: nothing
    assert repeated_edits(text, 11, [(0, 11, "foo(a)")], window) == []


def test_the_region_and_line_spans_keep_to_whole_lines_and_crlf():
    text = "a\r\nbb\r\nccc\r\n"
    assert line_span(text, text.index("bb")) == (3, 5)
    assert region(text, 4, NextEditPlan(lines_before=0, lines_after=1)) == (3, 10)
    assert region(text, 0, NextEditPlan(lines_before=3, lines_after=0)) == (0, 1)


def test_probes_check_the_rules_edit_and_the_lines_at_the_cursor_and_after_the_edit():
    text = "def area(width, size):\n    return width * height\n\nprint(area(1, 2))\n"
    start = text.index("size")
    asked = probes(text, start + 4, [(start, start + 4, "height")], NextEditPlan())
    assert asked[0] == Probe(23, 48, "    return width * size", Edit(42, 48, "size"))
    assert asked[1] == Probe(0, 22, "def area(width, size):")  # the cursor's line
    assert len(asked) == 2  # the line after the edit is the rule's already
    assert probes(text, len(text) + 5, [], NextEditPlan()) == []  # a cursor outside the text
    assert len(probes(text, 3, [(start, start + 4, "height")], NextEditPlan(max_probes=1))) == 1
    rules_only = probes(text, start + 4, [(start, start + 4, "height")], NextEditPlan(rewrite=False))
    assert [p.rule for p in rules_only] == [Edit(42, 48, "size")]  # a model that does not rewrite: the rule's


def test_judge_shows_a_confirmed_rule_edit_or_a_confident_rewrite_and_nothing_else():
    text = "def area(width, size):\n    return width * height\n"
    rule = Probe(23, 48, "    return width * size", Edit(42, 48, "size"))
    own = Probe(0, 22, "def area(width, size):")
    plan = NextEditPlan(gate=0.9)
    assert judge(text, [rule, own], [Answer("    return width * size", 0.95), None], plan) == [Edit(42, 48, "size")]
    assert judge(text, [rule, own], [Answer("    return w * h", 0.5), None], plan) == [Edit(42, 48, "size")]  # unsure
    assert judge(text, [rule, own], [Answer("    return width * height", 0.99), None], plan) == []  # a veto
    assert judge(text, [rule], [None], plan) == []  # the engine failed the probe
    assert judge(text, [rule], [Answer("    return width *\n", 0.99)], plan) == [Edit(42, 48, "size")]  # ended early
    rewrite = Answer("def area(width, height):", 0.97)
    assert judge(text, [rule, own], [None, rewrite], plan) == [Edit(16, 20, "height")]
    assert judge(text, [own], [Answer("def area(width, size):", 0.99)], plan) == []  # kept: no edit
    assert judge(text, [own], [Answer("def area(\n", 0.99)], plan) == []  # a line break: not a line's rewrite
    with pytest.raises(ValueError, match="gate"):
        NextEditPlan(gate=1.5)
    # A model not trained on edits vetoes only when nearly sure: at 0.97 the rule's edit stands.
    untrained = NextEditPlan(gate=0.9, rewrite=False)
    assert untrained.veto_gate == 0.99 and plan.veto_gate == 0.9
    assert judge(text, [rule], [Answer("    return width * height", 0.97)], untrained) == [Edit(42, 48, "size")]
    assert judge(text, [rule], [Answer("    return width * height", 0.995)], untrained) == []


def test_a_line_changed_in_several_places_is_changed_alike_on_the_lines_most_like_it():
    """``Path(x)`` -> ``Path(str(x))`` is two insertions, which the one-change rule does not repeat: the lines
    most like the edited one get the same changes where the same tokens surround them; a line unlike it, or
    one the changes cannot be placed on, is left alone."""
    before = "    a = Path(dist.locate_file(path))\n"
    text = ("    a = Path(str(dist.locate_file(path)))\n"
            "    print('unrelated line here')\n"
            "    b = Path(dist.locate_file(entry)).resolve()\n")
    start = text.index("    a")
    line_end = text.index("\n")
    hunks = [(start, line_end, before.rstrip("\n"))]
    [edit] = repeated_edits(text, line_end, hunks, (0, len(text)))
    assert edit.applied(text).endswith("    b = Path(str(dist.locate_file(entry))).resolve()\n")
    assert carried_over("f(x)", "f(x, 1)", "totally different text here") is None  # not alike
    assert carried_over("run('a', 'b')", "run('a', 'b', '--strict')", "run('a', 'c')") == "run('a', 'c', '--strict')"
    assert carried_over(") -> typing.NoReturn:", ') -> "typing.NoReturn":', ") -> typing.NoReturn:") == (
        ') -> "typing.NoReturn":')


def test_a_version_bump_is_not_repeated():
    text = 'version = "3.0.1"\nother = "2.0.0"\n'
    assert repeated_edits(text, 17, [(0, 17, 'version = "3.0.0"')], (0, len(text))) == []
    text = "time.sleep(1)\ntime.sleep(0.75)\n"  # a whole number replaced is a change like any other
    assert repeated_edits(text, 13, [(0, 13, "time.sleep(0.75)")], (0, len(text))) == [Edit(25, 29, "1")]


def test_unified_diffs_become_hunks_of_the_current_text():
    from infill_lsp.next_edit.diffs import diff_hunks, history_hunks

    text = "def area(width, size):\n    return width * height\n"
    diff = ("--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-def area(width, height):\n+def area(width, size):\n"
            "     return width * height\n\\ No newline at end of file\nSome prose after it.\n")
    assert diff_hunks(diff) == [("def area(width, height):\n    return width * height",
                                 "def area(width, size):\n    return width * height")]
    assert history_hunks([diff], text) == [(16, 20, "height")]
    assert history_hunks(["@@ -1 +1 @@\n-gone\n+not in the text\n", "no diff at all"], text) == []


def test_the_edit_prompt_reads_the_region_inside_or_after_the_file():
    from infill_http.edit_prompt import EditPromptError, parse_edit_prompt

    inside = ("<|current_file_content|>\ncurrent_file_path: add.py\n<|code_to_edit|>\ndef add(a, b):\n"
              "    return a - b<|cursor|>\n<|/code_to_edit|>\n<|/current_file_content|>\n"
              "<|edit_diff_history|>\n# prose only\n<|/edit_diff_history|>")
    prompt = parse_edit_prompt(inside)
    assert prompt.path == "add.py" and prompt.text == "def add(a, b):\n    return a - b\n"
    assert prompt.region == (0, 31) and prompt.cursor == 31 and prompt.diffs == ["# prose only"]
    after = ("<|current_file_content|>\nimport os\ndef greet(name):\n    print(1)\n<|/current_file_content|>\n"
             "<|code_to_edit|>\ndef <|cursor|>greet(name):\n<|/code_to_edit|>")
    prompt = parse_edit_prompt(after)
    assert prompt.text[prompt.region[0] : prompt.region[1]] == "def greet(name):" and prompt.cursor == 14
    alone = parse_edit_prompt("<|code_to_edit|>x = 1<|/code_to_edit|>")
    assert (alone.text, alone.region, alone.cursor) == ("x = 1", (0, 5), 5)
    with pytest.raises(EditPromptError, match="stray"):
        parse_edit_prompt("<|current_file_content|>\na<|cursor|>b\n<|code_to_edit|>x<|/code_to_edit|>"
                          "\n<|/current_file_content|>")


def test_hunks_from_diffs_keep_whole_words():
    from infill_lsp.next_edit.diffs import located_hunk, shared_ends

    assert shared_ends("def f(cnt):", "def f(count):") == (6, 2)  # "cnt" -> "count", not "n" -> "oun"
    assert shared_ends("foo(a)", "foo(a, ctx)") == (5, 1)
    text = "def f(count):\n    return cnt\n"
    assert located_hunk(text, "def f(cnt):", "def f(count):") == (6, 11, "cnt")


def test_an_edit_reads_as_ghost_text_where_it_extends_what_is_typed_on_the_cursors_line():
    text = "x = 1\nsum = add(a, \ny = 2\n"
    start = len("x = 1\n")
    cursor = start + len("sum = add(a, ")  # the end of line 1

    def edit(a: int, b: int, new: str) -> Edit:
        return Edit(start + a, start + b, new)

    assert reads_as_ghost_text(text, cursor, edit(13, 13, "b)"))  # an insertion at the cursor
    assert reads_as_ghost_text(text, cursor, edit(6, 13, "add(a, b)"))  # keeps "add(a, "
    assert not reads_as_ghost_text(text, cursor, edit(6, 9, "sum"))  # before the cursor
    assert not reads_as_ghost_text(text, cursor, edit(6, 13, "sum(a, b)"))  # rewrites what is typed
    assert not reads_as_ghost_text(text, cursor, Edit(0, 1, "z"))  # another line
    assert not reads_as_ghost_text(text, cursor, edit(13, 13, "b\n"))  # more than one line
    assert not reads_as_ghost_text(text, cursor, edit(13, 13, ""))  # changes nothing after the cursor
    mid = "return width * height"  # mid-line: the cursor before `height`
    assert reads_as_ghost_text(mid, 15, Edit(15, 21, "size"))
    assert not reads_as_ghost_text(mid, 17, Edit(15, 21, "size"))  # "he" is typed: not a start of "size"
    assert not reads_as_ghost_text(mid, 15, Edit(15, 21, "height"))  # the same text
    assert not reads_as_ghost_text("a\r\nb", 1, Edit(1, 3, "x"))  # over the line end
