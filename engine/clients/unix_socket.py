"""The EngineClient that talks to an engine process over its Unix socket (``engine.clients.connect`` starts one).

Many concurrent requests share one connection, each under the id it was born with. Every wait has a timeout,
and a lost connection fails every pending request at once with EngineUnavailable.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from engine.clients.interface import EngineError, EngineUnavailable, OnPartial, peer_credentials
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
    RequestIds,
    ServerMessage,
    Shutdown,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_server,
    encode,
    frame_length,
)

log = logging.getLogger(__name__)


class _ClosedUnderUs(ConnectionError):
    """The connection was closed (by the peer's reset) before the handshake could use it."""


class EngineNotListening(EngineUnavailable):
    """Nothing accepted a connection on the socket (no engine there, or a stale socket file)."""


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[InfillResult] | asyncio.Future[StatusReply]
    on_partial: Callable[[Partial], None] | None = None


class PendingRequests:
    """In-flight requests by their id; resolves their futures from the messages that answer them.

    Shared by the socket, the in-process and the remote client. A request travels under the id it was born
    with (``engine.protocol.RequestIds``): nothing here renumbers it. Status queries get ids of their own.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, _Pending] = {}
        self._status_ids = RequestIds("status")

    def __len__(self) -> int:
        return len(self._by_id)

    def open_infill(
        self, request_id: str, on_partial: Callable[[Partial], None] | None
    ) -> asyncio.Future[InfillResult]:
        if request_id in self._by_id:
            raise ValueError(f"request id {request_id} is already in flight")
        future: asyncio.Future[InfillResult] = asyncio.get_running_loop().create_future()
        self._by_id[request_id] = _Pending(future, on_partial)
        return future

    def open_status(self) -> tuple[str, asyncio.Future[StatusReply]]:
        request_id = self._status_ids()
        future: asyncio.Future[StatusReply] = asyncio.get_running_loop().create_future()
        self._by_id[request_id] = _Pending(future)
        return request_id, future

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._by_id

    def close(self, request_id: str) -> None:
        """Forget ``request_id``; a late answer to it is dropped."""
        self._by_id.pop(request_id, None)

    def resolve(self, message: ServerMessage) -> None:
        """Hand ``message`` to the request it answers."""
        pending = self._by_id.get(_request_id_of(message))
        if pending is None:
            if isinstance(message, ErrorReply):
                log.warning("engine error not tied to a request: %s", message.message)
            return
        match message:
            case Partial():
                if pending.on_partial is not None:
                    try:
                        pending.on_partial(message)
                    except Exception:
                        log.exception("an on_partial callback failed")
            case ErrorReply(code=code, message=text):
                _settle(pending.future, exception=EngineError(code, text))
            case InfillResult() | StatusReply():
                _settle(pending.future, result=message)

    def fail_all(self, exc: BaseException) -> None:
        for pending in self._by_id.values():
            _settle(pending.future, exception=exc)

    async def wait(
        self,
        request_id: str,
        future: asyncio.Future[InfillResult] | asyncio.Future[StatusReply],
        timeout: float,
        abandon: Callable[[str], None],
    ) -> InfillResult | StatusReply:
        """Await ``future`` for at most ``timeout`` seconds; on timeout or cancellation call ``abandon``."""
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            abandon(request_id)
            raise EngineUnavailable(f"the engine did not answer within {timeout:g}s") from None
        except asyncio.CancelledError:
            abandon(request_id)
            raise
        finally:
            self.close(request_id)

    async def infill_result(
        self, request_id: str, future: asyncio.Future[InfillResult], timeout: float, abandon: Callable[[str], None]
    ) -> InfillResult:
        """``wait`` for an infill request's result."""
        result = await self.wait(request_id, future, timeout, abandon)
        assert isinstance(result, InfillResult)
        return result

    async def send_infill(
        self, request: InfillRequest, on_partial: Callable[[Partial], None] | None,
        send: Callable[[InfillRequest], Awaitable[None]], timeout: float, abandon: Callable[[str], None],
    ) -> InfillResult:
        """Open ``request``, ``send`` it, and wait for its result."""
        future = self.open_infill(request.request_id, on_partial)
        try:
            await send(request)
        except BaseException:
            self.close(request.request_id)
            raise
        return await self.infill_result(request.request_id, future, timeout, abandon)

    async def send_status(self, send: Callable[[StatusRequest], Awaitable[None]], timeout: float) -> StatusReply:
        """``send`` a StatusRequest under a wire id of its own and wait for the reply."""
        request_id, future = self.open_status()
        try:
            await send(StatusRequest(request_id))
        except BaseException:
            self.close(request_id)
            raise
        reply = await self.wait(request_id, future, timeout, lambda _: None)
        assert isinstance(reply, StatusReply)
        return reply



def _request_id_of(message: ServerMessage) -> str:
    match message:
        case Partial(request_id=rid) | InfillResult(request_id=rid) | ErrorReply(request_id=rid):
            return rid
        case StatusReply(request_id=rid):
            return rid
        case _:
            return ""  # Welcome: no request has an empty id


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
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        self._require_alive()
        timeout = self.request_timeout if timeout is None else timeout
        return await self._pending.send_infill(request, on_partial, self._send, timeout, self._abandon)

    async def cancel(self, request_id: str) -> None:
        if request_id in self._pending and self.alive:
            self._abandon(request_id)

    async def status(self, timeout: float | None = None) -> StatusReply:
        self._require_alive()
        return await self._pending.send_status(self._send, self.request_timeout if timeout is None else timeout)

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

    def _abandon(self, request_id: str) -> None:
        """Tell the engine to drop ``request_id`` (best effort, never blocks)."""
        if self.alive:
            assert self._writer is not None
            self._writer.write(encode(Cancel(request_id)))

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
