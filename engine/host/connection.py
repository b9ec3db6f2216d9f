"""One client connection of the engine protocol, whatever carries it: the Unix socket or a WebSocket.

An ``EngineConnection`` does what every connection does: the Hello/Welcome handshake, decoding and
dispatching client messages to the engine loop, statuses, and a bounded outbox written by one task (a
client that stops reading is dropped when its outbox passes the limit, so it blocks nobody). A subclass
says how bodies travel (``receive``, ``write``, ``abort``) and what its kind of client may do (``admit``,
``released``, ``status_reply``, ``shutdown``).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from engine.host.handoff import LoopHandoff
from engine.protocol import (
    Cancel,
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Hello,
    InfillRequest,
    InfillResult,
    ProtocolError,
    ServerMessage,
    Shutdown,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_client,
    hello_refusal,
)

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 1.0


class Engine(Protocol):
    """What a connection needs of the engine: engine.host.loop.EngineLoop's submit side (or a stand-in)."""

    def submit(self, owner: Hashable, request: InfillRequest, sink: Callable[[Any], None]) -> None: ...

    def cancel(self, owner: Hashable, request_id: str) -> None: ...

    def cancel_owner(self, owner: Hashable) -> None: ...

    def status(self, request_id: str = "") -> concurrent.futures.Future[StatusReply]: ...


class Unreadable(Exception):
    """What came in is not a message: answered with ``reason``; ``fatal`` when the stream is out of step."""

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


