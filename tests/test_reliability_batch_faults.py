"""``infill batch`` on a full disk and after a crash: clear messages, no lost or half-written file.

The full disk is a 64 KiB tmpfs when this process may mount one (root), and a monkeypatched
``os.write`` raising ENOSPC otherwise (that variant always runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from reliability_support import ScriptedBatchClient, record, scripted_runner_factory

from infill_lsp.batch import cli
from infill_lsp.batch import journal as journal_module
from infill_lsp.batch.journal import Journal, JournalError, read_journal
from infill_lsp.batch.patches import write_atomically
from infill_lsp.batch.run import BatchConfig, run_batch
from infill_lsp.batch.sources import sha256_of

BODY = "def f{i}(a):\n    pass\n\n\ndef g{i}(b):\n    ...\n"


def make_tree(root: Path, files: int = 4) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    texts = {}
    for i in range(files):
        (root / f"m{i}.py").write_text(BODY.format(i=i))
        texts[f"m{i}.py"] = BODY.format(i=i)
    return texts


@contextlib.contextmanager
def tiny_tmpfs(size: str = "64k"):
    """A freshly mounted tmpfs of ``size``, or skip the test where mounting is not allowed."""
    where = Path(tempfile.mkdtemp(prefix="infill-full-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill_disk(folder: Path) -> None:
    with contextlib.suppress(OSError), open(folder / "ballast", "wb") as out:
        while True:
            out.write(b"\0" * 4096)
            out.flush()


def test_journal_on_a_full_tmpfs_is_reported_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "repo"
    texts = make_tree(repo)
    with tiny_tmpfs() as disk:
        journal = disk / "journal.jsonl"
        journal.write_bytes(b"")
        fill_disk(disk)
        cases = 0
        for write in (False, True):
            config = BatchConfig(paths=(str(repo),), journal=journal, write=write)
            report = asyncio.run(run_batch(config, scripted_runner_factory()))
            assert "No space left on device" in report.journal_error and str(journal) in report.journal_error
            assert report.filled == 8 and report.pending == 0
            cases += 1
        assert all((repo / name).read_text() != text for name, text in texts.items())  # written anyway
        # The CLI says so plainly on stderr, with no traceback.
        for name, text in texts.items():
            (repo / name).write_text(text)
        code = _cli([str(repo), "--journal", str(journal), "--no-progress"])
        err = capsys.readouterr().err
        assert (
            code == 0 and "warning: " in err and "No space left on device" in err and "Traceback" not in err
        )
        cases += 1
        # A journal folder that cannot even be created.
        code = _cli([str(repo), "--journal", str(disk / "deeper" / "j.jsonl"), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 0 and "the journal" in err and "Traceback" not in err
        cases += 1
    record("batch journal on a full disk (64 KiB tmpfs)", cases=cases, result="clear warning, fills kept")


def test_write_on_a_full_tmpfs_refuses_and_keeps_the_original(tmp_path: Path) -> None:
    with tiny_tmpfs("64k") as disk:
        repo = disk / "repo"
        repo.mkdir()
        big = "def f():\n    pass\n\n\n" + "".join(f"# line {i:05d} of padding\n" for i in range(1100))
        (repo / "big.py").write_text(big)
        fill_disk(disk)
        report = asyncio.run(
            run_batch(BatchConfig(paths=(str(repo),), write=True), scripted_runner_factory())
        )
        (outcome,) = report.files
        assert outcome.status == "refused" and "No space left" in outcome.detail
        assert (repo / "big.py").read_text() == big
        assert sorted(os.listdir(repo)) == ["big.py"]  # the temporary file is gone too
    record("batch --write on a full disk", cases=1, result="file refused with ENOSPC, original intact")


def test_journal_enospc_by_monkeypatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same fault without a tmpfs: every write to the journal fails after the first record."""
    repo = tmp_path / "repo"
    make_tree(repo)
    journal = tmp_path / "j.jsonl"
    real_write = os.write
    written = []

    def failing_write(fd: int, data: bytes) -> int:
        if fd == opened[0]:
            if written:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(data)
            return real_write(fd, data[: len(data) // 2]) if len(written) == 1 else 0  # a short write first
        return real_write(fd, data)

    opened: list[int] = [-1]
    real_init = Journal.__post_init__

    def tracking_init(self: Journal) -> None:
        real_init(self)
        opened[0] = self._fd

    monkeypatch.setattr(Journal, "__post_init__", tracking_init)
    monkeypatch.setattr(journal_module.os, "write", failing_write)
    report = asyncio.run(
        run_batch(BatchConfig(paths=(str(repo),), journal=journal), scripted_runner_factory())
    )
    monkeypatch.undo()
    assert "No space left on device" in report.journal_error
    assert report.filled == 8
    assert read_journal(journal) == {}  # the torn half line is ignored
    again = asyncio.run(
        run_batch(BatchConfig(paths=(str(repo),), journal=journal), scripted_runner_factory())
    )
    assert again.journal_error == "" and again.filled == 8  # the torn tail is repaired, journaling works
    assert len(read_journal(journal)) == 8


def test_journal_error_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot open the journal .*/file/j.jsonl"):
        Journal(blocker / "j.jsonl")


def test_a_temporary_file_left_by_a_killed_write_is_removed_by_the_next(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    stale = tmp_path / ".a.py.k1ll3d_9.infill-tmp"
    stale.write_text("half of a new tex")
    other = tmp_path / ".b.py.k1ll3d_9.infill-tmp"  # another file's: not ours to remove now
    other.write_text("")
    lookalike = tmp_path / ".a.py.notours.infill-tmp.keep"
    lookalike.write_text("")
    write_atomically(
        target, "x = 2\n", expected_sha256=sha256_of(b"x = 1\n"), mode=0o644, roots=[tmp_path.resolve()]
    )
    assert target.read_text() == "x = 2\n"
    assert not stale.exists() and other.exists() and lookalike.exists()


def _cli(argv: list[str]) -> int:
    original = cli.local_runner_factory
    cli.local_runner_factory = lambda args: scripted_runner_factory(ScriptedBatchClient())
    try:
        return cli.main(argv)
    finally:
        cli.local_runner_factory = original
