"""The EngineClient that talks to an engine on another machine: the engine protocol over a WebSocket.

``infill engine --http HOST:PORT`` serves the protocol at ``/v1/engine``, one msgpack body a binary message.
One connection multiplexes every request, as on the Unix socket (``PendingRequests``, by each request's own id).
The API key is read at ``start()`` from an environment variable or a file and goes only into the
handshake's ``Authorization`` header: no log line, error message or ``repr`` holds it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import msgspec

from engine.clients.interface import EngineError, EngineUnavailable, OnPartial
from engine.clients.unix_socket import PendingRequests
from engine.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Cancel,
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Hello,
    InfillRequest,
    InfillResult,
    ProtocolError,
    StatusReply,
    Welcome,
    decode_server,
)

log = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "INFILL_API_KEY"
ENGINE_PATH = "/v1/engine"
CLOSE_POLICY_VIOLATION = 1008  # the engine refused the API key
CLOSE_TRY_AGAIN_LATER = 1013  # the engine is loading its model
MAX_LOADING_DELAY_S = 5.0
_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EngineRefused(EngineUnavailable):
    """The remote engine refused this client's API key (or wanted one and got none)."""


class _Loading(Exception):
    """The remote engine is up but still loading its model: try again shortly."""


def websocket_url(url: str) -> str:
    """The ``ws://``/``wss://`` address of the engine protocol at ``url``; raise ValueError for a bad one.

    ``http://host:port`` and ``https://host:port`` (any path: a reverse proxy's prefix) get ``/v1/engine``
    appended; a ``ws://``/``wss://`` URL is used as given, ``/v1/engine`` added only when it has no path.
    A URL holding credentials or a query is refused: keys travel in a header, never in an address.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"url is not a valid URL: {exc}") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"url must start with http://, https://, ws:// or wss://, got {parts.scheme or 'none'}")
    if parts.username is not None or parts.password is not None or parts.query:
        raise ValueError("url must not hold credentials or a query: give the API key with "
                         "apiKeyEnv or apiKeyFile")
    if not parts.hostname:
        raise ValueError("url names no host")
    path = parts.path.rstrip("/")
    if (parts.scheme.lower() in ("http", "https") or not path) and not path.endswith(ENGINE_PATH):
        path += ENGINE_PATH
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((scheme, netloc, path, "", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteEngine:
    """Where a remote engine is and where its API key comes from (the key is read when connecting)."""

    url: str
    api_key_env: str = DEFAULT_API_KEY_ENV
    api_key_file: Path | None = None  # wins over the environment variable
    ca_file: Path | None = None  # certificates (PEM) trusted beside the system's, for self-signed engines

    def __post_init__(self) -> None:
        websocket_url(self.url)
        if not ENV_NAME_PATTERN.match(self.api_key_env):
            raise ValueError(f"api_key_env must name an environment variable, got {self.api_key_env!r}")
        for name in ("api_key_file", "ca_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                raise ValueError(f"{name} must be a Path or None, got {value!r}")

    @property
    def address(self) -> str:
        """The WebSocket address connected to (never holds a key)."""
        return websocket_url(self.url)

    @property
    def key_source(self) -> str:
        return str(self.api_key_file) if self.api_key_file is not None else f"${self.api_key_env}"

    def read_api_key(self) -> str | None:
        """The API key: the first line of ``api_key_file`` that is not blank or a ``#`` comment, else the
        environment variable; None when neither holds one. Raise EngineUnavailable for an unreadable file."""
        if self.api_key_file is None:
            return os.environ.get(self.api_key_env, "").strip() or None
        path = self.api_key_file.expanduser()
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise EngineUnavailable(f"cannot read the API key file {path}: {reason}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("the API key file %s is readable by others: chmod 600 it", path)
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                return line.strip()
        raise EngineUnavailable(f"the API key file {path} holds no key")

    # ---- command lines --------------------------------------------------------------------------

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser | Any) -> None:
        """Add ``--engine-url --engine-api-key-file --engine-ca-file`` to ``parser`` (or a group)."""
        parser.add_argument("--engine-url", default=None, metavar="URL",
                            help="use the engine at URL (`infill engine --http` on another machine) instead of "
                                 f"one here; its API key comes from ${DEFAULT_API_KEY_ENV} or --engine-api-key-file")
        parser.add_argument("--engine-api-key-file", type=Path, default=None, metavar="FILE",
                            help="a file holding the remote engine's API key (instead of the environment)")
        parser.add_argument("--engine-ca-file", type=Path, default=None, metavar="FILE",
                            help="CA certificates (PEM) to trust beside the system's, for a self-signed engine")

    @classmethod
    def from_args(cls, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> RemoteEngine | None:
        """The remote engine the flags name, or None without ``--engine-url``; with ``parser``, bad flags
        are reported through ``parser.error`` (exit status 2) instead of raising ValueError."""
        try:
            if args.engine_url is None:
                for flag in ("engine_api_key_file", "engine_ca_file"):
                    if getattr(args, flag, None) is not None:
                        raise ValueError(f"--{flag.replace('_', '-')} needs --engine-url URL")
                return None
            return cls(url=args.engine_url, api_key_file=args.engine_api_key_file, ca_file=args.engine_ca_file)
        except ValueError as exc:
            if parser is None:
                raise
            parser.error(f"--engine-{exc}" if str(exc).startswith("url") else str(exc))


class _Redacting(logging.LoggerAdapter):
    """The websockets library's logger with the key cut out: at debug level it logs handshake headers."""

    def __init__(self, logger: logging.Logger, secret: str | None) -> None:
        super().__init__(logger, {})
        self.secret = secret

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        if re.match(r"> authorization:", text, re.IGNORECASE):
            text = "> Authorization: (redacted)"
        if self.secret:
            text = text.replace(self.secret, "(redacted)")
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, "%s", text, **kwargs)


