"""What the HTTP API refuses before any endpoint runs: connection floods, slow or oversized headers, and
requests from web pages (foreign ``Origin``, a ``Host`` that is not this machine's, CORS preflights).

Connections: every connection is counted by the peer's address. A connection that has not begun a
request (it is still sending headers, or idles between keep-alive requests) is *idle*; it must finish a
request's headers within ``header_timeout_s`` or it is closed. When a new connection would pass the cap
for its address or for the whole server, the oldest idle connection makes room for it, so a flood of
connections that never send a request cannot shut out ``/health`` or a real client; only when every
connection is busy is the newcomer turned away.

Web pages: a browser sends ``Origin`` with every cross-site request and WebSocket handshake. An engine
answers no origin unless ``--allow-origin`` names it (then with CORS headers); a keyless engine also
answers only requests whose ``Host`` is a loopback name, which defeats DNS rebinding.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from infill_http.settings import is_loopback
from infill_http.wire import error_response

log = logging.getLogger(__name__)


# ---- connections --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    max_connections: int = 512  # in all
    max_per_address: int = 128  # from one peer address
    header_timeout_s: float = 10.0  # from connect, or the end of the last answer, to a request's headers
    max_header_bytes: int = 64 * 1024  # request line and headers


class ConnectionGuard:
    """The open connections by address, oldest first; makes room by closing idle ones."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: OrderedDict[Any, tuple[str, Callable[[], bool]]] = OrderedDict()  # transport -> (address, idle)
        self._per_address: dict[str, int] = {}
        self.evicted = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, transport: Any, address: str, idle: Callable[[], bool]) -> bool:
        """Count a new connection, closing an idle one if a cap is reached; False: turn it away."""
        if self._per_address.get(address, 0) >= self.limits.max_per_address and not self._evict(address):
            self.refused += 1
            return False
        if len(self._open) >= self.limits.max_connections and not self._evict(None):
            self.refused += 1
            return False
        self._open[transport] = (address, idle)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return True

    def release(self, transport: Any) -> None:
        entry = self._open.pop(transport, None)
        if entry is None:
            return
        left = self._per_address[entry[0]] - 1
        if left:
            self._per_address[entry[0]] = left
        else:
            del self._per_address[entry[0]]

    def _evict(self, address: str | None) -> bool:
        for transport, (owner, idle) in self._open.items():  # oldest first
            if (address is None or owner == address) and idle():
                self.release(transport)
                transport.close()
                self.evicted += 1
                return True
        return False


def _peer(transport: Any) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


def guarded_protocols(guard: ConnectionGuard) -> tuple[type[H11Protocol], type[WebSocketsSansIOProtocol]]:
    """uvicorn's HTTP and WebSocket protocol classes, counted by ``guard`` and held to its deadlines."""
    limits = guard.limits

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            guard.release(self.transport)
            super().connection_lost(exc)

    class GuardedH11(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _upgraded = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not guard.admit(transport, _peer(transport), self._idle):
                self.connections.discard(self)
                transport.abort()
                return
            self._arm()

        def _idle(self) -> bool:
            return not self._upgraded and (self.cycle is None or self.cycle.response_complete)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(limits.header_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self._idle() and not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:
            super().handle_events()
            if not self._idle():
                self._disarm()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self._upgraded = True
            self._disarm()
            super().handle_websocket_upgrade(event)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if not self._upgraded:  # an upgraded connection is released by its WebSocket protocol
                guard.release(self.transport)
            super().connection_lost(exc)

    return GuardedH11, GuardedWebSocket


# ---- web pages ----------------------------------------------------------------------------------


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8012`` -> ``::1``)."""
    host = host_header.strip()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class OriginGuard:
    """ASGI middleware: refuses requests from web pages the operator has not allowed, before any endpoint.

    ``allowed``: exact origins (``https://tool.example``) that may call the API, answered with CORS headers.
    ``check_host``: only loopback names in ``Host`` (for an engine without keys)."""

    def __init__(self, app: Any, *, allowed: tuple[str, ...], check_host: bool,
                 max_header_bytes: int) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed}
        self.check_host = check_host
        self.max_header_bytes = max_header_bytes
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
            size += len(name) + len(value) + 4
        if size > self.max_header_bytes:
            await self._refuse(scope, send, 431, f"request headers over {self.max_header_bytes} bytes")
            return
        origin = headers.get(b"origin", b"").decode("latin-1").strip().rstrip("/").lower()
        if origin and origin not in self.allowed:
            await self._refuse(scope, send, 403, f"requests from web pages ({origin}) are refused; "
                                                 "the operator can allow one with --allow-origin")
            return
        if self.check_host:
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host and not is_loopback(host):
                await self._refuse(scope, send, 403, f"Host {host!r} is not this machine: an engine without "
                                                     "API keys answers only localhost names")
                return
        if origin and scope["type"] == "http":
            await self._cors(scope, receive, send, origin)
            return
        await self.app(scope, receive, send)

    async def _cors(self, scope: Any, receive: Any, send: Any, origin: str) -> None:
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":  # a preflight from an allowed origin
            await send({"type": "http.response.start", "status": 204, "headers": cors + [
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"Authorization, Content-Type"),
                (b"access-control-max-age", b"600"),
            ]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + cors}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _refuse(self, scope: Any, send: Any, status: int, reason: str) -> None:
        self.refused += 1
        log.warning("refused %s %s: %s", scope["type"], scope.get("path", ""), reason)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            return
        response = error_response(status, reason, "forbidden" if status == 403 else "invalid_request_error")
        await response(scope, None, send)
