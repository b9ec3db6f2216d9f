"""Engine faults seen from the editor side: an engine killed or stalled mid-request, clients that vanish.

Every test runs a real ``python -m engine`` process on a FakeCore (``--core-factory``) and checks that
the client side reports the fault, recovers, and leaks no processes, sockets or file descriptors.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import struct
import time
from pathlib import Path

import pytest
import soak
from reliability_support import (
    PYTHONPATH,
    WAIT_S,
    EngineProcess,
    connected_elsewhere,
    fd_kinds,
    kill_quietly,
    live_children,
    open_fds,
    percentiles,
    process_cmdline,
    process_state,
    reap_spawned,
    record,
    rss_kib,
    short_socket_dir,
    wait_until,
)

from engine.clients.connect import spawn_or_connect
from engine.clients.interface import EngineError, EngineUnavailable
from engine.clients.unix_socket import SocketEngineClient
from engine.host.launch import EngineLaunch
from engine.protocol import PROTOCOL_VERSION, FinishReason, Hello, InfillRequest, encode
from infill_lsp.config import EngineSettings
from infill_lsp.engine_link import EngineLink, EngineState

FAKE = EngineLaunch(core_factory="fake_core:slow_core")  # 20 ms per step
SOCKET_KILLS = soak.cases(fast=20, soak=100)
LINK_KILLS = soak.cases(fast=10, soak=30)


@pytest.fixture
def socket_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)  # spawned engines import fake_core
    with short_socket_dir() as path:
        yield path


def engine_pid_from_lock(socket_path: Path) -> int:
    """The pid the engine wrote into its lock file (0 when there is none yet)."""
    try:
        return int(socket_path.with_name(socket_path.name + ".lock").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


async def assert_no_leaks(
    fds_before: set[int], children_before: list[int], engine_pids: set[int], socket_path: Path
) -> None:
    """No new fds, no engine left running (a SIGKILLed process may take a moment to finish dying).

    Only children serving this test's socket count: other tests' processes may still be winding down.
    """
    deadline = time.monotonic() + WAIT_S
    while True:
        reap_spawned()
        extra = [p for p in sorted(set(live_children()) - set(children_before))
                 if str(socket_path) in process_cmdline(p)]
        alive = [pid for pid in engine_pids if process_state(pid) not in ("", "Z")]
        if not extra and not alive:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"processes left running: {[(p, process_cmdline(p)) for p in extra + alive]}"
            )
        await asyncio.sleep(0.02)
    # An fd another thread opens and closes around the snapshot (a pipe of a process being reaped) is not
    # a leak: only fds still open a moment later count.
    # Sockets of other components of this process (connected to other addresses) are not this test's.
    leaked = {fd for fd in open_fds() - fds_before if not connected_elsewhere(fd, socket_path)}
    settle = time.monotonic() + 2.0
    while leaked and time.monotonic() < settle:
        await asyncio.sleep(0.05)
        leaked &= open_fds()
    # An fd that closed before it could be described (its /proc link gone) was not leaked either.
    described = fd_kinds(leaked)
    assert not described, f"file descriptors leaked: {described}"


@soak.mark
async def test_engine_killed_at_random_points(socket_path: Path) -> None:
    """SIGKILL the engine SOCKET_KILLS times, each at a random point of a random mix of requests in flight."""
    rng = random.Random(20240611)
    fds_before, children_before = open_fds(), live_children()
    engine_pids: set[int] = set()
    outcomes = {"answered": 0, "unavailable": 0}
    detect_ms: list[float] = []
    reconnect_ms: list[float] = []
    started = time.perf_counter()
    try:
        for round_ in range(SOCKET_KILLS):
            began = time.perf_counter()
            client = await spawn_or_connect(
                socket_path, launch=FAKE, start_timeout=WAIT_S, request_timeout=WAIT_S
            )
            reconnect_ms.append((time.perf_counter() - began) * 1000)
            engine_pids.add(client.engine_pid)
            tasks = [
                asyncio.ensure_future(
                    client.infill(
                        InfillRequest(str(i), f"r{round_}", "s", max_steps=rng.randint(1, 12), stream=True)
                    )
                )
                for i in range(rng.randint(1, 4))
            ]
            await asyncio.sleep(rng.uniform(0.0, 0.15))  # before, while or after the requests run
            os.kill(client.engine_pid, signal.SIGKILL)
            killed = time.perf_counter()
            done, pending = await asyncio.wait(tasks, timeout=WAIT_S)
            assert not pending, "a request outlived its engine"
            for task in done:
                if task.exception() is None:
                    assert task.result().finish_reason == FinishReason.CONVERGED
                    outcomes["answered"] += 1
                else:
                    assert isinstance(task.exception(), EngineUnavailable), repr(task.exception())
                    outcomes["unavailable"] += 1
            await wait_until(lambda c=client: not c.alive, message="the client noticing the dead engine")
            detect_ms.append((time.perf_counter() - killed) * 1000)
            with pytest.raises(EngineUnavailable):
                await client.infill(InfillRequest("99", "a", "b"))
            await client.close()
    finally:
        for pid in engine_pids:
            kill_quietly(pid)
    elapsed = time.perf_counter() - started
    assert outcomes["unavailable"] > 0 and outcomes["answered"] > 0  # the kill points were spread
    await assert_no_leaks(fds_before, children_before, engine_pids, socket_path)
    record(
        "engine SIGKILL mid-request (socket client)",
        cases=SOCKET_KILLS,
        requests=sum(outcomes.values()),
        **outcomes,
        seconds=round(elapsed, 1),
        detect_ms=percentiles(detect_ms),
        respawn_ms=percentiles(reconnect_ms),
    )


async def test_a_stalled_engine_times_out_then_recovers_after_sigcont(socket_path: Path) -> None:
    engine = EngineProcess(socket_path).start()
    try:
        await engine.wait_listening()
        client = SocketEngineClient(socket_path, request_timeout=WAIT_S, handshake_timeout=0.5)
        await client.start()
        assert (await client.infill(InfillRequest("1", "a", "b"))).request_id == "1"
        os.kill(engine.pid, signal.SIGSTOP)
        await wait_until(lambda: process_state(engine.pid) == "T", message="the engine stopping")
        began = time.perf_counter()
        for i in range(5):
            with pytest.raises(EngineUnavailable, match="did not answer"):
                await client.infill(InfillRequest(str(10 + i), "x", "y"), timeout=0.2)
        with pytest.raises(EngineUnavailable):
            await client.status(timeout=0.2)
        timeout_s = time.perf_counter() - began
        # A second client cannot get a handshake from the stalled engine: it fails within its timeout.
        late = SocketEngineClient(socket_path, handshake_timeout=0.3)
        with pytest.raises(EngineUnavailable, match="handshake"):
            await late.start()
        assert client.alive  # a stall is not a disconnect
        os.kill(engine.pid, signal.SIGCONT)
        result = await client.infill(InfillRequest("20", "c", "d"), timeout=WAIT_S)
        assert result.candidates[0].text == "[c|d]"
        status = await client.status(timeout=WAIT_S)
        await wait_until(lambda: True)
        for _ in range(100):  # the timed-out requests were cancelled once the engine woke up
            status = await client.status(timeout=WAIT_S)
            if status.active == 0:
                break
            await asyncio.sleep(0.02)
        assert status.active == 0 and status.queued == 0
        await client.close()
    finally:
        engine.stop()
    record(
        "engine stalled (SIGSTOP) then SIGCONT", cases=7, timeouts_s=round(timeout_s, 2), result="recovered"
    )


async def test_a_stalled_engine_is_replaced_after_a_kill(socket_path: Path) -> None:
    engine = EngineProcess(socket_path).start()
    try:
        await engine.wait_listening()
        client = SocketEngineClient(socket_path, request_timeout=0.3)
        await client.start()
        os.kill(engine.pid, signal.SIGSTOP)
        with pytest.raises(EngineUnavailable, match="did not answer"):
            await client.infill(InfillRequest("1", "x", "y"))
        engine.stop()  # the editor side gives up on it: kill, then spawn a fresh one
        await wait_until(lambda: not client.alive)
        await client.close()
        fresh = await spawn_or_connect(socket_path, launch=FAKE, start_timeout=WAIT_S)
        try:
            assert fresh.engine_pid != engine.pid
            assert (await fresh.infill(InfillRequest("1", "a", "b"))).candidates[0].text == "[a|b]"
            await fresh.shutdown_engine()
        finally:
            await fresh.close()
            kill_quietly(fresh.engine_pid)
    finally:
        engine.stop()


# ---- through the language server's EngineLink -------------------------------------------------


@soak.mark
async def test_engine_link_survives_repeated_kills(socket_path: Path) -> None:
    """The LSP's hold on the engine: each kill is reported, answers are empty meanwhile, then it restarts."""
    rng = random.Random(7)
    outages: list[str] = []
    states: list[EngineState] = []
    settings = EngineSettings(
        mode="spawn",
        socket=str(socket_path),
        core_factory="fake_core:slow_core",
        restart_backoff_ms=20,
        start_timeout_ms=int(WAIT_S * 1000),
    )
    fds_before, children_before = open_fds(), live_children()
    link = EngineLink(settings, on_outage=outages.append, on_state=states.append)
    kills, empty, answered, engine_pids = 0, 0, 0, set()
    recover_ms: list[float] = []
    try:
        while kills < LINK_KILLS:
            result = await link.infill(InfillRequest(link.next_request_id(), "p", "s"), timeout=2.0)
            if result is None:
                empty += 1
                await asyncio.sleep(0.01)
                continue
            answered += 1
            if killed_at := getattr(link, "_killed_at", None):
                recover_ms.append((time.perf_counter() - killed_at) * 1000)
                link._killed_at = None  # type: ignore[attr-defined]
            pid = engine_pid_from_lock(socket_path)
            assert pid > 0
            engine_pids.add(pid)
            inflight = [
                asyncio.ensure_future(
                    link.infill(InfillRequest(link.next_request_id(), "q", "s", max_steps=30), timeout=5.0)
                )
                for _ in range(rng.randint(1, 3))
            ]
            await asyncio.sleep(rng.uniform(0.0, 0.1))
            os.kill(pid, signal.SIGKILL)
            link._killed_at = time.perf_counter()  # type: ignore[attr-defined]
            kills += 1
            results = await asyncio.wait_for(asyncio.gather(*inflight), WAIT_S)
            assert all(r is None or r.finish_reason == FinishReason.CONVERGED for r in results)
        assert len(outages) >= kills  # every outage reported (the server shows the first per link)
        assert link.restarts >= kills - 1  # the last restart may still be backing off
        assert EngineState.DOWN in states
        deadline = time.monotonic() + WAIT_S  # and it comes back after the last kill too
        while await link.infill(InfillRequest(link.next_request_id(), "p", "s"), timeout=2.0) is None:
            assert time.monotonic() < deadline, "the link did not recover after the last kill"
            await asyncio.sleep(0.02)
        assert link.state is EngineState.READY
        info = await link.status()
        assert info["restarts"] == link.restarts
    finally:
        await link.close()
        await asyncio.sleep(0.05)
        pid = engine_pid_from_lock(socket_path)
        engine_pids.add(pid)
        for pid in engine_pids:
            kill_quietly(pid)
        await wait_until(lambda: all(process_state(p) in ("", "Z") for p in engine_pids))
    await assert_no_leaks(fds_before, children_before, engine_pids, socket_path)
    record(
        "engine SIGKILL mid-request (LSP EngineLink)",
        cases=kills,
        answered=answered,
        empty_meanwhile=empty,
        outages_reported=len(outages),
        restarts=link.restarts,
        recover_ms=percentiles(recover_ms),
    )


