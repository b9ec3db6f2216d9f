"""The engine served over a real Unix socket: permissions, framing, garbage, concurrency, dying engines.

Most tests run EngineServer in the test's event loop on a FakeCore; the process tests start a real
``python -m engine`` with the test-only ``--core-factory fake_core:...`` hook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import shutil
import signal
import socket
import stat
import struct
import tempfile
import time
from pathlib import Path

import msgspec
import pytest
from fake_core import RAISE_MARKER, FakeCore, fill_text

from engine.clients.connect import spawn_or_connect
from engine.clients.interface import EngineError, EngineUnavailable
from engine.clients.unix_socket import EngineNotListening, SocketEngineClient
from engine.host.launch import EngineLaunch
from engine.host.server import (
    EXIT_ALREADY_RUNNING,
    EXIT_ERROR,
    AlreadyRunning,
    EngineServer,
    EngineStartError,
    default_socket_path,
)
from engine.host.server import main as server_main
from engine.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    ErrorCode,
    ErrorReply,
    FinishReason,
    Hello,
    InfillRequest,
    InfillResult,
    Partial,
    ServerMessage,
    StatusRequest,
    Welcome,
    decode_server,
    encode,
    frame_length,
)

WAIT_S = 10.0
TESTS_DIR = Path(__file__).resolve().parent
NOBODY_UID = 65534


@pytest.fixture
def socket_path():
    base = Path(tempfile.mkdtemp(prefix="infill-t", dir="/tmp"))  # short: sun_path holds 107 bytes
    yield base / "run" / "engine.sock"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def server(socket_path: Path):
    core = FakeCore(steps=3)
    engine_server = EngineServer(lambda: core, socket_path, outbox_limit_bytes=1024 * 1024)
    await engine_server.start()
    engine_server.core = core  # type: ignore[attr-defined]
    yield engine_server
    await engine_server.close()


@pytest.fixture
async def client(server: EngineServer):
    engine_client = SocketEngineClient(server.socket_path, request_timeout=WAIT_S)
    await engine_client.start()
    yield engine_client
    await engine_client.close()


async def wait_until(predicate, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class RawConnection:
    """A hand-driven client connection for sending what a well-behaved client never would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: Path, *, hello: bool = True) -> RawConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), WAIT_S)
        connection = cls(reader, writer)
        if hello:
            connection.send_bytes(encode(Hello(PROTOCOL_VERSION, "raw")))
            assert isinstance(await connection.read(), Welcome)
        return connection

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    def send_body(self, body: bytes) -> None:
        self.writer.write(struct.pack(">I", len(body)) + body)

    async def read(self) -> ServerMessage:
        header = await asyncio.wait_for(self.reader.readexactly(4), WAIT_S)
        return decode_server(await asyncio.wait_for(self.reader.readexactly(frame_length(header)), WAIT_S))

    async def read_until_closed(self) -> list[ServerMessage]:
        """Read every message until the engine closes the connection (fails the test on timeout)."""
        messages: list[ServerMessage] = []
        try:
            while True:
                messages.append(await self.read())
        except (asyncio.IncompleteReadError, ConnectionError):
            return messages
        finally:
            self.close()

    def close(self) -> None:
        self.writer.close()


# ---- the socket's place and permissions -------------------------------------------------------


async def test_directory_is_0700_and_socket_is_0600(server: EngineServer) -> None:
    directory = os.lstat(server.socket_path.parent)
    assert stat.S_IMODE(directory.st_mode) == 0o700
    sock = os.lstat(server.socket_path)
    assert stat.S_ISSOCK(sock.st_mode)
    assert stat.S_IMODE(sock.st_mode) == 0o600
    assert server.socket_path.with_name("engine.sock.lock").exists()


async def test_a_directory_open_to_others_is_refused(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o755)
    os.chmod(socket_path.parent, 0o755)
    with pytest.raises(EngineStartError, match="0755"):
        await EngineServer(FakeCore, socket_path).start()
    assert not socket_path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
