"""infill batch runs with a scripted engine: diffs, atomic writes, refusals, bad files, journal, JSON."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import msgspec
import pytest

from engine.protocol import Candidate, FinishReason, InfillRequest, InfillResult, Welcome
from infill_lsp.batch import cli
from infill_lsp.batch.driving import LocalWaveRunner
from infill_lsp.batch.journal import Journal, read_journal
from infill_lsp.batch.patches import WriteRefused, write_atomically
from infill_lsp.batch.planning import FillSettings
from infill_lsp.batch.run import BatchConfig, run_batch

BREAK = "BREAK_ME"
FILLS = {
    "python": "return 42",
    "rust": "42",
    "go": "return 42",
    "javascript": "return 42;",
    "typescript": "return 42;",
}


class ScriptedClient:
    """An EngineClient answering from a table; a hole whose prefix holds BREAK gets an unparsable fill."""

    def __init__(self, on_infill=None) -> None:
        self.requests: list[InfillRequest] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self.on_infill = on_infill

    async def start(self) -> Welcome:
        return Welcome(1, "scripted", "cpu", "none", trained=False)

    async def infill(self, request, on_partial=None, timeout=None) -> InfillResult:
        self.requests.append(request)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        await asyncio.sleep(0.001)
        self._in_flight -= 1
        if self.on_infill is not None:
            self.on_infill(request)
        text = "(((" if BREAK in request.prefix else FILLS[request.language]
        return InfillResult(
            request.request_id, (Candidate(text, 0.9, 3, 64),), int(FinishReason.CONVERGED), steps=3
        )

    async def cancel(self, request_id: int) -> None:
        pass

    async def close(self) -> None:
        pass


def _factory(client):
    async def make():
        return LocalWaveRunner(client, 10.0), "scripted", client.close

    return make


def _run(config: BatchConfig, client=None, stop=None):
    client = client or ScriptedClient()
    return asyncio.run(run_batch(config, _factory(client), stop=stop)), client


PY = "def add(a, b):\n    pass\n\n\ndef sub(a, b):\n    # " + BREAK + "\n    ...\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text(PY)
    (root / "pkg" / "b.rs").write_text("fn f() -> i32 {\n    todo!()\n}\n")
    (root / "c.go").write_text('package p\n\nfunc F() int {\n\tpanic("TODO")\n}\n')
    (root / "d.js").write_text('function f() {\n  throw new Error("TODO");\n}\n')
    (root / "ok.py").write_text("def done():\n    return 1\n")
    os.chmod(root / "c.go", 0o640)
    return root


def test_dry_run_reports_a_diff_and_touches_nothing(tree):
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    report, client = _run(BatchConfig(paths=(str(tree),)))
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before
    assert client.max_in_flight == 5  # the whole wave was in flight at once
    assert all(r.priority == 1 and r.seed > 0 for r in client.requests)
    diffs = {f.path.rsplit("/", 1)[-1]: f.diff for f in report.files}
    assert "-    pass\n+    return 42\n" in diffs["a.py"]
    assert "-    todo!()\n+    42\n" in diffs["b.rs"]
    assert '-\tpanic("TODO")\n+\treturn 42\n' in diffs["c.go"]
    assert diffs["ok.py"] == ""
    (broken,) = [h for f in report.files for h in f.holes if h.status == "rejected"]
    assert broken.line == 7 and "does not parse" in broken.detail
    assert (report.holes, report.filled, report.rejected) == (5, 4, 1)


def test_write_replaces_atomically_and_keeps_the_mode(tree):
    report, _ = _run(BatchConfig(paths=(str(tree),), write=True))
    assert report.written == 4 and report.refused == 0
    assert (tree / "c.go").read_text() == "package p\n\nfunc F() int {\n\treturn 42\n}\n"
    assert stat.S_IMODE((tree / "c.go").stat().st_mode) == 0o640
    assert (
        "return 42\n" in (tree / "pkg" / "a.py").read_text() and "..." in (tree / "pkg" / "a.py").read_text()
    )
    assert not [p for p in tree.rglob("*infill-tmp*")]


def test_write_refuses_a_file_changed_since_it_was_read(tree):
    target = tree / "d.js"

    def edit_behind_our_back(request):
        if request.language == "javascript":
            target.write_text("// edited by someone else\n")

    report, _ = _run(BatchConfig(paths=(str(tree),), write=True), ScriptedClient(edit_behind_our_back))
    outcome = next(f for f in report.files if f.path.endswith("d.js"))
    assert outcome.status == "refused" and "changed since it was read" in outcome.detail
    assert target.read_text() == "// edited by someone else\n"
    assert report.written == 3 and report.refused == 1
    assert not [p for p in tree.rglob("*infill-tmp*")]


def _root_with_a_link_out(tmp_path: Path, text: str) -> tuple[Path, Path]:
    """A folder ``root`` whose ``link.py`` links to ``elsewhere/secret.py`` (holding ``text``) outside it."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.py").write_text(text)
    (root / "link.py").symlink_to(elsewhere / "secret.py")
    return root, elsewhere