async def test_engine_link_times_out_on_a_stalled_engine_and_recovers(socket_path: Path) -> None:
    engine = EngineProcess(socket_path).start()
    settings = EngineSettings(mode="connect", socket=str(socket_path), restart_backoff_ms=20)
    link = EngineLink(settings)
    try:
        await engine.wait_listening()
        assert (
            await link.infill(InfillRequest(link.next_request_id(), "a", "b"), timeout=WAIT_S)
        ) is not None
        os.kill(engine.pid, signal.SIGSTOP)
        began = time.perf_counter()
        results = [
            await link.infill(InfillRequest(link.next_request_id(), "a", "b"), timeout=0.2) for _ in range(3)
        ]
        assert results == [None, None, None]
        assert time.perf_counter() - began < 3 * (0.2 + 1.0) + 2.0  # each bounded by its timeout
        info = await link.status(timeout=0.2)
        assert "status_error" in info
        os.kill(engine.pid, signal.SIGCONT)
        result = await link.infill(InfillRequest(link.next_request_id(), "c", "d"), timeout=WAIT_S)
        assert result is not None and result.candidates[0].text == "[c|d]"
    finally:
        await link.close()
        engine.stop()


# ---- clients that misbehave -----------------------------------------------------------------


def engine_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_clients_disconnecting_mid_request_free_their_work(socket_path: Path) -> None:
    """Connections closed at random points (mid-frame included) leave no work and no sockets behind."""
    rng = random.Random(99)
    engine = EngineProcess(socket_path).start()
    try:
        await engine.wait_listening()
        watcher = SocketEngineClient(socket_path, request_timeout=WAIT_S)
        await watcher.start()
        baseline_fds = engine_fds(engine.pid)
        cases = 60
        for i in range(cases):
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(socket_path)), WAIT_S)
            frames = encode(Hello(PROTOCOL_VERSION, "vanishing"))
            frames += b"".join(
                encode(InfillRequest(j, "x" * rng.randint(0, 2000), "y", max_steps=1000, stream=True))
                for j in range(rng.randint(0, 5))
            )
            cut = rng.randint(0, len(frames))  # mid-header, mid-body or after whole frames
            writer.write(frames[:cut])
            await writer.drain()
            if i % 3 == 0:
                await asyncio.sleep(rng.uniform(0, 0.05))
            if i % 5 == 0:  # a reset instead of an orderly close
                sock = writer.get_extra_info("socket")
                sock.setsockopt(
                    __import__("socket").SOL_SOCKET, __import__("socket").SO_LINGER, struct.pack("ii", 1, 0)
                )
            writer.close()
        result = await watcher.infill(InfillRequest("1", "a", "b"))
        assert result.candidates[0].text == "[a|b]"

        async def settled() -> bool:
            status = await watcher.status()
            return status.active == 0 and engine_fds(engine.pid) <= baseline_fds

        deadline = time.monotonic() + WAIT_S
        while not await settled():
            assert time.monotonic() < deadline, (await watcher.status(), engine_fds(engine.pid), baseline_fds)
            await asyncio.sleep(0.05)
        await watcher.close()
    finally:
        engine.stop()
    record("client disconnects mid-request / mid-frame", cases=cases, result="work freed, engine fds flat")