async def test_a_directory_of_another_user_is_refused(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    os.chown(socket_path.parent, NOBODY_UID, -1)
    with pytest.raises(EngineStartError, match="belongs to uid"):
        await EngineServer(FakeCore, socket_path).start()


async def test_a_stale_socket_is_replaced(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(socket_path))  # the file of an engine that died without cleaning up
    dead.close()
    engine_server = EngineServer(FakeCore, socket_path)
    await engine_server.start()
    try:
        engine_client = SocketEngineClient(socket_path)
        await engine_client.start()
        assert (await engine_client.infill(InfillRequest("1", "a", "b"))).request_id == "1"
        await engine_client.close()
    finally:
        await engine_server.close()
    assert not socket_path.exists()  # a clean shutdown removes its socket


async def test_a_live_socket_is_not_replaced(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(socket_path))
    live.listen(1)
    try:
        with pytest.raises(AlreadyRunning, match="already listening"):
            await EngineServer(FakeCore, socket_path).start()
        assert stat.S_ISSOCK(os.lstat(socket_path).st_mode)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(socket_path))  # still the original listener
        probe.close()
    finally:
        live.close()


async def test_a_second_engine_on_the_same_socket_is_refused(
    server: EngineServer, client: SocketEngineClient
) -> None:
    with pytest.raises(AlreadyRunning, match="lock"):
        await EngineServer(FakeCore, server.socket_path).start()
    assert (await client.infill(InfillRequest("1", "a", "b"))).request_id == "1"


def test_main_exit_statuses(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(socket_path))
    live.listen(1)
    try:
        args = ["--socket", str(socket_path), "--core-factory", "fake_core:make_core", "--log-level", "error"]
        assert server_main(args) == EXIT_ALREADY_RUNNING
    finally:
        live.close()
    os.chmod(socket_path.parent, 0o750)
    assert server_main(args) == EXIT_ERROR


