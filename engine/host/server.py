"""The engine process: one EngineLoop served to same-user clients over a private Unix socket.

Safety of the socket: its directory is ours with mode 0700, the socket has mode 0600, and every
connection's peer credentials must carry our uid. A lock file beside the socket keeps a second engine
off it; a socket file that accepts no connection is a dead engine's and is replaced. Each connection
has a bounded outbox: a client that stops reading is dropped instead of stalling the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import stat
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from engine.clients.interface import peer_credentials
from engine.host.connection import FLUSH_TIMEOUT_S, EngineConnection, Unreadable
from engine.host.launch import EngineLaunch
from engine.host.loop import EngineCore, EngineLoop
from engine.protocol import (
    MAX_FRAME_BYTES,
    ErrorCode,
    ErrorReply,
    InfillRequest,
    ProtocolError,
    ServerMessage,
    StatusReply,
    Welcome,
    encode,
    frame_length,
)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ALREADY_RUNNING = 3
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107  # sun_path: 104 (macOS) or 108 bytes with its NUL


class EngineStartError(RuntimeError):
    """The engine cannot serve on the requested socket."""


class AlreadyRunning(EngineStartError):
    """Another engine holds the socket."""


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/infill/engine.sock``, else ``/tmp/infill-$UID/engine.sock``."""
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime_dir) / "infill" if runtime_dir else Path(f"/tmp/infill-{os.getuid()}")
    return base / "engine.sock"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700, or check that the existing directory is ours and private."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise EngineStartError(f"{path} is not a directory (a symlink is refused too)")
    if st.st_uid != os.geteuid():
        raise EngineStartError(f"{path} belongs to uid {st.st_uid}, not to uid {os.geteuid()}")
    if st.st_mode & 0o077:
        raise EngineStartError(
            f"{path} has mode {stat.S_IMODE(st.st_mode):04o}; the engine needs a private directory (0700)"
        )


class EngineServer:
    """Serves the core made by ``core_factory`` on ``socket_path`` until shut down."""

    def __init__(
        self,
        core_factory: Callable[[], EngineCore],
        socket_path: str | os.PathLike[str],
        *,
        idle_exit: float = 0.0,
        launch: EngineLaunch | None = None,
        outbox_limit_bytes: int = 2 * MAX_FRAME_BYTES,
        handshake_timeout: float = 10.0,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.idle_exit = idle_exit
        self.launch = launch
        self.welcome: Welcome | None = None  # the core's, with what only the process knows (dtype, model)
        self.default_canvas = 64  # the core's multi-line canvas, for HTTP requests that name no length
        self._started_at = time.monotonic()
        self.outbox_limit_bytes = outbox_limit_bytes
        self.handshake_timeout = handshake_timeout
        self._core_factory = core_factory
        self._engine: EngineLoop | None = None
        self._lock_fd: int | None = None
        self._server: asyncio.Server | None = None
        self._socket_inode: tuple[int, int] | None = None
        self._connections: set[_SocketConnection] = set()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._shutdown = asyncio.Event()
        self.dropped_connections = 0

    @property
    def connections(self) -> int:
        return len(self._connections)

    @property
    def engine(self) -> EngineLoop:
        assert self._engine is not None, "start() first"
        return self._engine

    async def start(self) -> None:
        """Claim the socket path, build the core, and listen."""
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise EngineStartError(
                f"socket path {self.socket_path} is longer than {MAX_SOCKET_PATH_BYTES} bytes"
            )
        ensure_private_dir(self.socket_path.parent)
        self._lock_fd = _acquire_lock(self.socket_path.with_name(self.socket_path.name + ".lock"))
        try:
            _remove_stale_socket(self.socket_path)
            core = await asyncio.to_thread(self._core_factory)
            config = getattr(core, "config", None)  # engine.core.engine_core.EngineCore's; fakes have none
            self.default_canvas = config.multi_line_canvases[0] if config is not None else 64
            self.welcome = described_welcome(core, self.launch)
            self._engine = EngineLoop(core)
            self._engine.start()
            self._server = await asyncio.start_unix_server(self._on_connect, sock=self._bind())
        except BaseException:
            await self.close()
            raise
        self._arm_idle_timer()
        welcome = self.welcome
        log.info(
            "engine %s (%s, %s, %s) listening on %s%s",
            welcome.model_name,
            welcome.device,
            welcome.backend,
            welcome.dtype or "dtype unknown",
            self.socket_path,
            f"; exits {self.idle_exit:g}s after its last client leaves" if self.idle_exit > 0 else "",
        )

    async def serve_until_shutdown(self) -> None:
        await self._shutdown.wait()
        await self.close()

    def request_shutdown(self) -> None:
        self._shutdown.set()

    async def close(self) -> None:
        """Stop listening, fail requests in flight, flush and close connections, release the socket."""
        self._shutdown.set()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._server is not None:
            self._server.close()
        if self._socket_inode is not None:
            with contextlib.suppress(OSError):
                st = os.lstat(self.socket_path)
                if (st.st_dev, st.st_ino) == self._socket_inode:
                    os.unlink(self.socket_path)
            self._socket_inode = None
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)  # its SHUTTING_DOWN replies reach the outboxes
            await asyncio.sleep(0)
        await asyncio.gather(*(c.close(flush=True) for c in list(self._connections)))
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock file stays: unlinking it would race with a new engine
            self._lock_fd = None

    # ---- internals ----------------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.socket_path))
            os.chmod(self.socket_path, 0o600)  # before listen(): nobody can connect yet
            st = os.lstat(self.socket_path)
            self._socket_inode = (st.st_dev, st.st_ino)
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _SocketConnection(self, reader, writer)
        self._connections.add(connection)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)
            if not self._connections:
                self._arm_idle_timer()

    def described_status(self, reply: StatusReply) -> StatusReply:
        """The core's StatusReply with what only the engine process knows."""
        welcome = self.welcome
        return msgspec.structs.replace(
            reply,
            pid=os.getpid(),
            rss_bytes=_resident_bytes(),
            uptime_s=round(time.monotonic() - self._started_at, 3),
            clients=len(self._connections),
            dtype=welcome.dtype if welcome is not None else "",
            model_dir=welcome.model_dir if welcome is not None else "",
            idle_exit_s=self.idle_exit,
        )

    def _arm_idle_timer(self) -> None:
        if self.idle_exit > 0 and not self._shutdown.is_set():
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_exit, self._idle_expired)

    def _idle_expired(self) -> None:
        if not self._connections:
            log.info("no clients for %gs: exiting", self.idle_exit)
            self.request_shutdown()