async def test_a_client_that_never_reads_is_dropped_by_the_engine_process(socket_path: Path) -> None:
    """The in-process variant is tests/test_engine_socket.py::test_a_client_that_does_not_read_...;
    this one checks a real engine process and that the hog's requests are cancelled."""
    engine = EngineProcess(socket_path, core="fake_core:make_core").start()
    try:
        await engine.wait_listening()
        client = SocketEngineClient(socket_path, request_timeout=WAIT_S)
        await client.start()
        reader, writer = await asyncio.open_unix_connection(str(socket_path))
        writer.write(encode(Hello(PROTOCOL_VERSION, "hog")))
        big = "z" * 200_000
        try:
            for i in range(200):  # ~40 MB of streamed partials per step, never read
                writer.write(encode(InfillRequest(str(i), "p", "s", pinned=big, stream=True, max_steps=100_000)))
                await writer.drain()
        except ConnectionError:
            pass  # dropped by the engine while still sending: what should happen
        began = time.perf_counter()
        for i in range(20):  # ids of its own: the hog's may still be in flight until the engine drops it
            assert (await client.infill(InfillRequest(f"served-{i}", "a", "b"))).request_id == f"served-{i}"
        served_s = time.perf_counter() - began
        for _ in range(200):
            status = await client.status()
            if status.active == 0:
                break
            await asyncio.sleep(0.05)
        assert status.active == 0, status
        # Its partials (200 KB each, a step every few microseconds) reached the event loop one per request,
        # not one per step: the engine's peak memory stays small (it reached 4.5 GB when they queued up).
        assert engine.process is not None
        peak_mib = rss_kib(engine.process.pid, "VmHWM") / 1024
        assert peak_mib < 400, f"the engine peaked at {peak_mib:.0f} MiB"
        writer.close()
        await client.close()
    finally:
        engine.stop()
    record("client that never reads (engine process)", cases=1, others_served_ms=round(served_s * 1000, 1),
           engine_peak_mib=round(peak_mib))


