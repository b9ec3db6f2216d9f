"""The one place engines are started and their clients opened: in this process, over a Unix socket to
an engine process that is started when none listens, or over a WebSocket to an engine on another machine.

``open_client(launch, ...)`` returns an unstarted EngineClient; its ``start()`` loads the core here, joins
the engine on the socket, starts ``python -m engine`` with the launch's flags and then joins it, or (with
``remote``) connects to the remote engine, starting nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from pathlib import Path

from engine.clients.interface import EngineClient, EngineUnavailable, OnPartial
from engine.clients.remote import RemoteEngine, RemoteEngineClient
from engine.clients.unix_socket import EngineNotListening, SocketEngineClient
from engine.host.launch import EngineLaunch
from engine.host.server import EXIT_ALREADY_RUNNING, default_socket_path, ensure_private_dir
from engine.protocol import InfillRequest, InfillResult, StatusReply, Welcome

log = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000
_LOG_ROTATE_BYTES = 4 * 1024 * 1024
_MAX_RESPAWNS = 10  # engines started in one spawn_or_connect after losing the socket to a dying one
_spawned: list[subprocess.Popen[bytes]] = []  # kept so exited engines are reaped, not left as zombies


def open_client(
    launch: EngineLaunch,
    *,
    socket: Path | None = None,
    inproc: bool = False,
    spawn: bool = True,
    start_timeout: float = 300.0,
    request_timeout: float = 30.0,
    client_name: str = "infill",
    remote: RemoteEngine | None = None,
) -> EngineClient:
    """An unstarted EngineClient for ``launch``.

    ``remote``: ``start()`` connects to the engine at ``remote.url`` (``launch`` is the remote operator's
    business and is not used; nothing is spawned). ``inproc``: ``start()`` builds the core in this process
    (``launch.load_core``) in a worker thread. Otherwise it joins the engine on ``socket`` (default: the
    per-user socket), first starting an engine process for ``launch`` when none listens, unless ``spawn``
    is False.
    """
    if remote is not None:
        if inproc or socket is not None:
            raise ValueError("a remote engine goes with neither an in-process engine nor a socket")
        return RemoteEngineClient(remote, client_name=client_name, start_timeout=start_timeout,
                                  request_timeout=request_timeout)
    if inproc:
        from engine.clients.inproc import InprocEngineClient

        return InprocEngineClient(launch.load_core, start_timeout=start_timeout, request_timeout=request_timeout)
    path = socket if socket is not None else default_socket_path()
    if not spawn:
        return SocketEngineClient(path, client_name=client_name, request_timeout=request_timeout)
    return SpawningClient(launch, path, start_timeout=start_timeout, client_name=client_name,
                          request_timeout=request_timeout)


class SpawningClient:
    """An EngineClient whose ``start`` joins the engine on a socket, starting one for its launch if none listens."""

    def __init__(self, launch: EngineLaunch, socket_path: Path, *, start_timeout: float = 300.0,
                 **client_options: object) -> None:
        self.launch = launch
        self.socket_path = socket_path
        self.start_timeout = start_timeout
        self.client_options = client_options
        self._client: SocketEngineClient | None = None

    async def start(self) -> Welcome:
        if self._client is not None:
            raise RuntimeError("this client was already started; make a new one to reconnect")
        self._client = await spawn_or_connect(self.socket_path, self.launch, self.start_timeout, **self.client_options)
        welcome = self._client.welcome
        if welcome is None:  # pragma: no cover - spawn_or_connect returns started clients
            raise EngineUnavailable("the engine did not send its handshake")
        return welcome

    @property
    def welcome(self) -> Welcome | None:
        return self._client.welcome if self._client is not None else None

    @property
    def engine_pid(self) -> int:
        return self._client.engine_pid if self._client is not None else 0

    def _started(self) -> SocketEngineClient:
        if self._client is None:
            raise EngineUnavailable("the engine client is not started")
        return self._client

    async def infill(
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        return await self._started().infill(request, on_partial, timeout)

    async def cancel(self, request_id: str) -> None:
        await self._started().cancel(request_id)

    async def status(self, timeout: float | None = None) -> StatusReply:
        return await self._started().status(timeout)

    async def shutdown_engine(self) -> None:
        await self._started().shutdown_engine()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    @property
    def alive(self) -> bool:
        return self._client is not None and self._client.alive


async def _connected(path: Path, client_options: dict[str, object]) -> SocketEngineClient | None:
    """A started client of the engine listening on ``path``; None when none listens there."""
    client = SocketEngineClient(path, **client_options)  # type: ignore[arg-type]
    try:
        await client.start()
    except EngineNotListening:
        return None
    return client


async def spawn_or_connect(
    socket_path: str | os.PathLike[str] | None = None,
    launch: EngineLaunch | None = None,
    start_timeout: float = 120.0,
    **client_options: object,
) -> SocketEngineClient:
    """Return a started client of the engine on ``socket_path``, first starting an engine process for
    ``launch`` when none listens (an engine already listening serves whatever it was launched with).

    The engine's output goes to ``engine.log`` beside the socket; if it exits or does not listen within
    ``start_timeout`` seconds, EngineUnavailable carries the tail of that log.
    """
    launch = launch if launch is not None else EngineLaunch()
    path = Path(socket_path) if socket_path is not None else default_socket_path()
    if (client := await _connected(path, client_options)) is not None:
        return client
    try:
        ensure_private_dir(path.parent)
    except (OSError, RuntimeError) as exc:
        raise EngineUnavailable(str(exc)) from None
    log_path = path.with_suffix(".log")
    process, log_offset = _spawn_engine(path, launch, log_path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    respawns = 0
    while True:
        if (client := await _connected(path, client_options)) is not None:
            return client
        returncode = process.poll()
        if (
            returncode == EXIT_ALREADY_RUNNING
            and respawns < _MAX_RESPAWNS
            and loop.time() < deadline
            and not _engine_lock_held(path)
        ):
            # Ours lost the socket to an engine that was still exiting (or to a concurrent start that
            # has since died): nobody holds the socket now, so start another.
            process, log_offset = _spawn_engine(path, launch, log_path)
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


async def stop_engine(client: SocketEngineClient | SpawningClient, socket_path: Path, timeout: float = 15.0) -> None:
    """Ask the engine behind ``client`` to exit (Shutdown; its requests in flight fail with SHUTTING_DOWN),
    close ``client``, and return once the engine has let go of ``socket_path``, so a fresh engine can take it.
    Raise EngineUnavailable when it still holds the socket after ``timeout`` seconds."""
    pid = getattr(client, "engine_pid", 0)
    try:
        await client.shutdown_engine()
    finally:
        await client.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _engine_lock_held(socket_path):
        if loop.time() > deadline:
            raise EngineUnavailable(f"the engine on {socket_path} did not exit within {timeout:g}s of Shutdown")
        await asyncio.sleep(0.05)
    # The lock goes before the process ends: wait for an engine this process started, so it is reaped
    # now instead of lingering as a zombie until the next spawn.
    for process in [p for p in _spawned if p.pid == pid]:
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, max(0.1, deadline - loop.time()))
    _spawned[:] = [p for p in _spawned if p.poll() is None]


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


def engine_command(launch: EngineLaunch, socket_path: Path) -> list[str]:
    """The command line of an engine process serving ``launch`` on ``socket_path``."""
    return [sys.executable, "-m", "engine", "--socket", str(socket_path.absolute()), *launch.to_argv()]


def engine_environment() -> dict[str, str]:
    """This environment, with this very package first on ``PYTHONPATH`` so ``-m engine`` finds it."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def start_engine_process(
    launch: EngineLaunch,
    socket_path: Path,
    *,
    log_level: str = "info",
    output: int | None = subprocess.DEVNULL,
    extra_args: tuple[str, ...] = (),
    module: str = "engine",
) -> subprocess.Popen[bytes]:
    """Start an engine process for ``launch`` on ``socket_path`` that the caller owns and stops (benchmarks);
    ``extra_args`` are more flags for ``python -m MODULE`` (``infill_http`` takes ``--http HOST:PORT``...)."""
    command = engine_command(launch, socket_path)
    command[2] = module  # [python, -m, engine, ...]
    return subprocess.Popen(
        [*command, "--log-level", log_level, *extra_args],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=engine_environment(),
    )


def _spawn_engine(path: Path, launch: EngineLaunch, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a detached engine process that outlives this one; its output goes to ``log_path``."""
    args = engine_command(launch, path)
    env = engine_environment()
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