def test_write_atomically_refuses_paths_outside_the_roots(tmp_path):
    inside, outside = _root_with_a_link_out(tmp_path, "x = 1\n")
    with pytest.raises(WriteRefused, match="outside"):
        write_atomically(inside / "link.py", "y\n", expected_sha256="", mode=0o644, roots=[inside.resolve()])
    assert (outside / "secret.py").read_text() == "x = 1\n"


def test_symlinks_escaping_the_roots_are_never_read_or_written(tmp_path):
    root, elsewhere = _root_with_a_link_out(tmp_path, "def f():\n    pass\n")
    (root / "linkdir").symlink_to(elsewhere, target_is_directory=True)
    (root / "own.py").write_text("def g():\n    pass\n")
    report, client = _run(BatchConfig(paths=(str(root),), write=True))
    assert (elsewhere / "secret.py").read_text() == "def f():\n    pass\n"
    assert [s.reason for s in report.skipped if "link.py" in s.path][0].endswith("outside the given paths")
    assert [f.path for f in report.files] == [str(root / "own.py")] or report.files[0].path.endswith("own.py")
    assert len(client.requests) == 1 and report.written == 1


def test_bad_files_are_reported_and_skipped(tree):
    (tree / "bin.py").write_bytes(b"x = 1\x00\x01\n")
    (tree / "latin1.py").write_bytes(b'x = "\xff"\n')
    (tree / "broken.py").write_text("def f(:\n    pass\n")
    (tree / "huge.py").write_text("def f():\n    pass\n" + "#" * 5000 + "\n")
    report, _ = _run(BatchConfig(paths=(str(tree),), max_file_bytes=4000))
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "binary" in reasons["bin.py"]
    assert "UTF-8" in reasons["latin1.py"]
    assert "does not parse" in reasons["broken.py"]
    assert "too large" in reasons["huge.py"]
    assert report.filled == 4  # the good files went on