async def test_engine_errors_fail_alone_through_the_link(socket_path: Path) -> None:
    engine = EngineProcess(socket_path).start()
    link = EngineLink(EngineSettings(mode="connect", socket=str(socket_path)))
    try:
        await engine.wait_listening()
        assert (
            await link.infill(InfillRequest(link.next_request_id(), "a", "b", num_candidates=0), WAIT_S)
            is None
        )
        assert link.state is EngineState.READY and link.failures == 0
        assert await link.infill(InfillRequest(link.next_request_id(), "a", "b"), WAIT_S) is not None
    except EngineError:  # pragma: no cover - the link turns engine errors into empty answers
        raise
    finally:
        await link.close()
        engine.stop()


# ---- regressions found by the kill test ---------------------------------------------------------


async def test_a_dying_engine_does_not_stop_a_respawn(socket_path: Path) -> None:
    """Found by the 100-kill test: right after SIGKILL the dead engine's socket still accepted and then
    reset, so spawn_or_connect raised instead of starting an engine; and an engine started while the
    dying one still held the lock exited 3, leaving spawn_or_connect to wait out its whole timeout."""
    import fcntl
    import socket as socket_module

    socket_path.parent.mkdir(mode=0o700)
    dying = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
    dying.bind(str(socket_path))
    dying.listen(8)
    lock = os.open(socket_path.with_name(socket_path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the dying engine still holds its lock

    async def reset_connections() -> None:
        loop = asyncio.get_running_loop()
        dying.setblocking(False)
        while True:
            conn, _ = await loop.sock_accept(dying)
            conn.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # accepted, then reset: what a process being killed does

    resetter = asyncio.ensure_future(reset_connections())
    spawning = asyncio.ensure_future(spawn_or_connect(socket_path, launch=FAKE, start_timeout=WAIT_S))
    try:
        await asyncio.sleep(0.5)  # the first engine we start finds the lock taken and exits 3
        resetter.cancel()
        dying.close()  # the dying engine is gone: its socket file stays, its lock is released
        os.close(lock)
        began = time.perf_counter()
        client = await asyncio.wait_for(spawning, WAIT_S)
        try:
            assert time.perf_counter() - began < WAIT_S / 2
            assert (await client.infill(InfillRequest("1", "a", "b"))).candidates[0].text == "[a|b]"
        finally:
            kill_quietly(client.engine_pid)
            await client.close()
    finally:
        resetter.cancel()
        spawning.cancel()
        dying.close()
