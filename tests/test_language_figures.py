"""The tools behind BENCHMARKS.md's language figures: the language server's footprint over real files of every
language (infill_tools.lsp_footprint) and the shares of holes cut in them that get a fill that parses and one
that is shown (infill_tools.http_shown --real-files), on the vendored real files they read."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.protocol import Candidate, InfillResult
from infill_http.fills import language_of
from infill_lsp.documents import encode_source
from infill_tools import http_shown, lsp_footprint
from infill_tools.http_shown import count_real, line_holes, real_table, syntax_errors
from infill_tools.lsp_footprint import ROOT, RealFile, real_files


def test_every_language_with_a_vendored_file_is_measured_and_each_file_parses():
    files = real_files()
    names = {real.language for real in files}
    folders = {p.name for p in (ROOT / "tests" / "vendor" / "languages").iterdir() if p.is_dir()}
    assert {"python", "javascript", "typescript", "go", "rust"} | folders == names
    for real in files:
        support = language_of(real.language, real.path.name)
        assert support is not None and support.name == real.language, real
        assert syntax_errors(support.parse(encode_source(real.path.read_text(encoding="utf-8")))) == 0, real.path
    assert next(r for r in files if r.language == "bash").language_id == "shellscript"  # as an editor sends it


def test_the_footprint_of_the_real_server_is_measured_over_stdio():
    files = real_files()[:2]
    figures = lsp_footprint.measure(ROOT, files)
    assert 0 < figures["start_ms"] < 60_000
    assert 10 < figures["initialized"] <= figures["python"] * 1.5 and figures["opened"] == 2
    table = lsp_footprint.table({"before": figures, "after": figures}, files)
    assert "| measurement | before | after |" in table and "after opening the JavaScript file too (`ms.js`)" in table


def test_the_footprint_refuses_a_folder_that_is_no_checkout(tmp_path, capsys):
    with pytest.raises(SystemExit):
        lsp_footprint.main(["--compare", str(tmp_path)])
    assert "not a checkout of infill" in capsys.readouterr().err


def test_line_holes_cut_the_rest_of_lines_spread_over_the_file_never_inside_a_word():
    text = "".join(f"value_{i} = compute_something(argument_{i})\n" for i in range(40))
    holes = line_holes(text, 10)
    assert len(holes) == 10 and len({prefix for prefix, _, _ in holes}) == 10
    for prefix, removed, suffix in holes:
        assert prefix + removed + suffix == text and "\n" not in removed and removed.strip()
        assert not (prefix[-1].isalnum() and removed[0].isalnum())
    assert holes[0][0] == "value_0 = compute_something"  # a third of the line in, moved past the word it fell in
    assert line_holes("x = 1\n", 10) == [] and line_holes(text, 0) == []
    assert len(line_holes(text, 100)) == 40  # no more holes than lines


class AnswerCore:
    """An engine core that answers every request with ``answer(prefix, suffix)`` as its one candidate."""

    welcome = None

    def __init__(self, answer) -> None:
        self.answer, self.pending = answer, []

    def add(self, request) -> None:
        self.pending.append(request)

    def step(self):
        request = self.pending.pop()
        return [InfillResult(request.request_id, (Candidate(self.answer(request)),), 0)]


def test_count_real_tells_parsing_shown_and_exact_fills_apart(monkeypatch):
    path = ROOT / "tests" / "vendor" / "languages" / "go" / "stack.go"
    real = RealFile("go", "go", path)
    text = path.read_text(encoding="utf-8")
    cut = {prefix: removed for prefix, removed, _ in line_holes(text, 6)}

    def exact(request) -> str:
        return next(removed for prefix, removed in cut.items() if text.startswith(prefix + removed + request.suffix))

    right = count_real(AnswerCore(exact), real, 6)
    assert right["holes"] == 6 and right["raw"] == right["raw_parses"] == 6
    assert right["shown"] >= 5 and right["exact"] == right["shown"]
    broken = count_real(AnswerCore(lambda request: "\n)))) {{{\n"), real, 6)  # out of a comment too
    assert broken["raw"] == 6 and broken["raw_parses"] == 0 and broken["shown"] == 0 and broken["refused"]
    table = real_table([right, broken])
    assert table.splitlines()[2].startswith("| Go (`go`) | 6 | 100% | 100% |") and "| all | 12 |" in table


def test_the_real_files_mode_refuses_an_unknown_language(capsys):
    with pytest.raises(SystemExit):
        http_shown.main(["--real-files", "--languages", "cobol"])
    assert "no real file for cobol" in capsys.readouterr().err


def test_the_vendored_files_are_recorded_with_their_license():
    readme = (ROOT / "tests" / "vendor" / "languages" / "README.md").read_text(encoding="utf-8")
    for real in real_files():
        if real.language != "python":
            relative = real.path.relative_to(ROOT / "tests" / "vendor" / "languages")
            assert f"`{relative}`" in readme, relative
            assert any(p.name.startswith("LICENSE") for p in real.path.parent.iterdir()), relative
    assert Path(ROOT / "tests" / "vendor" / "requests" / "LICENSE").is_file()
