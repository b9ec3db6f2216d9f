"""The EngineClient that talks to an engine process over its Unix socket, and starts one when needed.

Many concurrent requests share one connection: the client gives each a wire id of its own and maps
answers back to the caller's request ids. Every wait has a timeout, and a lost connection fails every
pending request at once with EngineUnavailable.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.client import EngineError, EngineUnavailable, peer_credentials
from engine.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    ClientMessage,
    ErrorReply,
    Hello,
    InfillRequest,
    InfillResult,
    Partial,
    ProtocolError,
    ServerMessage,
    Shutdown,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_server,
    encode,
    frame_length,
)
from engine.server import EXIT_ALREADY_RUNNING, default_socket_path, ensure_private_dir

log = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000
_LOG_ROTATE_BYTES = 4 * 1024 * 1024
_MAX_RESPAWNS = 10  # engines started in one spawn_or_connect after losing the socket to a dying one
_spawned: list[subprocess.Popen[bytes]] = []  # kept so exited engines are reaped, not left as zombies


class EngineNotListening(EngineUnavailable):
    """Nothing accepted a connection on the socket (no engine there, or a stale socket file)."""


@dataclass(slots=True)
class _Pending:
    caller_id: int
    future: asyncio.Future[InfillResult] | asyncio.Future[StatusReply]
    on_partial: Callable[[Partial], None] | None = None


class PendingRequests:
    """In-flight requests by wire id; resolves their futures from the messages that answer them.

    Shared by the socket and the in-process client. Wire ids are the client's own, so callers may
    reuse ids across clients and status queries never collide with infill requests.
    """

    def __init__(self) -> None:
        self._by_wire: dict[int, _Pending] = {}
        self._wire_of_caller: dict[int, int] = {}
        self._next_wire_id = 1

    def __len__(self) -> int:
        return len(self._by_wire)

    def open_infill(
        self, caller_id: int, on_partial: Callable[[Partial], None] | None
    ) -> tuple[int, asyncio.Future[InfillResult]]:
        if caller_id in self._wire_of_caller:
            raise ValueError(f"request id {caller_id} is already in flight")
        wire_id = self._new_wire_id()
        future: asyncio.Future[InfillResult] = asyncio.get_running_loop().create_future()
        self._by_wire[wire_id] = _Pending(caller_id, future, on_partial)
        self._wire_of_caller[caller_id] = wire_id
        return wire_id, future

    def open_status(self) -> tuple[int, asyncio.Future[StatusReply]]:
        wire_id = self._new_wire_id()
        future: asyncio.Future[StatusReply] = asyncio.get_running_loop().create_future()
        self._by_wire[wire_id] = _Pending(0, future)
        return wire_id, future

    def wire_id(self, caller_id: int) -> int | None:
        return self._wire_of_caller.get(caller_id)

    def close(self, wire_id: int) -> None:
        """Forget ``wire_id``; a late answer to it is dropped."""
        pending = self._by_wire.pop(wire_id, None)
        if pending is not None and self._wire_of_caller.get(pending.caller_id) == wire_id:
            del self._wire_of_caller[pending.caller_id]

    def resolve(self, message: ServerMessage) -> None:
        """Hand ``message`` to the request it answers (rewritten to the caller's id)."""
        pending = self._by_wire.get(_request_id_of(message))
        if pending is None:
            if isinstance(message, ErrorReply):
                log.warning("engine error not tied to a request: %s", message.message)
            return
        answer = msgspec.structs.replace(message, request_id=pending.caller_id)
        match answer:
            case Partial():
                if pending.on_partial is not None:
                    try:
                        pending.on_partial(answer)
                    except Exception:
                        log.exception("an on_partial callback failed")
            case ErrorReply(code=code, message=text):
                _settle(pending.future, exception=EngineError(code, text))
            case InfillResult() | StatusReply():
                _settle(pending.future, result=answer)

    def fail_all(self, exc: BaseException) -> None:
        for pending in self._by_wire.values():
            _settle(pending.future, exception=exc)

    async def wait(
        self,
        wire_id: int,
        future: asyncio.Future[InfillResult] | asyncio.Future[StatusReply],
        timeout: float,
        abandon: Callable[[int], None],
    ) -> InfillResult | StatusReply:
        """Await ``future`` for at most ``timeout`` seconds; on timeout or cancellation call ``abandon``."""
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            abandon(wire_id)
            raise EngineUnavailable(f"the engine did not answer within {timeout:g}s") from None
        except asyncio.CancelledError:
            abandon(wire_id)
            raise
        finally:
            self.close(wire_id)

    def _new_wire_id(self) -> int:
        wire_id = self._next_wire_id
        self._next_wire_id += 1
        return wire_id


def _request_id_of(message: ServerMessage) -> int:
    match message:
        case Partial(request_id=rid) | InfillResult(request_id=rid) | ErrorReply(request_id=rid):
            return rid
        case StatusReply(request_id=rid):
            return rid
        case _:
            return 0  # Welcome: no wire id is 0


def _settle(future: asyncio.Future, *, result: object = None, exception: BaseException | None = None) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


class SocketEngineClient:
    """EngineClient over an engine's Unix socket; one connection multiplexes every request."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        client_name: str = "infill",
        connect_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.client_name = client_name
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.request_timeout = request_timeout
        self._pending = PendingRequests()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._welcome: Welcome | None = None
        self._engine_pid = 0
        self._closed = False

    @property
    def welcome(self) -> Welcome | None:
        return self._welcome

    @property
    def engine_pid(self) -> int:
        """The engine process's pid, from the socket's peer credentials (0 before start)."""
        return self._engine_pid

    @property
    def alive(self) -> bool:
        return (
            not self._closed
            and self._writer is not None
            and self._reader_task is not None
            and not self._reader_task.done()
        )

    async def start(self) -> Welcome:
        if self._writer is not None:
            raise RuntimeError("this client was already started; make a new one to reconnect")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket_path)), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise EngineNotListening(f"no engine is listening on {self.socket_path}: {exc!r}") from None
        try:
            self._check_peer(writer)
            writer.write(encode(Hello(PROTOCOL_VERSION, self.client_name)))
            reply = await asyncio.wait_for(_read_message(reader), self.handshake_timeout)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError, _ClosedUnderUs) as exc:
            # Closed without a word: an engine that is exiting (killed, or shut down) still had its
            # socket open when we connected. Nobody will serve this socket: the caller may start one.
            writer.close()
            raise EngineNotListening(
                f"the engine on {self.socket_path} closed the connection before its handshake "
                f"(it is exiting): {exc!r}"
            ) from None
        except (OSError, EOFError, ProtocolError, TimeoutError) as exc:
            writer.close()
            raise EngineUnavailable(
                f"handshake with the engine on {self.socket_path} failed: {exc!r}"
            ) from None
        except BaseException:
            writer.close()
            raise
        match reply:
            case Welcome():
                self._welcome = reply
            case ErrorReply(message=message):
                writer.close()
                raise EngineUnavailable(f"the engine on {self.socket_path} refused the connection: {message}")
            case _:
                writer.close()
                raise EngineUnavailable(f"the engine answered the handshake with {type(reply).__name__}")
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_loop(reader), name="engine-client-reader")
        return reply

    async def infill(
        self,
        request: InfillRequest,
        on_partial: Callable[[Partial], None] | None = None,
        timeout: float | None = None,
    ) -> InfillResult:
        self._require_alive()
        wire_id, future = self._pending.open_infill(request.request_id, on_partial)
        try:
            await self._send(msgspec.structs.replace(request, request_id=wire_id))
        except BaseException:
            self._pending.close(wire_id)
            raise
        timeout = self.request_timeout if timeout is None else timeout
        result = await self._pending.wait(wire_id, future, timeout, self._abandon)
        assert isinstance(result, InfillResult)
        return result

    async def cancel(self, request_id: int) -> None:
        wire_id = self._pending.wire_id(request_id)
        if wire_id is not None and self.alive:
            self._abandon(wire_id)

    async def status(self, timeout: float | None = None) -> StatusReply:
        self._require_alive()
        wire_id, future = self._pending.open_status()
        try:
            await self._send(StatusRequest(wire_id))
        except BaseException:
            self._pending.close(wire_id)
            raise
        timeout = self.request_timeout if timeout is None else timeout
        reply = await self._pending.wait(wire_id, future, timeout, lambda _: None)
        assert isinstance(reply, StatusReply)
        return reply

    async def shutdown_engine(self) -> None:
        """Ask the engine process to exit (it fails its requests in flight with SHUTTING_DOWN)."""
        self._require_alive()
        await self._send(Shutdown())

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            await asyncio.wait({self._reader_task}, timeout=self.connect_timeout)
        self._pending.fail_all(EngineUnavailable("the engine client was closed"))

    # ---- internals ----------------------------------------------------------------------------

    def _check_peer(self, writer: asyncio.StreamWriter) -> None:
        try:
            pid, uid = peer_credentials(writer)
        except OSError as exc:
            # The peer reset the connection and asyncio already closed our end (EBADF) before we asked
            # who it was: the same as a connection closed before its handshake.
            if writer.is_closing() or exc.errno in (errno.EBADF, errno.ENOTCONN):
                raise _ClosedUnderUs(exc) from None
            raise
        if uid != os.geteuid():
            raise EngineUnavailable(f"the process on {self.socket_path} belongs to uid {uid}, not to us")
        self._engine_pid = pid

    def _require_alive(self) -> None:
        if not self.alive:
            raise EngineUnavailable("the engine connection is not open")

    async def _send(self, message: ClientMessage) -> None:
        assert self._writer is not None
        self._writer.write(encode(message))
        try:
            await asyncio.wait_for(self._writer.drain(), self.request_timeout)
        except (OSError, TimeoutError) as exc:
            raise EngineUnavailable(f"could not send to the engine: {exc!r}") from None

    def _abandon(self, wire_id: int) -> None:
        """Tell the engine to drop ``wire_id`` (best effort, never blocks)."""
        if self.alive:
            assert self._writer is not None
            self._writer.write(encode(Cancel(wire_id)))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        reason = "the engine closed the connection"
        try:
            while True:
                body = await reader.readexactly(frame_length(await reader.readexactly(4)))
                try:
                    message = decode_server(body)
                except ProtocolError as exc:  # well framed, so the stream is still in step: skip it
                    log.warning("skipping an undecodable engine message: %s", exc)
                    continue
                self._pending.resolve(message)
        except asyncio.IncompleteReadError:
            pass
        except asyncio.CancelledError:
            reason = "the engine client was closed"
        except (OSError, ProtocolError) as exc:
            reason = f"the engine connection failed: {exc!r}"
        finally:
            self._pending.fail_all(EngineUnavailable(reason))
            if self._writer is not None:
                self._writer.close()


async def _read_message(reader: asyncio.StreamReader) -> ServerMessage:
    header = await reader.readexactly(4)
    body = await reader.readexactly(frame_length(header))
    return decode_server(body)


# ---- starting an engine process -----------------------------------------------------------------


class _ClosedUnderUs(ConnectionError):
    """The connection was closed (by the peer's reset) before the handshake could use it."""


async def spawn_or_connect(
    socket_path: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    start_timeout: float = 120.0,
    **client_options: object,
) -> SocketEngineClient:
    """Connect to the engine on ``socket_path``, first starting one as a detached process if none listens.

    The engine's output goes to ``engine.log`` beside the socket; if it exits or does not listen within
    ``start_timeout`` seconds, EngineUnavailable carries the tail of that log.
    """
    path = Path(socket_path) if socket_path is not None else default_socket_path()
    client = SocketEngineClient(path, **client_options)  # type: ignore[arg-type]
    try:
        await client.start()
        return client
    except EngineNotListening:
        pass
    try:
        ensure_private_dir(path.parent)
    except (OSError, RuntimeError) as exc:
        raise EngineUnavailable(str(exc)) from None
    log_path = path.with_suffix(".log")
    process, log_offset = _spawn_engine(path, model_dir, extra_args, log_path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    respawns = 0
    while True:
        client = SocketEngineClient(path, **client_options)  # type: ignore[arg-type]
        try:
            await client.start()
            return client
        except EngineNotListening:
            pass
        returncode = process.poll()
        if (
            returncode == EXIT_ALREADY_RUNNING
            and respawns < _MAX_RESPAWNS
            and loop.time() < deadline
            and not _engine_lock_held(path)
        ):
            # Ours lost the socket to an engine that was still exiting (or to a concurrent start that
            # has since died): nobody holds the socket now, so start another.
            process, log_offset = _spawn_engine(path, model_dir, extra_args, log_path)
            respawns, returncode = respawns + 1, None
        if returncode is not None and returncode != EXIT_ALREADY_RUNNING:  # another engine may be starting
            raise EngineUnavailable(
                f"the engine exited with status {returncode} while starting; "
                f"the end of {log_path}:\n{_log_tail(log_path, log_offset)}"
            )
        if loop.time() > deadline:
            raise EngineUnavailable(
                f"the engine (pid {process.pid}) did not listen on {path} within {start_timeout:g}s; "
                f"the end of {log_path}:\n{_log_tail(log_path, log_offset)}"
            )
        await asyncio.sleep(0.05)


def _engine_lock_held(path: Path) -> bool:
    """True when an engine process (starting, serving or exiting) holds the lock beside ``path``."""
    try:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def _spawn_engine(
    path: Path, model_dir: str | os.PathLike[str] | None, extra_args: Sequence[str], log_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    args = [sys.executable, "-m", "engine", "--socket", str(path.absolute())]
    if model_dir is not None:
        args += ["--model", str(Path(model_dir).absolute())]
    args += list(extra_args)
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)  # so `-m engine` finds this very package
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    if log_path.exists() and log_path.stat().st_size > _LOG_ROTATE_BYTES:
        log_path.replace(log_path.with_suffix(".log.1"))
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        offset = os.lseek(log_fd, 0, os.SEEK_END)
        log.info("starting an engine: %s (log: %s)", " ".join(args), log_path)
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/",
            start_new_session=True,  # the engine outlives this process and its terminal
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    _spawned[:] = [p for p in _spawned if p.poll() is None]
    _spawned.append(process)
    return process, offset


def _log_tail(log_path: Path, offset: int) -> str:
    try:
        with open(log_path, "rb") as f:
            f.seek(max(offset, f.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            return f.read().decode("utf-8", "replace").rstrip() or "(empty)"
    except OSError as exc:
        return f"(could not read the log: {exc})"
