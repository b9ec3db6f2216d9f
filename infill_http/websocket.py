"""The engine protocol over a WebSocket (``/v1/engine``): remote editors and ``infill batch`` speak to a
shared engine as they do over its Unix socket, one msgpack body a binary message.

The connection itself is engine.host.connection's (the same as the Unix socket's); what differs is what a
remote client may do: its requests count against its key's in-flight budget, carry its key as their
client and document namespace whatever it claims, and it may neither stop the engine nor see the
operator's process details.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.host.connection import EngineConnection, Unreadable
from engine.protocol import (
    MAX_FRAME_BYTES,
    ErrorCode,
    ErrorReply,
    InfillRequest,
    ServerMessage,
    StatusReply,
)
from infill_http.budget import InFlightBudget, Ticket
from infill_http.settings import HttpSettings
from infill_http.wire import Backend, HttpError, check_context

log = logging.getLogger(__name__)


class RemoteConnection(EngineConnection):
    """The engine protocol for one WebSocket client of an HTTP front."""

    def __init__(self, backend: Backend, settings: HttpSettings, websocket: WebSocket, client: str,
                 budget: InFlightBudget) -> None:
        super().__init__(backend, lambda: backend.welcome, outbox_limit_bytes=2 * MAX_FRAME_BYTES)
        self.settings = settings
        self.websocket = websocket
        self.client = client
        self.budget = budget  # the client's, shared with its other connections and its HTTP requests
        self.in_flight: dict[str, Ticket] = {}
        self._closing: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"remote client {self.client}"

    async def receive(self) -> bytes | None:
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            raise Unreadable("send binary messages (msgpack), not text")
        if len(data) > MAX_FRAME_BYTES:
            raise Unreadable(f"message larger than {MAX_FRAME_BYTES} bytes")
        return data

    def encode(self, message: ServerMessage) -> bytes:
        return msgspec.msgpack.encode(message)

    async def write(self, bodies: list[bytes]) -> None:
        for body in bodies:
            await self.websocket.send_bytes(body)

    def abort(self) -> None:
        if self._closing is None:
            self._closing = self.aio.create_task(self._close_socket())

    async def _close_socket(self) -> None:
        try:
            await self.websocket.close()
        except Exception:  # already closed by the peer
            log.debug("closing %s", self.name, exc_info=True)

    def admit(self, request: InfillRequest) -> InfillRequest | ErrorReply:
        try:
            check_context(self.settings, request.prefix, request.suffix, request.context)
        except HttpError as exc:
            return ErrorReply(request.request_id, ErrorCode.BAD_REQUEST, exc.message)
        if request.request_id in self.in_flight:
            return ErrorReply(request.request_id, ErrorCode.BAD_REQUEST,
                              f"request id {request.request_id} is already in flight")
        ticket = self.budget.admit(self.client)
        if ticket is None:
            return ErrorReply(request.request_id, ErrorCode.OVERLOADED,
                              f"{self.budget.limit} requests of yours are in flight")
        self.in_flight[request.request_id] = ticket
        # Who asks is the key, not what the request says; its documents are the key's own.
        return msgspec.structs.replace(request, document_key=f"remote:{self.client}:{request.document_key}",
                                       client=self.client)

    def released(self, request_id: str) -> None:
        ticket = self.in_flight.pop(request_id, None)
        if ticket is not None:
            ticket.release()

    def _release_all(self) -> None:
        """Give back every place this connection holds (it is gone: its requests are cancelled)."""
        tickets, self.in_flight = list(self.in_flight.values()), {}
        for ticket in tickets:
            ticket.release()

    def status_reply(self, reply: StatusReply) -> StatusReply:
        # What the process knows is the operator's, not a client's.
        return msgspec.structs.replace(reply, pid=0, model_dir="")

    def shutdown(self) -> ErrorReply:
        return ErrorReply("", ErrorCode.BAD_REQUEST, "a remote client cannot stop a shared engine")
