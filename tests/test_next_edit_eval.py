"""The next-edit benchmark: cases built from a git history made here, the metrics on hand-made predictions,
the baselines on a hand-made rename, and ``infill eval next-edit`` on the vendored cases."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest

from infill_lsp import cli
from infill_tools import next_edit_eval as ne
from infill_tools.eval_stats import percentile, wilson
from infill_tools.git_history import Repository
from infill_tools.next_edit_data import DEFAULT_DATA, Case, Edit, HistoryEdit, build_cases, load_cases
from infill_tools.next_edit_data import main as build_main

MIT = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software\n"

BEFORE = """def area(width, height):
    count = width * height
    return count


def unrelated():
    return 1


def perimeter(width, height):
    count = 2 * (width + height)
    return count
"""
RENAMED = BEFORE.replace("count", "total")


def git(repo, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_AUTHOR_DATE": "2024-01-01T00:00:00", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00", "HOME": str(repo)}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def commit(repo, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A repository whose commits are: the file; a rename in two functions (two hunks: an edit case); a
    one-line fix (a noise case); a change to two code files (skipped); a whitespace-only change (skipped)."""
    repo = tmp_path_factory.mktemp("history")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"LICENSE": MIT, "geometry.py": BEFORE, "other.py": "x = 1\n"}, "first")
    renamed = commit(repo, {"geometry.py": RENAMED}, "rename count to total")
    fixed = commit(repo, {"geometry.py": RENAMED.replace("return 1", "return 2")}, "fix")
    commit(repo, {"geometry.py": RENAMED.replace("return 1", "return 3"), "other.py": "x = 2\n"}, "two files")
    spaced = RENAMED.replace("return 1", "return 3").replace("    return total", "    return total  ")
    commit(repo, {"geometry.py": spaced}, "whitespace")
    return repo, renamed, fixed


def test_commits_give_an_edit_case_and_a_noise_case(history):
    repo, renamed, fixed = history
    cases = build_cases(Repository(repo / ".git"), "t/geometry")
    assert sorted((c.commit, c.expected is None) for c in cases) == sorted([(renamed, False), (fixed, True)])
    edit = next(c for c in cases if c.expected is not None)
    assert edit.path == "geometry.py" and edit.language == "python" and edit.repo == "t/geometry"
    # Hunks applied top to bottom: the history's last hunk ends at the cursor, the expected one follows it.
    assert len(edit.history) == 1  # git gives two hunks: lines 2-3 and 11-12
    last = edit.history[-1]
    assert last.diff.startswith("--- a/geometry.py\n+++ b/geometry.py\n@@ -") and "-" + last.old.split("\n")[0]
    assert "total" in last.new and "count" in last.old
    lines = edit.text.splitlines(keepends=True)
    assert "".join(lines[last.start_line :]).startswith(last.new)
    assert edit.text[: edit.cursor].endswith(last.new.rstrip("\n"))
    after = edit.text[: edit.expected.start] + edit.expected.new_text + edit.text[edit.expected.end :]
    assert edit.text[edit.expected.start : edit.expected.end] == "    count = 2 * (width + height)\n    return count\n"
    assert after == RENAMED and edit.text.count("count") == 2
    noise = next(c for c in cases if c.expected is None)
    assert noise.text == RENAMED.replace("return 1", "return 2") and noise.history[0].new == "    return 2\n"
    assert noise.text[: noise.cursor].endswith("return 2")


def test_the_builder_writes_what_load_cases_reads(history, tmp_path):
    repo, _, _ = history
    for name in ("cases.jsonl.xz", "cases.jsonl.gz", "cases.jsonl"):
        argv = ["build", "--git-dir", str(repo / ".git"), "--repo", "t/g", "--out", str(tmp_path / name)]
        assert build_main(argv) == 0
        cases = load_cases(tmp_path / name)
        assert len(cases) == 2 and {c.repo for c in cases} == {"t/g"}
    assert load_cases(tmp_path / "cases.jsonl", limit=1) == cases[:1]