class RemoteEngineClient:
    """EngineClient over the engine protocol on a WebSocket; one connection multiplexes every request.

    ``start`` retries, with backoff, while the engine says it is loading its model (close code 1013),
    until ``start_timeout``. At most ``max_in_flight`` requests are sent at once (the engine's own cap per
    client, 16 by default); a request the engine answers with OVERLOADED is sent again while its timeout
    allows.
    """

    def __init__(
        self,
        remote: RemoteEngine,
        *,
        client_name: str = "infill",
        start_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        handshake_timeout: float = 10.0,
        request_timeout: float = 30.0,
        max_in_flight: int = 16,
    ) -> None:
        self.remote = remote
        self.url = remote.address
        self.client_name = client_name
        self.start_timeout = start_timeout
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.request_timeout = request_timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending = PendingRequests()
        self._ws: Any = None  # websockets.asyncio.client.ClientConnection once started
        self._reader_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._welcome: Welcome | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RemoteEngineClient({self.url!r})"

    @property
    def welcome(self) -> Welcome | None:
        return self._welcome

    @property
    def engine_pid(self) -> int:
        return 0  # another machine's process: not ours to signal

    @property
    def alive(self) -> bool:
        return (
            not self._closed
            and self._ws is not None
            and self._reader_task is not None
            and not self._reader_task.done()
        )

    async def start(self) -> Welcome:
        if self._ws is not None or self._closed:
            raise RuntimeError("this client was already started; make a new one to reconnect")
        key = self.remote.read_api_key()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        delay = 0.25
        while True:
            try:
                ws, welcome = await self._connect(key, deadline)
                break
            except _Loading:
                if loop.time() + delay > deadline:
                    raise EngineUnavailable(
                        f"the engine at {self.url} was still loading its model after {self.start_timeout:g}s"
                    ) from None
                log.info("the engine at %s is loading its model; trying again in %.2gs", self.url, delay)
                await asyncio.sleep(delay)
                delay = min(MAX_LOADING_DELAY_S, delay * 2)
        self._ws, self._welcome = ws, welcome
        self._reader_task = asyncio.create_task(self._read_loop(ws), name="remote-engine-reader")
        log.info("connected to the engine at %s: %s on %s", self.url, welcome.model_name, welcome.device)
        return welcome

    async def infill(
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        self._require_alive()
        loop = asyncio.get_running_loop()
        timeout = self.request_timeout if timeout is None else timeout
        deadline = loop.time() + timeout
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except TimeoutError:
            raise EngineUnavailable(f"no request slot to the engine at {self.url} within {timeout:g}s") from None
        try:
            delay = 0.02
            while True:
                try:
                    return await self._infill_once(request, on_partial, max(0.001, deadline - loop.time()))
                except EngineError as exc:
                    if exc.code != ErrorCode.OVERLOADED or loop.time() + delay >= deadline:
                        raise
                await asyncio.sleep(delay)
                delay = min(0.5, delay * 2)
        finally:
            self._slots.release()

    async def _infill_once(self, request: InfillRequest, on_partial: OnPartial, timeout: float) -> InfillResult:
        return await self._pending.send_infill(request, on_partial, self._send, timeout, self._abandon)

    async def cancel(self, request_id: str) -> None:
        if request_id in self._pending and self.alive:
            with contextlib.suppress(EngineUnavailable):
                await self._send(Cancel(request_id))

    async def status(self, timeout: float | None = None) -> StatusReply:
        """The engine's counters (its pid and model directory are the operator's, so they come blank)."""
        self._require_alive()
        return await self._pending.send_status(self._send, self.request_timeout if timeout is None else timeout)

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), self.connect_timeout)
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            await asyncio.wait({self._reader_task}, timeout=self.connect_timeout)
        for task in list(self._background):
            task.cancel()
        self._pending.fail_all(EngineUnavailable("the engine client was closed"))

    # ---- internals ----------------------------------------------------------------------------

    async def _connect(self, key: str | None, deadline: float) -> tuple[Any, Welcome]:
        """Open the WebSocket and shake hands; raise _Loading, EngineRefused or EngineUnavailable."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

        remaining = max(0.1, deadline - asyncio.get_running_loop().time())
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                ssl=self._ssl_context() if self.url.startswith("wss:") else None,
                open_timeout=min(self.connect_timeout, remaining),
                max_size=MAX_FRAME_BYTES,
                close_timeout=2.0,
                user_agent_header=f"infill ({self.client_name})",
                logger=_Redacting(logging.getLogger("websockets.client"), key),
            )
        except InvalidStatus as exc:
            self._raise_for_status(exc.response.status_code, key)
        except ssl.SSLCertVerificationError as exc:
            raise EngineUnavailable(
                f"the engine at {self.url} has a TLS certificate this machine does not trust "
                f"({exc.verify_message}); give its CA certificate with engine.caFile (--engine-ca-file)"
            ) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise EngineUnavailable(f"cannot reach the engine at {self.url}: {_reason(exc)}") from None
        try:
            await ws.send(_body(Hello(PROTOCOL_VERSION, self.client_name)))
            data = await asyncio.wait_for(ws.recv(), self.handshake_timeout)
            reply = decode_server(data) if isinstance(data, bytes) else None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == CLOSE_TRY_AGAIN_LATER:
                raise _Loading() from None
            if code == CLOSE_POLICY_VIOLATION:
                self._raise_refused(key)
            reason = f"code {code}: {exc.rcvd.reason}" if exc.rcvd is not None else "no close code"
            raise EngineUnavailable(
                f"the engine at {self.url} closed the connection during the handshake ({reason})"
            ) from None
        except (OSError, TimeoutError, ProtocolError) as exc:
            await _close_quietly(ws)
            raise EngineUnavailable(f"handshake with the engine at {self.url} failed: {_reason(exc)}") from None
        except BaseException:
            await _close_quietly(ws)
            raise
        match reply:
            case Welcome():
                return ws, reply
            case ErrorReply(message=message):
                await _close_quietly(ws)
                raise EngineUnavailable(f"the engine at {self.url} refused the connection: {message}")
            case _:
                await _close_quietly(ws)
                raise EngineUnavailable(f"the engine at {self.url} did not answer the handshake with Welcome")

    def _raise_for_status(self, status: int, key: str | None) -> NoReturn:
        if status == 401:
            self._raise_refused(key)
        if status == 503:
            raise _Loading()
        hint = ": is it an infill engine (infill engine --http)?" if status == 404 else ""
        raise EngineUnavailable(f"the engine at {self.url} refused the connection with HTTP {status}{hint}")

    def _raise_refused(self, key: str | None) -> NoReturn:
        if key is None:
            raise EngineRefused(
                f"the engine at {self.url} needs an API key: set ${self.remote.api_key_env} or give a key file "
                "(engine.apiKeyFile, --engine-api-key-file)"
            )
        raise EngineRefused(f"the engine at {self.url} refused the API key (from {self.remote.key_source})")

    def _ssl_context(self) -> ssl.SSLContext:
        """The system's trusted certificates, and ``ca_file``'s beside them."""
        context = ssl.create_default_context()
        if self.remote.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.remote.ca_file.expanduser()))
            except (OSError, ssl.SSLError) as exc:
                raise EngineUnavailable(f"cannot load the CA file {self.remote.ca_file}: {_reason(exc)}") from None
        return context

    def _require_alive(self) -> None:
        if not self.alive:
            raise EngineUnavailable(f"the connection to the engine at {self.url} is not open")

    async def _send(self, message: ClientMessage) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await asyncio.wait_for(self._ws.send(_body(message)), self.request_timeout)
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            raise EngineUnavailable(f"could not send to the engine at {self.url}: {_reason(exc)}") from None

    def _abandon(self, request_id: str) -> None:
        """Tell the engine to drop ``request_id`` (best effort, never blocks)."""
        if self.alive:
            task = asyncio.ensure_future(self._send(Cancel(request_id)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieve, never raise

    async def _read_loop(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = f"the engine at {self.url} closed the connection"
        try:
            async for data in ws:
                if not isinstance(data, bytes):
                    log.warning("skipping a text message from the engine at %s", self.url)
                    continue
                try:
                    message = decode_server(data)
                except ProtocolError as exc:  # one message is one body: the stream is still in step
                    log.warning("skipping an undecodable engine message: %s", exc)
                    continue
                self._pending.resolve(message)
        except ConnectionClosed as exc:
            reason = f"the connection to the engine at {self.url} was lost: {_reason(exc)}"
        except asyncio.CancelledError:
            reason = "the engine client was closed"
        finally:
            self._pending.fail_all(EngineUnavailable(reason))


def _body(message: ClientMessage) -> bytes:
    """One message as a WebSocket body: the msgpack of engine.protocol, without the socket's length header."""
    body = msgspec.msgpack.encode(message)
    if len(body) > MAX_FRAME_BYTES:
        limit = f"a message of {len(body)} bytes exceeds the {MAX_FRAME_BYTES}-byte limit"
        raise EngineError(ErrorCode.BAD_REQUEST, limit)
    return body


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _close_quietly(ws: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 2.0)