class EngineConnection:
    """One client of the engine protocol: handshake, dispatch, statuses, and a bounded outbox."""

    name = "client"  # how logs name this connection's peer

    def __init__(self, engine: Engine, welcome: Callable[[], Welcome], *, outbox_limit_bytes: int,
                 handshake_timeout: float = 10.0) -> None:
        self.engine = engine
        self._welcome = welcome
        self.outbox_limit_bytes = outbox_limit_bytes
        self.handshake_timeout = handshake_timeout
        self.aio = asyncio.get_running_loop()
        self.handoff = LoopHandoff(self.aio, self._from_engine)  # partials coalesced before the event loop
        self._outbox: collections.deque[bytes] = collections.deque()
        self._outbox_bytes = 0
        self._outbox_ready = asyncio.Event()
        self._writer_task: asyncio.Task[None] | None = None
        self._writing = False
        self.closed = False
        self.dropped = False  # closed because it did not read its replies

    # ---- what a kind of connection says --------------------------------------------------------

    async def receive(self) -> bytes | None:
        """The next message body; None when the peer is gone. Raise Unreadable for what is not one."""
        raise NotImplementedError("a connection says how its bodies arrive")

    def encode(self, message: ServerMessage) -> bytes:
        """``message`` as this connection sends it."""
        raise NotImplementedError("a connection says how its bodies are written")

    async def write(self, bodies: list[bytes]) -> None:
        """Send ``bodies`` in order and wait until the peer has taken them (a peer that does not read
        blocks here)."""
        raise NotImplementedError("a connection says how its bodies are written")

    def abort(self) -> None:
        """Close the underlying connection at once."""
        raise NotImplementedError("a connection says how it is closed")

    def admit(self, request: InfillRequest) -> InfillRequest | ErrorReply:
        """The request as the engine gets it (its client named), or the refusal it gets instead."""
        return request

    def released(self, request_id: str) -> None:
        """``request_id`` has its final answer, or its connection is gone."""

    def status_reply(self, reply: StatusReply) -> StatusReply:
        """What this kind of client may see of the engine's status."""
        return reply

    def shutdown(self) -> ErrorReply | None:
        """The client asked the engine to stop: stop it (None) or refuse."""
        return ErrorReply("", ErrorCode.BAD_REQUEST, "this client cannot stop the engine")

    # ---- serving ---------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Handshake, then dispatch messages until the peer leaves; its requests are cancelled then."""
        self._writer_task = asyncio.create_task(self._write_loop(), name=f"engine-{self.name}-writer")
        try:
            if await self._handshake():
                while not self.closed:
                    message = await self._next_message()
                    if message is None:
                        break
                    if not isinstance(message, ErrorReply):
                        self._dispatch(message)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            self.engine.cancel_owner(self)
            self._release_all()
            await self.close(flush=True)

    async def _next_message(self) -> ClientMessage | ErrorReply | None:
        """The next decoded message; an ErrorReply (already sent) for one that was not; None at the end."""
        try:
            body = await self.receive()
        except Unreadable as exc:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, exc.reason))
            return None if exc.fatal else ErrorReply("", ErrorCode.PROTOCOL, exc.reason)
        if body is None:
            return None
        try:
            return decode_client(body)
        except ProtocolError as exc:  # well framed: answer and keep serving
            reply = ErrorReply("", ErrorCode.PROTOCOL, str(exc))
            self.send(reply)
            return reply

    async def _handshake(self) -> bool:
        try:
            body = await asyncio.wait_for(self.receive(), self.handshake_timeout)
        except Unreadable as exc:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, exc.reason))
            return False
        if body is None:
            return False
        refusal = hello_refusal(body)
        if refusal:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, refusal))
            return False
        self.send(self._welcome())
        return True

    def _dispatch(self, message: ClientMessage) -> None:
        match message:
            case InfillRequest():
                admitted = self.admit(message)
                if isinstance(admitted, ErrorReply):
                    self.send(admitted)
                else:
                    self.engine.submit(self, admitted, self.handoff)
            case Cancel(request_id=request_id):
                self.engine.cancel(self, request_id)
            case StatusRequest(request_id=request_id):
                future = self.engine.status(request_id)
                future.add_done_callback(lambda done: self._status_done(request_id, done))
            case Shutdown():
                refusal = self.shutdown()
                if refusal is not None:
                    self.send(refusal)
            case Hello():
                self.send(ErrorReply("", ErrorCode.PROTOCOL, "Hello is only valid as the first message"))

    def _status_done(self, request_id: str, future: concurrent.futures.Future[StatusReply]) -> None:
        """Runs on whichever thread finished ``future``."""
        try:
            reply: ServerMessage = self.status_reply(future.result())
        except Exception as exc:
            reply = ErrorReply(request_id, ErrorCode.INTERNAL, f"status failed: {exc!r}")
        with contextlib.suppress(RuntimeError):  # the event loop is already closed
            self.aio.call_soon_threadsafe(self.send, reply)

    def _from_engine(self, message: ServerMessage) -> None:
        """The engine's answers, on the event loop."""
        if isinstance(message, InfillResult | ErrorReply) and message.request_id:
            self.released(message.request_id)
        self.send(message)

    def _release_all(self) -> None:
        """Hook for the requests this connection still holds when it goes (``released`` is per request)."""

    # ---- the outbox ------------------------------------------------------------------------------

    def send(self, message: ServerMessage) -> None:
        """Queue ``message`` for the client (event loop); drop a client whose outbox is full."""
        if self.closed:
            return
        body = self.encode(message)
        if self._outbox_bytes + len(body) > self.outbox_limit_bytes:
            log.warning("%s does not read its replies: dropping the connection", self.name)
            self.dropped = True
            self.engine.cancel_owner(self)
            self._release_all()
            self._abort()
            return
        self._outbox.append(body)
        self._outbox_bytes += len(body)
        self._outbox_ready.set()

    async def close(self, *, flush: bool) -> None:
        if flush and not self.closed and self._writer_task is not None and not self._writer_task.done():
            self._outbox_ready.set()
            with contextlib.suppress(TimeoutError, OSError, ConnectionError):  # the client is gone
                await asyncio.wait_for(self._drained(), FLUSH_TIMEOUT_S)
        self._abort()

    def _abort(self) -> None:
        self.closed = True
        self._outbox.clear()
        self._outbox_bytes = 0
        if self._writer_task is not None:
            self._writer_task.cancel()
        self.abort()

    async def _drained(self) -> None:
        while self._outbox or self._outbox_ready.is_set() or self._writing:
            await asyncio.sleep(0.01)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._outbox_ready.wait()
                bodies = list(self._outbox)
                self._outbox.clear()
                self._outbox_bytes = 0
                self._outbox_ready.clear()
                if bodies:
                    self._writing = True
                    await self.write(bodies)
                    self._writing = False
        except (ConnectionError, OSError):
            self._abort()
        except Exception:  # a transport's own error (a closed WebSocket...): the connection is over
            log.debug("writing to %s failed", self.name, exc_info=True)
            self._abort()
