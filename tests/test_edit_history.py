"""The edit history: keystrokes coalesced into hunks, rendered as unified diffs, aged out and bounded."""

from __future__ import annotations

import pytest

from infill_lsp.documents import Document, DocumentStore, TextChange
from infill_lsp.edit_history import EditHistory, Hunk, render_hunk, whole_text_edits

SOURCE = "def area(w, h):\n    return w * h\n\n\ndef main():\n    print(area(2, 3))\n"


class Typist:
    """Feeds a history the way didChange does: ranged edits against the current text."""

    def __init__(self, text: str, history: EditHistory | None = None) -> None:
        self.text, self.history, self.now = text, history or EditHistory(), 100.0

    def replace(self, start: int, end: int, inserted: str, *, after_s: float = 0.1) -> None:
        self.now += after_s
        self.history.record(self.text, start, end, inserted, self.now)
        self.text = self.text[:start] + inserted + self.text[end:]

    def type(self, at: int, chars: str, *, gap_s: float = 0.1) -> None:
        for i, char in enumerate(chars):
            self.replace(at + i, at + i, char, after_s=gap_s)

    def backspace(self, at: int, count: int) -> None:
        for i in range(count):
            self.replace(at - i - 1, at - i, "")

    def whole(self, after: str, *, after_s: float = 0.1) -> None:
        self.now += after_s
        self.history.record_text(self.text, after, self.now)
        self.text = after

    def spans(self) -> list[tuple[str, str]]:
        """(old, new) of each hunk, oldest first."""
        return [(h.old, self.text[h.start : h.end]) for h in self.history.hunks()]


def test_typed_characters_coalesce_into_one_hunk():
    t = Typist(SOURCE)
    at = SOURCE.index("w * h") + len("w * h")
    t.type(at, " + 0")
    assert t.spans() == [("", " + 0")]
    hunk = t.history.latest()
    assert hunk.first_at < hunk.last_at


def test_deleting_back_into_a_hunk_and_past_its_start_stays_one_hunk():
    t = Typist(SOURCE)
    at = SOURCE.index("w * h") + len("w * h")
    t.type(at, "XY")
    t.backspace(at + 2, 4)  # "XY" and then " h"
    assert t.spans() == [(" h", "")]
    assert "return w *\n" in t.text


def test_two_separate_places_make_two_hunks():
    t = Typist(SOURCE)
    t.type(SOURCE.index("w * h"), "(")
    second = t.text.index("print(") + len("print(")
    t.type(second, "int")
    assert t.spans() == [("", "("), ("", "int")]
    assert t.history.latest().start == second


def test_a_pause_splits_typing_at_one_place_into_two_hunks():
    t = Typist(SOURCE, EditHistory(coalesce_s=1.0))
    at = SOURCE.index("w * h") + len("w * h")
    t.type(at, "ab")
    t.replace(at + 2, at + 2, "c", after_s=5.0)
    t.type(at + 3, "d")
    assert [new for _, new in t.spans()] == ["ab", "cd"]


def test_an_edit_before_a_hunk_shifts_it():
    t = Typist(SOURCE)
    later = SOURCE.index("print")
    t.type(later, "x")
    t.replace(0, 0, "# top\n", after_s=10.0)
    assert t.spans() == [("", "x"), ("", "# top\n")]


def test_undo_like_reversal_leaves_no_hunk():
    t = Typist(SOURCE)
    at = SOURCE.index("w * h")
    t.type(at, "abs(")
    t.backspace(at + 4, 4)
    assert t.text == SOURCE
    assert t.history.hunks() == []
    # An undo that puts the old text back in one change, too.
    t.replace(at, at + 1, "width")
    t.replace(at, at + 5, "w", after_s=30.0)  # long after: joins because it overlaps
    assert t.text == SOURCE and t.history.hunks() == []


def test_crlf_text_renders_lines_without_carriage_returns():
    text = SOURCE.replace("\n", "\r\n")
    t = Typist(text)
    at = text.index("w * h") + len("w * h")
    t.type(at, " + 1")
    diff = t.history.diffs(t.text)[0]
    assert "\r" not in diff
    assert "-    return w * h\n+    return w * h + 1\n" in diff
    assert diff.startswith("@@ -1,5 +1,5 @@\n def area(w, h):\n")