def test_markers_fill_each_occurrence(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    <FILL>\n\n\ndef g():\n    <FILL>\n")
    report, client = _run(BatchConfig(paths=(str(path),), recipes=(), fill=FillSettings(marker="<FILL>")))
    assert all("<FILL>" not in r.prefix + r.suffix for r in client.requests)
    assert report.filled == 2 and "+    return 42\n" in report.files[0].diff


def test_journal_resume_skips_finished_holes_and_gives_the_same_result(tree, tmp_path):
    journal = tmp_path / "journal.jsonl"
    whole, _ = _run(BatchConfig(paths=(str(tree),), journal=tmp_path / "whole.jsonl"))
    first, client1 = _run(BatchConfig(paths=(str(tree),), journal=journal, limit=2))
    assert len(client1.requests) == 2 and first.pending == 3
    # files whose holes are not all done are left alone (no diff, never written)
    assert all(not f.diff for f in first.files if f.status == "incomplete")
    assert {Path(f.path).name for f in first.files if f.status == "incomplete"} == {"a.py", "b.rs"}
    assert len(read_journal(journal)) == 2
    second, client2 = _run(BatchConfig(paths=(str(tree),), journal=journal))
    assert len(client2.requests) == 3 and second.reused == 2 and second.pending == 0
    assert [f.diff for f in second.files] == [f.diff for f in whole.files]


def test_journal_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    from infill_lsp.batch.journal import HoleRecord

    journal.append(HoleRecord(path="a", sha256="h", start=1, end=2, recipe="r", status="filled", fill="x"))
    journal.close()
    with path.open("ab") as handle:
        handle.write(b'{"path": "a", "sha2')
    assert list(read_journal(path)) == [("a", "h", 1, 2)]
    Journal(path).append(HoleRecord(path="b", sha256="h", start=1, end=2, recipe="r", status="filled"))
    assert len(read_journal(path)) == 2


def test_stop_event_ends_the_run_cleanly(tree, tmp_path):
    stop = asyncio.Event()
    client = ScriptedClient(lambda request: stop.set())
    report, _ = _run(
        BatchConfig(paths=(str(tree),), journal=tmp_path / "j.jsonl", fill=FillSettings(wave_size=1)),
        client,
        stop,
    )
    assert report.interrupted and report.pending >= 3
    assert len(read_journal(tmp_path / "j.jsonl")) == report.filled + report.rejected


def test_cli_json_report(tree, monkeypatch, capsys):
    monkeypatch.setattr(cli, "local_runner_factory", lambda args: _factory(ScriptedClient()))
    code = cli.main([str(tree), "--json", "--no-journal", "--no-progress"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holes"] == 5 and data["filled"] == 4 and data["rejected"] == 1 and data["dry_run"] is True
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert files["b.rs"]["status"] == "changed" and files["b.rs"]["holes"][0]["fill"] == "42"


def test_cli_usage_errors(tmp_path, capsys):
    assert cli.main([]) == 2
    assert cli.main([str(tmp_path), "--recipe", "nope"]) == 2
    assert "unknown recipe" in capsys.readouterr().err
    assert cli.main(["--list-recipes"]) == 0
    assert "todo_bodies" in capsys.readouterr().out


def test_report_round_trips_as_json(tree):
    report, _ = _run(BatchConfig(paths=(str(tree),)))
    assert msgspec.json.decode(msgspec.json.encode(report))["filled"] == 4


def test_bad_paths_and_waves_are_refused_up_front_with_exit_2(tmp_path, capsys):
    from engine.core.config import EngineConfig
    from infill_lsp.batch import cli
    from infill_lsp.batch.planning import MAX_WAVE_SIZE

    assert cli.main([str(tmp_path / "nonexistent"), "--no-progress"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "a.py").write_text("def f():\n    pass\n")
    assert cli.main([str(tmp_path), "--wave-size", "1000", "--no-progress"]) == 2
    assert f"wave_size must lie in [1, {MAX_WAVE_SIZE}]" in capsys.readouterr().err
    assert MAX_WAVE_SIZE == EngineConfig().max_queued


def test_a_named_file_that_cannot_be_processed_makes_the_exit_status_1(tmp_path, capsys):
    from infill_lsp.batch import cli

    binary = tmp_path / "b.py"
    binary.write_bytes(b"\x00\x01 not text")
    (tmp_path / "link.py").symlink_to("/etc/hostname")
    assert cli.main([str(binary), "--no-progress", "--no-journal"]) == 1
    assert "binary file" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "link.py"), "--no-progress", "--no-journal"]) == 1
    assert "no supported language" in capsys.readouterr().err  # the link is followed to what it names


def test_each_hole_gets_the_repository_context_an_editor_would_and_no_context_turns_it_off(tmp_path):
    """A hole in app.py that calls a helper defined in a file never named on the command line: the helper's
    definition reaches the engine's request (the whole repository is indexed), and --no-context leaves it out."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "lib" / "helpers.py").write_text("def normalize_amount(value, currency):\n    return round(value, 2)\n")
    (root / "app").mkdir()
    (root / "app" / "main.py").write_text(
        "from lib.helpers import normalize_amount\n\n\ndef total(values):\n"
        "    amounts = [normalize_amount(v, 'EUR') for v in values]\n    <FILL>\n")
    (root / ".env").write_text("SECRET_TOKEN=never-sent\n")
    marked = FillSettings(marker="<FILL>")
    _, client = _run(BatchConfig(paths=(str(root / "app"),), recipes=(), fill=marked))
    (request,) = client.requests
    assert "def normalize_amount(value, currency):" in request.context and "lib/helpers.py" in request.context
    assert "never-sent" not in request.context
    _, client = _run(BatchConfig(paths=(str(root / "app"),), recipes=(), fill=FillSettings(marker="<FILL>",
                                                                                           context=False)))
    assert client.requests[0].context == ""
    assert cli.build_parser().parse_args([str(root), "--no-context"]).no_context


class BudgetedClient(ScriptedClient):
    """A scripted engine announcing small prompt budgets (tokens, with its characters-per-token figure)."""

    def __init__(self, prefix_tokens: int, suffix_tokens: int, chars_per_token: float = 3.0) -> None:
        super().__init__()
        self.welcome = Welcome(1, "scripted", "cpu", "none", trained=False, max_prefix_tokens=prefix_tokens,
                               max_suffix_tokens=suffix_tokens, chars_per_token=chars_per_token)

    async def start(self) -> Welcome:
        return self.welcome


def _budgeted_factory(client: BudgetedClient):
    async def make():
        return LocalWaveRunner(client, 10.0, welcome=await client.start()), "scripted", client.close

    return make


def _long_module(functions: int) -> str:
    return "".join(f"def helper_{n}(value):\n    total = value * {n}\n    return total + {n}\n\n\n"
                   for n in range(functions))


def test_a_hole_deep_in_a_long_file_gets_its_context_within_the_engines_budget(tmp_path):
    """The engine drops the repository context first when a prompt is over its budget: a hole 40 KB into a
    file is sent cut to the announced budgets (context first, then the prefix from a line's start, as the
    language server cuts it, and the suffix to a line's end), so the context reaches the model and the engine
    has nothing to trim."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "lib" / "money.py").write_text("def normalize_amount(value, currency):\n    return round(value, 2)\n")
    body = _long_module(400)
    text = ("from lib.money import normalize_amount\n\n\n" + body + "def total(values):\n"
            "    amounts = [normalize_amount(v, 'EUR') for v in values]\n    <FILL>\n\n\n" + body)
    (root / "app.py").write_text(text)
    client = BudgetedClient(prefix_tokens=400, suffix_tokens=100)
    report = asyncio.run(run_batch(BatchConfig(paths=(str(root / "app.py"),), recipes=(),
                                               fill=FillSettings(marker="<FILL>")), _budgeted_factory(client)))
    assert report.files[0].holes[0].status == "filled"
    (request,) = client.requests
    assert "def normalize_amount(value, currency):" in request.context and "lib/money.py" in request.context
    assert len(request.context) + len(request.prefix) <= 400 * 3 and len(request.suffix) <= 100 * 3
    assert request.prefix.endswith("for v in values]\n    ") and len(request.prefix) > 400
    start = text.index(request.prefix + "<FILL>" + request.suffix)  # cut from the file, not changed
    assert start > 0 and text[start - 1] == "\n" and text[start + len(request.prefix) + 6 + len(request.suffix)] == "\n"


def test_holes_are_cut_to_the_settings_budgets_when_the_engine_announces_none(tmp_path):
    """An engine without budgets in its handshake (or a run with no context): the editors' default budgets."""
    from infill_lsp.config import Settings

    path = tmp_path / "long.py"
    path.write_text(_long_module(300) + "def last(value):\n    <FILL>\n\n\n" + _long_module(300))
    _, client = _run(BatchConfig(paths=(str(path),), recipes=(), fill=FillSettings(marker="<FILL>", context=False)))
    (request,) = client.requests
    settings = Settings()
    assert request.context == ""
    assert 0 < len(request.prefix) <= settings.prefix_chars and 0 < len(request.suffix) <= settings.suffix_chars
    assert request.prefix.endswith("def last(value):\n    ") and request.suffix.startswith("\n")
    assert path.read_text().index(request.prefix) > 0


def test_the_prompt_of_a_short_file_is_the_whole_file(tmp_path):
    path = tmp_path / "short.py"
    path.write_text("import os\n\n\ndef here():\n    <FILL>\n\n\nprint(here())\n")
    _, client = _run(BatchConfig(paths=(str(path),), recipes=(), fill=FillSettings(marker="<FILL>")))
    (request,) = client.requests
    assert request.prefix == "import os\n\n\ndef here():\n    " and request.suffix == "\n\n\nprint(here())\n"
