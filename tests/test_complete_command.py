"""`infill complete` and `infill demo`: a hole left unfilled keeps its marker, and the exit status says so."""

from __future__ import annotations

import fake_core
import pytest
from fake_core import FakeCore

from infill_lsp import complete

SOURCE = "def mean(values):\n    return <FILL>\n\n\ndef is_prime(n):\n    if <FILL>:\n        return False\n"


@pytest.fixture
def picky_engine(monkeypatch):
    """An in-process engine that answers `len(values)` after `return ` and an unparsable fill elsewhere."""
    loading = pytest.importorskip("engine.core.loading")
    monkeypatch.setattr(loading, "load_core", lambda model_dir, **options: FakeCore())
    monkeypatch.setattr(
        fake_core,
        "fill_text",
        lambda request, brackets="[]": "len(values)" if request.prefix.endswith("return ") else "(((",
    )


def test_an_unfilled_hole_keeps_its_marker_and_exits_3(picky_engine, tmp_path, capsys):
    source = tmp_path / "a.py"
    source.write_text(SOURCE)
    assert complete.main([str(source)]) == complete.EXIT_HOLES_LEFT == 3
    out, err = capsys.readouterr()
    assert out == SOURCE.replace("<FILL>", "len(values)", 1)  # the second hole still shows where it is
    assert "hole 1: " in err and "filled 'len(values)'" in err
    assert "hole 2: " in err and "left unfilled (every candidate was refused)" in err
    assert "1 of 2 holes left unfilled (hole 2): they keep their <FILL> marker" in err


def test_the_marker_kept_is_the_one_given(picky_engine, tmp_path, capsys):
    source = tmp_path / "a.py"
    source.write_text(SOURCE.replace("<FILL>", "@@"))
    assert complete.main([str(source), "--marker", "@@"]) == 3
    assert capsys.readouterr().out == SOURCE.replace("<FILL>", "len(values)", 1).replace("<FILL>", "@@")


def test_every_hole_filled_exits_0_with_no_marker_left(picky_engine, tmp_path, capsys):
    source = tmp_path / "a.py"
    source.write_text("def mean(values):\n    return <FILL>\n")
    assert complete.main([str(source)]) == 0
    assert capsys.readouterr().out == "def mean(values):\n    return len(values)\n"


def test_usage_errors_exit_2(tmp_path, capsys):
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    assert complete.main([str(source)]) == 2
    assert complete.main([str(tmp_path / "missing.py")]) == 2
    assert "no <FILL> marker" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        complete.main(["--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out
    assert "3  some holes were left unfilled" in out and "0  every hole was filled" in out


def test_demo_says_per_hole_whether_it_was_filled_or_left(picky_engine, tmp_path, capsys):
    source = tmp_path / "sample.py"
    source.write_text(SOURCE)
    assert complete.demo([str(source)]) == 0
    out = capsys.readouterr().out
    assert "hole 1:" in out and "-> filled 'len(values)'" in out
    assert "hole 2:" in out and "-> left unfilled (every candidate was refused)" in out
    result = out[out.index("== result") :]
    assert "(1 of 2 holes left unfilled (hole 2): they keep their <FILL> marker)" in result


def test_holes_get_repository_context_from_the_workspace(monkeypatch, tmp_path, capsys):
    loading = pytest.importorskip("engine.core.loading")
    monkeypatch.setattr(loading, "load_core", lambda model_dir, **options: FakeCore())
    contexts: list[str] = []

    def fill(request, brackets="[]"):
        contexts.append(request.context)
        return "1"

    monkeypatch.setattr(fake_core, "fill_text", fill)
    (tmp_path / "helpers.py").write_text("def scale_value(x, factor):\n    return x * factor\n")
    source = tmp_path / "main.py"
    source.write_text("from helpers import scale_value\n\n\ndef f(x):\n    y = scale_value(x, 2)\n    return <FILL>\n")
    assert complete.main([str(source), "--workspace", str(tmp_path)]) == 0
    assert contexts[-1] == "# file: helpers.py\ndef scale_value(x, factor):\n    return x * factor\n\n"
    assert complete.main([str(source), "--no-workspace"]) == 0
    assert contexts[-1] == ""
    capsys.readouterr()