def test_the_builder_refuses_a_repository_without_a_permissive_license(tmp_path, capsys):
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, {"a.py": "x = 1\n"}, "first")
    assert build_main(["build", "--git-dir", str(tmp_path / ".git"), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "license" in capsys.readouterr().err
    assert build_main(["build", "--git-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "o.jsonl")]) == 1


# ---- metrics on hand-made predictions -------------------------------------------------------------------

TEXT = "def f(n):\n    total = n + 1\n    return count\n"


NEXT_USE = Edit(TEXT.rindex("count"), TEXT.rindex("count") + 5, "total")


def rename_case(expected: Edit | None = NEXT_USE) -> Case:
    """``count`` was just renamed to ``total`` on line 2 (the cursor after it); its next use is on line 3."""
    cursor = TEXT.index("total") + len("total")
    edit = HistoryEdit(old="    count = n + 1\n", new="    total = n + 1\n", start_line=1, diff="")
    return Case(id="c", repo="r", commit="0", path="f.py", language="python", text=TEXT, cursor=cursor,
                history=(edit,), expected=expected)  # fmt: skip


def test_an_exact_prediction_scores_one_and_a_wrong_one_zero():
    case = rename_case()
    right = [case.expected]
    same_text_other_offsets = [Edit(case.expected.start - 7, case.expected.end, "return total")]
    wrong = [Edit(case.expected.start, case.expected.end, "tota")]
    elsewhere = [Edit(0, 3, "async def")]
    assert ne.exact_match(case, right) and ne.location_match(case, right)
    assert ne.exact_match(case, same_text_other_offsets)  # the region's text is compared, not the offsets
    assert not ne.exact_match(case, wrong) and ne.location_match(case, wrong)
    assert not ne.exact_match(case, elsewhere) and not ne.location_match(case, elsewhere)
    assert not ne.exact_match(case, []) and not ne.location_match(case, [])
    report = ne.evaluate([case], lambda c: right)
    assert report["exact"]["rate"] == 1.0 and report["location"]["hits"] == 1
    assert ne.evaluate([case], lambda c: wrong)["exact"]["hits"] == 0


def test_quiet_on_noise_counts_only_real_edits():
    case = rename_case(expected=None)
    noop = [Edit(0, 3, "def")]  # replaces "def" by "def": no edit
    assert ne.evaluate([case], lambda c: noop)["quiet_on_noise"]["rate"] == 1.0
    assert ne.evaluate([case], lambda c: [Edit(0, 0, "# x\n")])["quiet_on_noise"]["rate"] == 0.0
    assert ne.evaluate([case], ne.no_edit)["quiet_on_noise"]["hits"] == 1


def test_parse_validity_checks_the_text_after_the_edit():
    case = rename_case()
    assert ne.evaluate([case], lambda c: [c.expected])["parse_valid"] == {**ne.rate(1, 1)}
    broken = ne.evaluate([case], lambda c: [Edit(0, 3, "def (")])
    assert broken["parse_valid"]["hits"] == 0 and broken["parse_valid"]["total"] == 1
    bad = replace(case, text=TEXT + "def (\n")
    assert ne.evaluate([bad], lambda c: [c.expected])["parse_valid"]["total"] == 0  # it did not parse before


def test_edits_are_clipped_deduplicated_and_a_raising_predictor_fails_alone():
    text = "abcdef"
    kept = ne.effective_edits(text, [Edit(2, 4, "X"), Edit(3, 5, "Y"), Edit(-5, 1, "a"), Edit(4, 99, "Z")])
    assert kept == [Edit(2, 4, "X"), Edit(4, 6, "Z")] and ne.apply_edits(text, kept) == "abXZ"

    def boom(case):
        raise RuntimeError("model fell over")

    report = ne.evaluate([rename_case(), rename_case(None)], boom)
    assert report["errors"] == 2 and report["quiet_on_noise"]["hits"] == 1 and report["exact"]["hits"] == 0
    assert "model fell over" in report["outcomes"][0]["error"]


# ---- baselines ------------------------------------------------------------------------------------------


def test_repeat_last_edit_repeats_a_rename_at_the_next_use():
    case = rename_case()
    assert ne.repeat_last_edit(case) == [case.expected]
    assert ne.no_edit(case) == []
    assert ne.evaluate([case], ne.repeat_last_edit)["exact"]["rate"] == 1.0
    far = replace(case, text=TEXT.replace("    return count", "\n" * 40 + "    return count"))
    assert ne.repeat_last_edit(far) == []  # the next use is more than 30 lines away


def test_repeat_last_edit_repeats_an_insertion_after_the_same_anchor():
    text = "call(a, b)\ncall(a)\n"
    history = HistoryEdit(old="call(a)\n", new="call(a, b)\n", start_line=0, diff="")
    case = Case(id="i", repo="r", commit="0", path="f.py", language="python", text=text, cursor=len("call(a, b)"),
                history=(history,), expected=Edit(17, 17, ", b"))  # fmt: skip
    assert ne.repeat_last_edit(case) == [Edit(17, 17, ", b")]
    done = replace(case, text="call(a, b)\ncall(a, b)\n")
    assert ne.repeat_last_edit(done) == []  # already there


def test_stats():
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(5, 10)
    assert low == pytest.approx(1 - high) and 0.2 < low < 0.25
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0 and percentile([], 0.95) == 0.0


# ---- the command ----------------------------------------------------------------------------------------


def test_the_vendored_cases_load_and_are_whole():
    cases = load_cases(DEFAULT_DATA)
    assert len(cases) >= 300 and sum(c.expected is None for c in cases) >= 100
    assert len({c.repo for c in cases}) >= 4 and len({c.id for c in cases}) == len(cases)
    for case in cases:
        assert 0 <= case.cursor <= len(case.text) and case.history
        if case.expected is not None:
            assert 0 <= case.expected.start <= case.expected.end <= len(case.text)


def test_infill_eval_next_edit_prints_a_table_and_json(capsys, monkeypatch):
    assert cli.main(["eval", "next-edit", "--limit", "40"]) == 0
    out = capsys.readouterr().out
    assert "no-edit" in out and "repeat-last-edit" in out and "quiet on noise" in out and "100.0%" in out
    monkeypatch.setitem(ne.PREDICTORS, "oracle", lambda: lambda case: [case.expected] if case.expected else [])
    assert cli.main(["eval", "next-edit", "--limit", "40", "--predictor", "oracle,no-edit", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    oracle = report["predictors"]["oracle"]
    assert set(report["predictors"]) == {"oracle", "no-edit"} and len(oracle["outcomes"]) == 40
    assert oracle["exact"]["rate"] == 1.0 and oracle["quiet_on_noise"]["rate"] == 1.0
    assert report["predictors"]["no-edit"]["exact"]["hits"] == 0


def test_infill_eval_next_edit_refuses_bad_input(tmp_path, capsys):
    assert cli.main(["eval", "next-edit", "--data", str(tmp_path / "missing.jsonl")]) == 2
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n')
    assert cli.main(["eval", "next-edit", "--data", str(tmp_path / "bad.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["eval", "next-edit", "--predictor", "psychic"])
    assert exited.value.code == 2
