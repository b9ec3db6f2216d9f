"""The engine protocol over a WebSocket (``/v1/engine``): remote editors and ``infill batch`` speak to a
shared engine as they do over its Unix socket, one msgpack body a binary message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.host.handoff import LoopHandoff
from engine.protocol import (
    MAX_FRAME_BYTES,
    Cancel,
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
    decode_client,
    hello_refusal,
)
from infill_http.budget import InFlightBudget, Ticket
from infill_http.settings import HttpSettings
from infill_http.wire import Backend, HttpError, check_context

log = logging.getLogger(__name__)


class RemoteConnection:
    """The engine protocol for one WebSocket client, with the same outbox bound as a socket client."""

    def __init__(self, backend: Backend, settings: HttpSettings, websocket: WebSocket, client: str,
                 budget: InFlightBudget) -> None:
        self.settings = settings
        self.websocket = websocket
        self.client = client
        self.backend = backend
        self.aio = asyncio.get_running_loop()
        self.handoff = LoopHandoff(self.aio, self._from_engine)  # partials coalesced before the event loop
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.outbox_bytes = 0
        self.budget = budget  # the client's, shared with its other connections and its HTTP requests
        self.in_flight: dict[int, Ticket] = {}

    async def serve(self) -> None:
        writer = asyncio.create_task(self._write_loop())
        try:
            if not await self._handshake():
                return
            while True:
                body = await self._receive()
                if body is None:
                    return
                if not body:  # refused already, with its own reply
                    continue
                try:
                    message = decode_client(body)
                except ProtocolError as exc:
                    self.send(ErrorReply("", ErrorCode.PROTOCOL, str(exc)))
                    continue
                self._dispatch(message)
        except WebSocketDisconnect:
            pass
        finally:
            self.backend.cancel_owner(self)
            self._release_all()
            self.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1.0)
            writer.cancel()
            with contextlib.suppress(Exception):
                await self.websocket.close()

    async def _receive(self) -> bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, "send binary messages (msgpack), not text"))
            return b""
        if len(data) > MAX_FRAME_BYTES:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, f"message larger than {MAX_FRAME_BYTES} bytes"))
            return b""
        return data

    async def _handshake(self) -> bool:
        try:
            body = await asyncio.wait_for(self._receive(), 10.0)
        except TimeoutError:
            return False
        if not body:
            return False
        refusal = hello_refusal(body)
        if refusal:
            self.send(ErrorReply("", ErrorCode.PROTOCOL, refusal))
            return False
        self.send(self.backend.welcome)
        return True

    def _dispatch(self, message: Any) -> None:
        match message:
            case InfillRequest():
                try:
                    check_context(self.settings, message.prefix, message.suffix, message.context)
                except HttpError as exc:
                    self.send(ErrorReply(message.request_id, ErrorCode.BAD_REQUEST, exc.message))
                    return
                if message.request_id in self.in_flight:
                    self.send(ErrorReply(message.request_id, ErrorCode.BAD_REQUEST,
                                         f"request id {message.request_id} is already in flight"))
                    return
                ticket = self.budget.admit(self.client)
                if ticket is None:
                    self.send(ErrorReply(message.request_id, ErrorCode.OVERLOADED,
                                         f"{self.budget.limit} requests of yours are in flight"))
                    return
                self.in_flight[message.request_id] = ticket
                keyed = msgspec.structs.replace(message, document_key=f"remote:{self.client}:{message.document_key}",
                                                client=self.client)  # who asks is the key, not what it says
                self.backend.submit(self, keyed, self._sink)
            case Cancel(request_id=request_id):
                self.backend.cancel(self, request_id)
            case StatusRequest(request_id=request_id):
                future = self.backend.status(request_id)
                future.add_done_callback(lambda f: self._status_done(request_id, f))
            case Shutdown():
                self.send(ErrorReply("", ErrorCode.BAD_REQUEST, "a remote client cannot stop a shared engine"))
            case Hello():
                self.send(ErrorReply("", ErrorCode.PROTOCOL, "Hello is only valid as the first message"))

    def _status_done(self, request_id: str, future: Any) -> None:
        try:
            reply: ServerMessage = future.result()
            if isinstance(reply, StatusReply):  # what the process knows is the operator's, not a client's
                reply = msgspec.structs.replace(reply, pid=0, model_dir="")
        except Exception as exc:
            reply = ErrorReply(request_id, ErrorCode.INTERNAL, f"status failed: {exc!r}")
        with contextlib.suppress(RuntimeError):
            self.aio.call_soon_threadsafe(self.send, reply)

    def _sink(self, message: Any) -> None:  # loop thread
        self.handoff(message)

    def _from_engine(self, message: ServerMessage) -> None:  # event loop: the engine's answers
        if isinstance(message, InfillResult | ErrorReply):
            ticket = self.in_flight.pop(message.request_id, None)
            if ticket is not None:
                ticket.release()
        self.send(message)

    def _release_all(self) -> None:
        """Give back every place this connection holds (it is gone: its requests are cancelled)."""
        tickets, self.in_flight = list(self.in_flight.values()), {}
        for ticket in tickets:
            ticket.release()

    def send(self, message: ServerMessage) -> None:
        try:
            body = msgspec.msgpack.encode(message)
        except Exception as exc:  # pragma: no cover - every server message encodes
            log.exception("encoding a reply failed: %r", exc)
            return
        if self.outbox_bytes + len(body) > 2 * MAX_FRAME_BYTES:
            log.warning("remote client %s does not read its replies: dropping it", self.client)
            self.backend.cancel_owner(self)
            self._release_all()
            self.outbox.put_nowait(None)
            return
        self.outbox_bytes += len(body)
        self.outbox.put_nowait(body)

    async def _write_loop(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                body = await self.outbox.get()
                if body is None:
                    await self.websocket.close()
                    return
                self.outbox_bytes -= len(body)
                await self.websocket.send_bytes(body)