def test_default_socket_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert default_socket_path() == Path("/run/user/1234/infill/engine.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket_path() == Path(f"/tmp/infill-{os.getuid()}/engine.sock")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
async def test_a_connection_from_another_uid_is_refused(
    server: EngineServer, client: SocketEngineClient
) -> None:
    # Open the filesystem defences on purpose, so only the peer-credential check stands in the way.
    os.chmod(server.socket_path.parent, 0o755)
    os.chmod(server.socket_path.parent.parent, 0o755)
    os.chmod(server.socket_path, 0o666)
    hello = encode(Hello(PROTOCOL_VERSION, "intruder"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, connect, report what the engine said (or what went wrong)
        report = b"?"
        try:
            os.close(read_end)
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5.0)
            sock.connect(str(server.socket_path))
            received = b""
            try:  # the engine may refuse and close before our Hello is sent or read: a reset, after its reply
                sock.sendall(hello)
                while chunk := sock.recv(65536):
                    received += chunk
            except (BrokenPipeError, ConnectionResetError):
                received += sock.recv(65536) if not received else b""
            report = b"+" + received
        except BaseException as exc:
            report = b"!" + repr(exc).encode()
        finally:
            os.write(write_end, report)
            os._exit(0)
    os.close(write_end)
    await asyncio.wait_for(asyncio.to_thread(os.waitpid, pid, 0), WAIT_S)
    report = os.read(read_end, 1 << 20)
    os.close(read_end)
    assert report[:1] == b"+", f"the child failed: {report!r}"
    received = report[1:]
    reply = decode_server(received[4 : 4 + frame_length(received[:4])])
    assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.PROTOCOL
    assert f"uid {NOBODY_UID}" in reply.message
    assert len(received) == 4 + frame_length(received[:4])  # no Welcome, then closed
    assert (await client.infill(InfillRequest("1", "a", "b"))).request_id == "1"


# ---- requests over the socket -----------------------------------------------------------------


async def test_infill_with_partials_and_status(client: SocketEngineClient) -> None:
    assert client.welcome is not None and client.welcome.model_name == "fake-model"
    assert client.engine_pid == os.getpid()
    partials: list[Partial] = []
    request = InfillRequest("123", "while ", ":\n", stream=True, num_candidates=2)
    result = await client.infill(request, on_partial=partials.append)
    assert result.request_id == "123"
    assert [c.text for c in result.candidates] == [fill_text(request), fill_text(request) + "#1"]
    # Partials are snapshots: one not yet sent when a newer one comes is replaced by it; the last arrives.
    steps = [p.step for p in partials]
    assert steps and steps[-1] == 2 and steps == sorted(set(steps)) and all(p.request_id == "123" for p in partials)
    status = await client.status()
    assert status.completed == 1 and status.model_name == "fake-model"


async def test_requests_are_named_after_their_client_process_for_the_fair_share(
    server: EngineServer, client: SocketEngineClient
) -> None:
    await client.infill(InfillRequest("1", "a", "b"))
    await client.infill(InfillRequest("2", "a", "b", client="key:alice"))  # a front that names its own clients
    assert server.core.added_clients == [f"pid:{os.getpid()}", "key:alice"]  # type: ignore[attr-defined]


async def test_cancel_over_the_socket(server: EngineServer, client: SocketEngineClient) -> None:
    server.core.step_delay = 0.001  # type: ignore[attr-defined]
    first_partial = asyncio.Event()
    task = asyncio.create_task(
        client.infill(
            InfillRequest("5", "x", "y", max_steps=1_000_000, stream=True),
            on_partial=lambda p: first_partial.set(),
        )
    )
    await asyncio.wait_for(first_partial.wait(), WAIT_S)
    await client.cancel("5")
    result = await asyncio.wait_for(task, WAIT_S)
    assert result.finish_reason == FinishReason.CANCELLED and result.request_id == "5"
    await wait_until(lambda: server.core.active == 0)  # type: ignore[attr-defined]


async def test_bad_and_failing_requests_fail_alone(client: SocketEngineClient) -> None:
    with pytest.raises(EngineError) as bad:
        await client.infill(InfillRequest("1", "x", "y", num_candidates=0))
    assert bad.value.code == ErrorCode.BAD_REQUEST
    with pytest.raises(EngineError) as failed:
        await client.infill(InfillRequest("2", RAISE_MARKER, "y"))
    assert failed.value.code == ErrorCode.INTERNAL
    assert (await client.infill(InfillRequest("3", "x", "y"))).request_id == "3"
    assert client.alive


async def test_a_request_timeout_raises_unavailable_and_cancels(
    server: EngineServer, client: SocketEngineClient
) -> None:
    server.core.step_delay = 0.001  # type: ignore[attr-defined]
    with pytest.raises(EngineUnavailable, match="did not answer"):
        await client.infill(InfillRequest("8", "x", "y", max_steps=1_000_000), timeout=0.1)
    await wait_until(lambda: server.core.active == 0)  # type: ignore[attr-defined]
    assert client.alive


async def test_sixteen_clients_at_once(server: EngineServer) -> None:
    clients = [SocketEngineClient(server.socket_path, request_timeout=WAIT_S) for _ in range(16)]
    await asyncio.gather(*(c.start() for c in clients))

    async def run(index: int, engine_client: SocketEngineClient) -> None:
        requests = [
            InfillRequest(f"c{index}-{i}", f"c{index:02d}r{i}", f"s{index}", stream=i % 2 == 0) for i in range(8)
        ]
        results = await asyncio.gather(
            *(engine_client.infill(r) for r in requests)
        )  # same ids on every client
        for request, result in zip(requests, results, strict=True):
            assert result.request_id == request.request_id
            assert result.candidates[0].text == fill_text(request)

    try:
        await asyncio.wait_for(asyncio.gather(*(run(i, c) for i, c in enumerate(clients))), WAIT_S * 3)
        assert server.connections == 16
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    await wait_until(lambda: server.connections == 0)


async def test_a_disconnect_cancels_the_connections_requests(server: EngineServer) -> None:
    server.core.step_delay = 0.001  # type: ignore[attr-defined]
    raw = await RawConnection.open(server.socket_path)
    for i in range(3):
        raw.send_bytes(encode(InfillRequest(f"r{i}", "x", "y", max_steps=1_000_000)))
    await wait_until(lambda: server.core.active == 3)  # type: ignore[attr-defined]
    raw.close()
    await wait_until(lambda: server.core.active == 0)  # type: ignore[attr-defined]
    assert len(server.core.cancelled_ids) == 3  # type: ignore[attr-defined]


async def test_a_client_that_does_not_read_is_dropped_and_blocks_nobody(
    server: EngineServer, client: SocketEngineClient
) -> None:
    server.core.step_delay = 0.001  # type: ignore[attr-defined]
    hog = await RawConnection.open(server.socket_path)
    big = "x" * 65536
    for i in range(64):  # each step streams 64 KiB per request; the hog reads none of it
        hog.send_bytes(encode(InfillRequest(f"hog-{i}", "p", "s", pinned=big, stream=True, max_steps=1_000)))
    for i in range(10):
        assert (await client.infill(InfillRequest(f"ok-{i}", f"p{i}", "s", stream=True))).request_id == f"ok-{i}"
    await wait_until(lambda: server.dropped_connections == 1)
    await asyncio.wait_for(hog.read_until_closed(), WAIT_S)  # buffered frames, then the end
    await wait_until(lambda: server.core.active == 0)  # type: ignore[attr-defined]
    assert (await client.infill(InfillRequest("99", "p", "s"))).request_id == "99"


async def test_shutdown_message_stops_the_server(socket_path: Path) -> None:
    engine_server = EngineServer(lambda: FakeCore(steps=1_000_000, step_delay=0.001), socket_path)
    await engine_server.start()
    serving = asyncio.create_task(engine_server.serve_until_shutdown())
    engine_client = SocketEngineClient(socket_path, request_timeout=WAIT_S)
    await engine_client.start()
    pending = asyncio.create_task(engine_client.infill(InfillRequest("1", "x", "y")))
    await asyncio.sleep(0.05)
    await engine_client.shutdown_engine()
    await asyncio.wait_for(serving, WAIT_S)
    with pytest.raises((EngineError, EngineUnavailable)):
        await asyncio.wait_for(pending, WAIT_S)
    assert not socket_path.exists()
    await wait_until(lambda: not engine_client.alive)
    await engine_client.close()


# ---- handshake and garbage --------------------------------------------------------------------


async def test_a_protocol_version_mismatch_is_refused(server: EngineServer) -> None:
    raw = await RawConnection.open(server.socket_path, hello=False)
    raw.send_bytes(encode(Hello(PROTOCOL_VERSION + 1, "future")))
    messages = await raw.read_until_closed()
    assert len(messages) == 1
    assert isinstance(messages[0], ErrorReply) and messages[0].code == ErrorCode.PROTOCOL
    assert "protocol version" in messages[0].message


async def test_the_first_message_must_be_hello(server: EngineServer) -> None:
    raw = await RawConnection.open(server.socket_path, hello=False)
    raw.send_bytes(encode(InfillRequest("1", "x", "y")))
    messages = await raw.read_until_closed()
    assert [type(m) for m in messages] == [ErrorReply]


async def test_client_start_fails_cleanly(server: EngineServer, socket_path: Path) -> None:
    with pytest.raises(EngineNotListening):
        await SocketEngineClient(socket_path.with_name("nothing.sock")).start()
    silent_path = socket_path.with_name("silent.sock")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(silent_path))
    silent.listen(1)
    try:
        with pytest.raises(EngineUnavailable, match="handshake"):
            await SocketEngineClient(silent_path, handshake_timeout=0.2).start()
    finally:
        silent.close()


async def test_a_connection_reset_before_the_peer_check_counts_as_no_engine(
    socket_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine killed as we connect resets the connection; asyncio may close our end before we ask
    SO_PEERCRED (EBADF). That is an engine going away, so spawn_or_connect may start another."""
    import errno

    import engine.clients.unix_socket as socket_client

    path = socket_path.with_name("dying.sock")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def closed_under_us(writer):
        writer.close()
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(socket_client, "peer_credentials", closed_under_us)
    try:
        with pytest.raises(EngineNotListening, match="before its handshake"):
            await SocketEngineClient(path, handshake_timeout=0.5).start()
    finally:
        listener.close()


async def test_well_framed_garbage_is_answered_and_the_connection_kept(server: EngineServer) -> None:
    raw = await RawConnection.open(server.socket_path)
    bodies = [
        b"\xc1\xff\x00garbage",  # not msgpack
        b"",  # empty
        msgspec.msgpack.encode([2, 17, "prefix", "suffix"]),  # wrong field type (an id is a string)
        msgspec.msgpack.encode([99, 1]),  # unknown tag
        msgspec.msgpack.encode({"request_id": 1}),  # not an array
    ]
    for body in bodies:
        raw.send_body(body)
        reply = await raw.read()
        assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.PROTOCOL
    raw.send_bytes(encode(Hello(PROTOCOL_VERSION)))  # a second Hello
    reply = await raw.read()
    assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.PROTOCOL
    raw.send_bytes(encode(InfillRequest("4", "x", "y")))
    result = await raw.read()
    assert isinstance(result, InfillResult) and result.request_id == "4"
    raw.close()


async def test_an_oversized_frame_length_closes_only_that_connection(
    server: EngineServer, client: SocketEngineClient
) -> None:
    raw = await RawConnection.open(server.socket_path)
    raw.send_bytes(b"\xff\xff\xff\xff" + b"x" * 100)
    messages = await raw.read_until_closed()
    assert (
        len(messages) == 1 and isinstance(messages[0], ErrorReply) and messages[0].code == ErrorCode.PROTOCOL
    )
    assert "exceeds" in messages[0].message
    assert (await client.infill(InfillRequest("1", "a", "b"))).request_id == "1"


async def test_random_bytes_do_not_hurt_other_connections(
    server: EngineServer, client: SocketEngineClient
) -> None:
    rng = random.Random(1234)
    raws = []
    for i in range(20):
        raw = await RawConnection.open(server.socket_path, hello=i % 2 == 0)
        raw.send_bytes(rng.randbytes(rng.randrange(1, 4096)))
        raws.append(raw)
    for i in range(5):
        assert (await client.infill(InfillRequest(str(i), "a", "b"))).request_id == str(i)
    for raw in raws:
        raw.close()
    await wait_until(lambda: server.connections == 1)
    assert (await client.status()).model_name == "fake-model"


async def test_status_and_cancel_of_unknown_ids_are_harmless(server: EngineServer) -> None:
    raw = await RawConnection.open(server.socket_path)
    raw.send_bytes(encode(Cancel("12345")))
    raw.send_bytes(encode(StatusRequest("-7")))
    reply = await raw.read()
    assert reply.request_id == "-7"  # type: ignore[union-attr]
    raw.close()


async def test_a_server_shutdown_fails_pending_requests_promptly(socket_path: Path) -> None:
    engine_server = EngineServer(lambda: FakeCore(steps=1_000_000, step_delay=0.001), socket_path)
    await engine_server.start()
    engine_client = SocketEngineClient(socket_path, request_timeout=60.0)
    await engine_client.start()
    pending = [asyncio.create_task(engine_client.infill(InfillRequest(str(i), "x", "y"))) for i in range(4)]
    await asyncio.sleep(0.05)
    await engine_server.close()
    for task in pending:
        with pytest.raises((EngineError, EngineUnavailable)):
            await asyncio.wait_for(task, WAIT_S)
    await engine_client.close()


# ---- a real engine process --------------------------------------------------------------------


@pytest.fixture
def engine_processes(monkeypatch: pytest.MonkeyPatch):
    """Lets spawned engines import fake_core, and kills any left behind."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p)
    )
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def wait_for_exit(pid: int) -> int:
    deadline = time.monotonic() + WAIT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        assert time.monotonic() < deadline, f"process {pid} did not exit"
        await asyncio.sleep(0.02)


FAKE = EngineLaunch(core_factory="fake_core:slow_core")


async def test_kill_9_mid_request_raises_unavailable_quickly(
    socket_path: Path, engine_processes: list[int]
) -> None:
    engine_client = await spawn_or_connect(socket_path, launch=FAKE, start_timeout=60, request_timeout=60)
    engine_processes.append(engine_client.engine_pid)
    assert engine_client.engine_pid != os.getpid()
    assert (await engine_client.infill(InfillRequest("1", "a", "b"))).candidates[0].text == "[a|b]"
    streaming = asyncio.Event()
    tasks = [
        asyncio.create_task(
            engine_client.infill(
                InfillRequest(str(i), "x", "y", max_steps=1_000_000, stream=True),
                on_partial=lambda p: streaming.set(),
            )
        )
        for i in range(10, 14)
    ]
    await asyncio.wait_for(streaming.wait(), WAIT_S)
    os.kill(engine_client.engine_pid, signal.SIGKILL)
    for task in tasks:
        with pytest.raises(EngineUnavailable):
            await asyncio.wait_for(task, WAIT_S)  # well under the 60 s request timeout
    assert not engine_client.alive
    with pytest.raises(EngineUnavailable):
        await engine_client.infill(InfillRequest("2", "a", "b"))
    assert await wait_for_exit(engine_client.engine_pid) == -signal.SIGKILL
    await engine_client.close()

    # The dead engine left its socket behind; the next spawn replaces it.
    assert socket_path.exists()
    restarted = await spawn_or_connect(socket_path, launch=FAKE, start_timeout=60)
    engine_processes.append(restarted.engine_pid)
    assert (await restarted.infill(InfillRequest("1", "c", "d"))).candidates[0].text == "[c|d]"
    await restarted.shutdown_engine()
    assert await wait_for_exit(restarted.engine_pid) == 0
    await restarted.close()


async def test_concurrent_spawns_share_one_engine(socket_path: Path, engine_processes: list[int]) -> None:
    clients = await asyncio.gather(
        *(
            spawn_or_connect(socket_path, launch=dataclasses.replace(FAKE, idle_exit=0.5), start_timeout=60)
            for _ in range(3)
        )
    )
    engine_processes.extend(c.engine_pid for c in clients)
    assert len({c.engine_pid for c in clients}) == 1
    results = await asyncio.gather(*(c.infill(InfillRequest(f"c{i}-1", f"p{i}", "s")) for i, c in enumerate(clients)))
    assert [r.candidates[0].text for r in results] == ["[p0|s]", "[p1|s]", "[p2|s]"]
    for c in clients:
        await c.close()
    assert await wait_for_exit(clients[0].engine_pid) == 0  # --idle-exit
    assert not socket_path.exists()


async def test_a_failing_engine_start_reports_its_log(socket_path: Path, engine_processes: list[int]) -> None:
    with pytest.raises(EngineUnavailable, match="fake core failed to load") as info:
        await spawn_or_connect(
            socket_path, launch=EngineLaunch(core_factory="fake_core:broken_core"), start_timeout=60
        )
    assert "exited with status 1" in str(info.value)
    assert socket_path.with_suffix(".log").exists()