def test_whole_document_changes_become_the_same_hunks():
    t = Typist(SOURCE)
    at = SOURCE.index("w * h") + len("w * h")
    for i, char in enumerate(" - 1"):
        t.whole(t.text[: at + i] + char + t.text[at + i :])
    assert t.spans() == [("", " - 1")]
    # One whole-document change that edits two places far apart: two hunks.
    edited = t.text.replace("def area", "def surface").replace("print(", "log(")
    t.whole(edited, after_s=10.0)
    assert [new for _, new in t.spans()][-2:] == ["def surface(w, h):\n", "    log(area(2, 3))\n"]


def test_whole_text_edits_reproduce_the_new_text():
    before = "a\nb\nc\nd\ne\n"
    after = "a\nB\nc\nd\nE\nf\n"
    text = before
    for start, end, inserted in whole_text_edits(before, after):
        text = text[:start] + inserted + text[end:]
    assert text == after
    history = EditHistory()
    history.record_text("same", "same", 1.0)
    assert history.hunks() == []


def test_age_out_by_count_and_by_time():
    t = Typist(SOURCE, EditHistory(max_hunks=3, max_age_s=60.0))
    for line in range(5):
        t.type(t.text.index("\n") if line == 0 else 0, "x", gap_s=10.0)
    assert len(t.history.hunks()) == 3
    assert t.history.hunks(now=t.now + 61.0) == []
    assert t.history.latest(now=t.now + 61.0) is None


def test_a_huge_paste_keeps_no_megabytes():
    t = Typist("x = 1\n" * 200_000, EditHistory(max_hunk_chars=1000))
    t.replace(0, len(t.text), "")  # select everything and delete it
    hunk = t.history.latest()
    assert len(hunk.old) <= 1000 and hunk.clipped
    assert sum(len(h.old) for h in t.history.hunks()) <= 1000
    t.replace(0, 0, "y" * 3_000_000, after_s=1.0)  # a paste joins the deletion's hunk: its new side is not stored
    assert all(len(h.old) <= 1000 for h in t.history.hunks())
    diff = t.history.diffs(t.text)[0]
    assert len(diff) < 20_000 and "more diff lines" in diff


def test_diff_rendering_matches_difflib_layout_with_real_line_numbers():
    text = "".join(f"line {i}\n" for i in range(1, 21))
    t = Typist(text)
    at = text.index("line 10") + len("line 10")
    t.type(at, "!")
    assert t.history.diffs(t.text) == [
        "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+line 10!\n line 11\n line 12\n line 13\n"
    ]
    named = render_hunk(t.text, t.history.latest(), context=1, name="src/a.py")
    assert named == "--- a/src/a.py\n+++ b/src/a.py\n@@ -9,3 +9,3 @@\n line 9\n-line 10\n+line 10!\n line 11\n"


def test_an_inserted_line_renders_as_an_addition():
    text = "a\nb\nc\n"
    t = Typist(text)
    t.type(2, "new\n")
    assert t.history.diffs(t.text, context=1) == ["@@ -1,2 +1,3 @@\n a\n+new\n b\n"]


def test_out_of_range_edits_are_clamped_not_raised():
    history = EditHistory()
    history.record("abc", 10, 2, "x", 1.0)
    assert len(history.hunks()) == 1
    assert render_hunk("", Hunk(5, 3, "zz", 0.0, 0.0)) != None  # noqa: E711 - renders without raising


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="max_hunks"):
        EditHistory(max_hunks=0)


def test_documents_derive_the_latest_edit_from_the_history():
    store = DocumentStore()
    doc = store.open("file:///a.py", SOURCE)
    assert doc.edited_line is None and doc.edited_at == 0.0
    index = doc.index
    at = SOURCE.index("print")
    doc.apply([TextChange("x", (index.position(at), index.position(at)))])
    assert doc.edited_line == 5 and doc.edited_at > 0
    doc.apply([TextChange(doc.text.replace("def area", "def size"))])  # whole-document sync counts too
    assert doc.edited_line == 0
    assert len(doc.history.diffs(doc.text)) == 2
    store.close("file:///a.py")
    reopened = store.open("file:///a.py", SOURCE)
    assert reopened.history.hunks() == [] and reopened.edited_line is None


def test_a_crlf_document_reports_the_line_of_its_edit():
    text = SOURCE.replace("\n", "\r\n")
    doc = Document("file:///a.py", text)
    at = text.index("print")
    doc.apply([TextChange("y", (doc.index.position(at), doc.index.position(at)))])
    assert doc.edited_line == 5