class _SocketConnection(EngineConnection):
    """A same-user client on the Unix socket: length-prefixed frames, may stop the engine."""

    def __init__(self, server: EngineServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(server.engine, lambda: server.welcome or server.engine.welcome,
                         outbox_limit_bytes=server.outbox_limit_bytes, handshake_timeout=server.handshake_timeout)
        self._server = server
        self._reader = reader
        self._writer = writer
        self.peer_pid = 0

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"client pid {self.peer_pid}"

    async def serve(self) -> None:
        if self._peer_allowed():
            await super().serve()
        else:
            with contextlib.suppress(TimeoutError, OSError, ConnectionError):  # the refusal, if it can go out
                await asyncio.wait_for(self._writer.drain(), FLUSH_TIMEOUT_S)
            self._abort()
        if self.dropped:
            self._server.dropped_connections += 1

    async def receive(self) -> bytes | None:
        header = await self._reader.readexactly(4)
        try:
            length = frame_length(header)
        except ProtocolError as exc:  # a bad frame length: the stream is out of step, give up on it
            raise Unreadable(str(exc), fatal=True) from None
        return await self._reader.readexactly(length)

    def encode(self, message: ServerMessage) -> bytes:
        return _encode_reply(message)

    async def write(self, bodies: list[bytes]) -> None:
        self._writer.writelines(bodies)
        await self._writer.drain()  # a client that does not read blocks here, and its outbox fills

    def abort(self) -> None:
        self._writer.transport.abort()

    def admit(self, request: InfillRequest) -> InfillRequest:
        if request.client:
            return request
        # The engine shares its steps fairly between client processes.
        client = f"pid:{self.peer_pid}" if self.peer_pid else f"conn:{id(self):x}"
        return msgspec.structs.replace(request, client=client)

    def status_reply(self, reply: StatusReply) -> StatusReply:
        return self._server.described_status(reply)

    def shutdown(self) -> None:
        log.info("shutdown requested by client pid %d", self.peer_pid)
        self._server.request_shutdown()

    def _peer_allowed(self) -> bool:
        try:
            self.peer_pid, uid = peer_credentials(self._writer)
        except OSError:  # the client reset the connection before we could ask who it was
            return False
        if uid == os.geteuid():
            return True
        log.warning("refused a connection from pid %d of uid %d", self.peer_pid, uid)
        self._writer.write(_encode_reply(ErrorReply("", ErrorCode.PROTOCOL,
                                                    f"connection refused: uid {uid} may not use this engine")))
        return False


def described_welcome(core: EngineCore, launch: EngineLaunch | None) -> Welcome:
    """The core's Welcome with the weights' dtype and the model directory, which only the process knows."""
    welcome = core.welcome
    runner_dtype = getattr(getattr(core, "runner", None), "dtype", None)  # EngineCore's runner; fakes have none
    if runner_dtype is not None:
        dtype = str(runner_dtype).removeprefix("torch.")
    else:
        dtype = launch.dtype if launch is not None and launch.dtype != "auto" else ""
    model_dir = str(launch.resolved_model_dir()) if launch is not None else ""
    return msgspec.structs.replace(welcome, dtype=welcome.dtype or dtype, model_dir=welcome.model_dir or model_dir)


def _resident_bytes() -> int:
    """This process's resident memory (Linux: now, from /proc; elsewhere: the peak, from getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _encode_reply(message: ServerMessage) -> bytes:
    try:
        return encode(message)
    except ProtocolError as exc:  # an answer too big for one frame fails alone
        request_id = "" if isinstance(message, Welcome) else message.request_id
        return encode(ErrorReply(request_id, ErrorCode.INTERNAL, str(exc)))


def _acquire_lock(lock_path: Path) -> int:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        pid = f" (pid {holder})" if holder.isdigit() else ""
        raise AlreadyRunning(f"another engine{pid} holds {lock_path}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _remove_stale_socket(path: Path) -> None:
    """Unlink a socket file nobody listens on; refuse a live one or a file that is not a socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise EngineStartError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("replacing the stale socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    except OSError:
        pass  # a timeout or a full backlog: somebody is there
    finally:
        probe.close()
    raise AlreadyRunning(f"an engine is already listening on {path}")


# ---- command line -------------------------------------------------------------------------------


class Front(Protocol):
    """Something else the engine process serves, over its engine loop (``infill_http``'s HTTP API): it listens
    before the model loads and is handed the engine once it serves."""

    async def start(self) -> None: ...

    def ready(self, engine: EngineLoop, welcome: Welcome, default_canvas: int) -> None: ...

    async def stop(self) -> None: ...


class FrontKind(Protocol):
    """A kind of front: its flags, and the front they ask for (None when they ask for none)."""

    start_errors: tuple[type[Exception], ...]  # said in one line at start, not crashed on

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def from_args(self, args: argparse.Namespace, launch: EngineLaunch) -> Front | None:
        """Raise ValueError for flags that do not go together."""
        ...


def parse_args(
    argv: list[str] | None, kinds: Sequence[FrontKind] = ()
) -> tuple[argparse.Namespace, EngineLaunch, list[Front]]:
    parser = argparse.ArgumentParser(
        prog="infill engine", description="Run the infill diffusion engine.",
        epilog="The running engine: 'infill engine status|stop|restart [--socket PATH]' shows what it serves, "
               "stops it, or starts it afresh ('infill engine status --help' for their flags).")
    parser.add_argument(
        "--socket", type=Path, default=None, help=f"socket path (default: {default_socket_path()})"
    )
    EngineLaunch.add_arguments(parser, process=True)
    parser.add_argument("--check", action="store_true",
                        help="print what the model directory is and its memory plan, then exit (loads no weights)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log level (default info)")
    for kind in kinds:
        kind.add_arguments(parser)
    args = parser.parse_args(argv)
    launch = EngineLaunch.from_args(args, parser)
    fronts: list[Front] = []
    for kind in kinds:
        try:
            front = kind.from_args(args, launch)
        except ValueError as exc:
            parser.error(str(exc))
        if front is not None:
            fronts.append(front)
    return args, launch, fronts


async def _serve(server: EngineServer, fronts: Sequence[Front] = ()) -> None:
    started: list[Front] = []
    try:
        for front in fronts:  # listening first: a front can say the model is loading
            await front.start()
            started.append(front)
        await server.start()
        for front in fronts:
            front.ready(server.engine, server.welcome or server.engine.welcome, server.default_canvas)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.request_shutdown)
        await server.serve_until_shutdown()
    finally:
        for front in started:
            await front.stop()


def main(argv: list[str] | None = None, kinds: Sequence[FrontKind] = ()) -> int:
    """Run the engine until a Shutdown message, SIGTERM/SIGINT, or ``--idle-exit``; return the exit status.
    ``kinds``: the fronts it may also serve, by their flags (``infill engine --http``: infill_http.command)."""
    from engine.model.files import ModelDirError
    from engine.prompt.formats import FormatError

    args, launch, fronts = parse_args(argv, kinds)
    if args.check:
        from engine.model.check import run_check

        return run_check(launch)
    refusals: tuple[type[Exception], ...] = (EngineStartError, ModelDirError, FormatError)
    for kind in kinds:
        refusals += kind.start_errors
    if not launch.core_factory:  # the model's core, whose memory plan may refuse it (a core factory's
        # engine, as the tests start by the hundred, starts without importing torch)
        from engine.model.memory_plan import MemoryPlanError

        refusals += (MemoryPlanError,)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    socket_path = args.socket if args.socket is not None else default_socket_path()
    server = EngineServer(launch.load_core, socket_path, idle_exit=launch.idle_exit, launch=launch)
    try:
        asyncio.run(_serve(server, fronts))
    except AlreadyRunning as exc:
        from engine.host.already_running import already_running_hint

        log.error("%s", exc)
        given = list(sys.argv[1:] if argv is None else argv)
        hint = already_running_hint(given, socket_path, default_socket=default_socket_path(), http=bool(fronts))
        print(hint, file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    except refusals as exc:  # said, not crashed
        log.error("%s", exc)
        return EXIT_ERROR
    except Exception:
        log.exception("the engine failed")
        return EXIT_ERROR
    log.info("engine stopped")
    return EXIT_OK
