"""``infill batch --write`` killed at random points: files are all-or-nothing, and a rerun finishes the job.

Each case copies a small repository, runs ``python -m infill_lsp.cli batch --write`` as a subprocess
against one engine process (a FakeCore whose fills parse, tests/reliability_cores.py), SIGKILLs it after
a random delay, checks every file is byte-for-byte the original or the fully filled version, then
reruns the same command (in this process) and checks it resumes from the journal and ends where an
uninterrupted run ends.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soak
from reliability_support import PYTHONPATH, ROOT, WAIT_S, EngineProcess, record, short_socket_dir

from infill_lsp.batch import cli
from infill_lsp.batch.journal import read_journal

CASES = soak.cases(fast=12, soak=50)
STEP_MS = "15"  # per denoising step of the fake core; 3 steps per hole, waves of 3 holes


def make_repo(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    for i in range(6):
        (root / "pkg" / f"m{i}.py").write_text(
            f"def f{i}(a):\n    pass\n\n\ndef g{i}(b):\n    ...\n\n\ndef h{i}(c):\n    return c\n"
        )
    (root / "pkg" / "r.rs").write_text("fn f() -> i32 {\n    todo!()\n}\n")
    (root / "c.go").write_text('package p\n\nfunc F() int {\n\tpanic("TODO")\n}\n')
    (root / "d.js").write_text('function f() {\n  throw new Error("TODO");\n}\n')
    (root / "README.md").write_text("not code\n")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def batch_args(repo: Path, socket_path: Path, journal: Path) -> list[str]:
    return [
        str(repo), "--write", "--socket", str(socket_path), "--journal", str(journal),
        "--wave-size", "3", "--no-progress", "--timeout", str(WAIT_S),
    ]  # fmt: skip


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)
    with short_socket_dir() as socket_path:
        process = EngineProcess(
            socket_path, core="reliability_cores:fill_core", RELIABILITY_STEP_MS=STEP_MS
        ).start()
        asyncio.run(process.wait_listening())
        try:
            yield process
        finally:
            process.stop()


def wait_for_answers(process: subprocess.Popen, journal: Path, holes: int) -> None:
    """Wait until the run's journal records ``holes`` answers (or the run ends, or WAIT_S passes)."""
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None and time.monotonic() < deadline and len(read_journal(journal)) < holes:
        time.sleep(0.01)


@soak.mark
def test_batch_write_killed_at_random_points(engine: EngineProcess, tmp_path: Path) -> None:
    rng = random.Random(424242)
    pristine = tmp_path / "pristine"
    make_repo(pristine)
    original = snapshot(pristine)

    # The uninterrupted run: what every file must end as.
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    command = [sys.executable, "-m", "infill_lsp.cli", "batch"]
    env = engine.env
    began = time.perf_counter()
    done = subprocess.run(
        [*command, *batch_args(reference, engine.socket_path, tmp_path / "ref.jsonl")],
        env=env, cwd=ROOT, capture_output=True, timeout=WAIT_S * 3,
    )  # fmt: skip
    full_run_s = time.perf_counter() - began
    assert done.returncode == 0, done.stderr.decode()
    filled = snapshot(reference)
    changed = sorted(name for name in filled if filled[name] != original[name])
    assert len(changed) == 9 and "README.md" not in changed
    holes = len(read_journal(tmp_path / "ref.jsonl"))

    states = {"untouched": 0, "partly written": 0, "all written": 0}
    journal_records: list[int] = []
    resumed_reused = 0
    leftovers = 0
    for case in range(CASES):
        repo = tmp_path / f"case{case}"
        shutil.copytree(pristine, repo)
        journal = tmp_path / f"case{case}.jsonl"
        # Half the kills anywhere in the run (by time); half once every hole is answered, while files are
        # being written or just after (by progress, so a machine slower than during the reference run
        # still gets kills there).
        process = subprocess.Popen(
            [*command, *batch_args(repo, engine.socket_path, journal)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if case % 2:
            time.sleep(rng.uniform(0, full_run_s))
        else:
            wait_for_answers(process, journal, holes)
            # short delays land in the writes, long ones mostly after the run has ended
            time.sleep(rng.uniform(0, (0.05 if case % 4 == 0 else 0.5) * full_run_s))
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT_S)

        after = snapshot(repo)
        temps = [name for name in after if name.endswith(".infill-tmp")]
        leftovers += len(temps)
        written = 0
        assert set(after) - set(temps) == set(original), f"case {case}: files appeared or vanished"
        for name, data in original.items():
            assert after[name] in (data, filled[name]), f"case {case}: {name} is neither original nor filled"
            written += after[name] != data
        states[
            "untouched" if not written else "all written" if written == len(changed) else "partly written"
        ] += 1
        journal_records.append(len(read_journal(journal)))

        # The rerun resumes from the journal and ends exactly where the uninterrupted run did.
        code = cli.main(batch_args(repo, engine.socket_path, journal) + ["--json"])
        assert code == 0, f"case {case}: the rerun failed"
        final = snapshot(repo)
        assert final == filled, f"case {case}: the rerun did not end as the uninterrupted run"
        resumed_reused += journal_records[-1] > 0
    assert states["untouched"] and states["all written"]  # the kill points covered the run
    assert resumed_reused, "no rerun resumed from a journal"
    record(
        "batch --write SIGKILL at random points",
        cases=CASES,
        full_run_s=round(full_run_s, 2),
        **{k.replace(" ", "_"): v for k, v in states.items()},
        kills_with_journal_records=sum(1 for n in journal_records if n),
        mixed_or_truncated_files=0,
        temp_files_left_by_kill_then_removed_by_rerun=leftovers,
        reruns_finished=CASES,
        reruns_resuming_from_journal=resumed_reused,
    )
