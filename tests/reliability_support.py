"""Shared pieces of the reliability tests: resource counts, engine processes, figures.

Figures (cases tried, latencies, timings) are printed and, when ``INFILL_RELIABILITY_FIGURES`` names a
file, appended to it as JSON lines; RELIABILITY.md is written from such a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
WAIT_S = 20.0  # generous: other suites share this machine's two cores
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))


def record(name: str, **figures: object) -> None:
    """Print ``figures`` of the check ``name`` and append them to $INFILL_RELIABILITY_FIGURES."""
    line = json.dumps({"check": name, **figures}, sort_keys=True)
    print(f"\nRELIABILITY {line}")
    target = os.environ.get("INFILL_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def open_fds() -> set[int]:
    """This process's open file descriptors (sockets, pipes and files alike)."""
    return {int(name) for name in os.listdir("/proc/self/fd")}


def fd_kinds(fds: set[int]) -> dict[int, str]:
    """What each fd is (its /proc link), with a socket's peer address when it has one."""
    import socket

    kinds = {}
    for fd in fds:
        with contextlib.suppress(OSError):
            kinds[fd] = os.readlink(f"/proc/self/fd/{fd}")
            if kinds[fd].startswith("socket:"):
                with socket.socket(fileno=os.dup(fd)) as probe:
                    kinds[fd] += f" peer {probe.getpeername()!r}"
    return kinds


def connected_elsewhere(fd: int, socket_path: Path) -> bool:
    """Whether ``fd`` is a socket provably connected to something other than ``socket_path``: a TCP
    connection or a Unix socket to another path (another component of this test process). Anything else,
    a socket to ``socket_path`` or one whose peer cannot be told, counts as this test's."""
    import socket

    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:  # not a socket, or already closed
        return False
    try:
        peer = probe.getpeername()
    except OSError:
        return False
    finally:
        probe.close()
    if probe.family == socket.AF_UNIX:
        return bool(peer) and peer != str(socket_path)
    return True


def live_children() -> list[int]:
    """Pids of this process's children that are still running (zombies excluded)."""
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == me and state != "Z":
            pids.append(int(entry))
    return pids


def process_state(pid: int) -> str:
    """The /proc state letter of ``pid`` ("" when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def process_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory (``VmHWM``: its peak so far), in KiB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def reap_spawned() -> None:
    """Reap engines spawn_or_connect started and that have exited (it keeps them to avoid zombies)."""
    from engine.clients import connect

    for process in connect._spawned:
        with contextlib.suppress(Exception):
            process.poll()


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


async def wait_until(predicate, timeout: float = WAIT_S, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{message} not reached within {timeout}s"
        await asyncio.sleep(0.01)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(ordered[-1], 2)}


@contextlib.contextmanager
def short_socket_dir() -> Iterator[Path]:
    """A socket path short enough for sun_path (107 bytes), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="infill-r", dir="/tmp"))
    try:
        yield base / "run" / "engine.sock"
    finally:
        shutil.rmtree(base, ignore_errors=True)


class EngineProcess:
    """``python -m engine`` on a FakeCore-style core, started and killed by the test."""

    def __init__(self, socket_path: Path, core: str = "fake_core:slow_core", **env: str) -> None:
        self.socket_path = socket_path
        self.core = core
        self.env = {**os.environ, "PYTHONPATH": PYTHONPATH, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> EngineProcess:
        self.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine",
                "--socket",
                str(self.socket_path),
                "--core-factory",
                self.core,
                "--log-level",
                "warning",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
            cwd=str(ROOT),
        )
        return self

    async def wait_listening(self, timeout: float = WAIT_S) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None and self.process.poll() is None, "the engine exited"
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.socket_path))
                return
            except OSError:
                assert time.monotonic() < deadline, "the engine did not listen in time"
                await asyncio.sleep(0.02)
            finally:
                probe.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            kill_quietly(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(WAIT_S)


# ---- a scripted engine client for in-process batch runs -----------------------------------------

BATCH_FILLS = {"python": "return 42", "rust": "42", "go": "return 42", "javascript": "return 42;"}


class ScriptedBatchClient:
    """An EngineClient answering every hole with a fill that parses in its language."""

    def __init__(self) -> None:
        self.requests: list = []

    async def start(self):
        from engine.protocol import Welcome

        return Welcome(1, "scripted", "cpu", "none", trained=False)

    async def infill(self, request, on_partial=None, timeout=None):
        from engine.protocol import Candidate, FinishReason, InfillResult

        self.requests.append(request)
        await asyncio.sleep(0)
        text = BATCH_FILLS.get(request.language, "pass")
        return InfillResult(request.request_id, (Candidate(text, 0.9, 3, 64),), int(FinishReason.CONVERGED))

    async def cancel(self, request_id: int) -> None:
        pass

    async def close(self) -> None:
        pass


def scripted_runner_factory(client: ScriptedBatchClient | None = None):
    from infill_lsp.batch.driving import LocalWaveRunner

    client = client or ScriptedBatchClient()

    async def make():
        return LocalWaveRunner(client, WAIT_S), "scripted", client.close

    return make
