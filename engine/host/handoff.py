"""Messages from the engine loop thread to an asyncio event loop, with streamed partials coalesced.

The loop thread can step faster than an event loop frames and writes what it produces (a fake core, a
small model on a GPU, a client streaming huge pinned text): one callback per message would queue without
bound in front of the connection's outbox, which is what bounds a client that does not read. A partial is
a snapshot that the next one of its request supersedes, so at most one per request waits here; every other
message keeps its order, and a request's result follows its last partial.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from engine.protocol import Partial


class LoopHandoff:
    """A sink for the engine loop thread that calls ``send`` on the event loop ``aio``."""

    def __init__(self, aio: asyncio.AbstractEventLoop, send: Callable[[Any], None]) -> None:
        self._aio = aio
        self._send = send
        self._pending: dict[int, Partial] = {}  # the newest partial of a request, not yet handed over
        self._lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        """Hand ``message`` over (any thread)."""
        if isinstance(message, Partial):
            with self._lock:
                scheduled = message.request_id in self._pending
                self._pending[message.request_id] = message
            if scheduled:  # the callback on its way sends this newer one
                return
            callback, argument = self._send_partial, message.request_id
        else:
            callback, argument = self._send, message
        with contextlib.suppress(RuntimeError):  # the event loop is already closed
            self._aio.call_soon_threadsafe(callback, argument)

    @property
    def pending(self) -> int:
        """Partials waiting for the event loop."""
        return len(self._pending)

    def _send_partial(self, request_id: str) -> None:
        with self._lock:
            message = self._pending.pop(request_id, None)
        if message is not None:
            self._send(message)
