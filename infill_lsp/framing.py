"""LSP base-protocol framing that a bad frame cannot knock over: headers, bodies, limits, resynchronisation.

``FrameParser`` (pure: bytes in, frames out) finds each ``Content-Length`` header wherever it starts, so
garbage between messages is skipped; a body whose declared length is too short leaves a remainder that is
skipped the same way; one whose length is too long is cut where the next header starts, or, when no more
bytes come, taken as the complete JSON value it holds (``stalled``); a body over the size limit is
discarded without being held in memory and reported with the request id it carries, if any.
``serve_stream`` reads a byte stream into the parser and hands each body to the protocol, answering what
does not parse with a JSON-RPC error, so every request gets an answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024
STALL_SECONDS = 0.25  # no bytes for this long with a partial body pending: see whether it is complete
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_HEADER = re.compile(rb"Content-Length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r\n", re.IGNORECASE)
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')


@dataclass(frozen=True, slots=True)
class Frame:
    """One message body."""

    body: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A message that is not delivered: why, and the id of the request it was, when that can be read."""

    reason: str
    message_id: int | str | None = None


def peek_id(data: bytes) -> int | str | None:
    """The JSON-RPC id a (possibly broken) message body names, if one can be read from it."""
    match = _ID.search(data[:4096])
    if match is None:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


class FrameParser:
    """Bytes in (``feed``), frame bodies and refusals out; keeps at most one partial frame."""

    def __init__(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._skip = 0  # bytes still to discard of an oversized body
        self._flushing = False
        self.skipped_bytes = 0  # garbage discarded so far (for the log)

    @property
    def pending(self) -> bool:
        """True while a frame has begun but not ended."""
        return bool(self._buffer.strip()) or self._skip > 0

    def feed(self, data: bytes) -> list[Frame | Refused]:
        self._buffer += data
        return self._drain()

    def stalled(self) -> list[Frame | Refused]:
        """No bytes came for a while: a pending body shorter than declared, holding a whole JSON value,
        is taken as it is (a wrong Content-Length must not leave a request waiting for bytes that never come)."""
        if self._skip:
            return []
        self._flushing = True  # an oversized message waiting for its first bytes is refused as it is
        try:
            refused = self._drain()
        finally:
            self._flushing = False
        if refused:
            return refused
        match = _HEADER.search(self._buffer)
        if match is None:
            return []
        end = self._buffer.find(b"\r\n\r\n", match.start())
        if end == -1:
            return []
        body = bytes(self._buffer[end + 4 :])
        try:
            json.loads(body)
        except ValueError:
            return []
        log.warning("a message body is shorter than its Content-Length; taking the %d bytes it has", len(body))
        self._buffer.clear()
        return [Frame(body)]

    def _drop(self, count: int) -> None:
        if count > 0 and self._buffer[:count].strip():
            self.skipped_bytes += count
            log.warning("skipped %d bytes that are not a message", count)
        del self._buffer[:count]

    def _drain(self) -> list[Frame | Refused]:
        out: list[Frame | Refused] = []
        while True:
            if self._skip:
                # Discard the oversized body as it streams by, but stop at a header: a client that announced
                # more than it sent goes on with its next message (a JSON body holds no raw header line).
                cut = _HEADER.search(self._buffer)
                dropped = min(self._skip, cut.start() if cut else max(0, len(self._buffer) - 40))
                del self._buffer[:dropped]
                self._skip = 0 if cut else self._skip - dropped
                if self._skip:
                    return out
            header = _HEADER.search(self._buffer)
            if header is None:
                # Nothing that starts a message: keep a short tail (a header may be arriving in pieces).
                if len(self._buffer) > MAX_HEADER_BYTES:
                    self._drop(len(self._buffer) - 64)
                return out
            self._drop(header.start())
            header = _HEADER.match(self._buffer)
            assert header is not None
            end = self._buffer.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES + 4)
            following = _HEADER.search(self._buffer, header.end())
            if following is not None and (end == -1 or following.start() < end):
                self._drop(following.start())  # a header section that never ended: the next one starts
                continue
            if end == -1:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    self._drop(header.end())
                    out.append(Refused(f"a header section longer than {MAX_HEADER_BYTES} bytes"))
                    continue
                return out
            length, start = int(header.group(1)), end + 4
            if length > self.max_body_bytes:
                if len(self._buffer) - start < min(256, length) and not self._flushing:
                    return out  # wait for the body's start, which names the request to refuse
                out.append(Refused(
                    f"a message of {length} bytes is over the server's limit of {self.max_body_bytes} bytes",
                    peek_id(bytes(self._buffer[start : start + 4096])),
                ))
                del self._buffer[:start]
                self._skip = length
                continue
            cut = _HEADER.search(self._buffer, start)
            if cut is not None and cut.start() < start + length:  # the next message starts inside the body:
                # the declared length was too long
                out.append(Frame(bytes(self._buffer[start : cut.start()])))
                del self._buffer[: cut.start()]
                continue
            if len(self._buffer) < start + length:
                return out
            out.append(Frame(bytes(self._buffer[start : start + length])))
            del self._buffer[: start + length]


def error_response(message_id: int | str | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}


async def serve_stream(
    read: Callable[[], Awaitable[bytes]],
    deliver: Callable[[bytes], None],
    answer: Callable[[dict[str, Any]], None],
    *,
    should_stop: Callable[[], bool] = lambda: False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    stall_seconds: float = STALL_SECONDS,
) -> None:
    """Read frames from ``read`` until it returns no bytes; ``deliver`` each body, ``answer`` refusals.

    ``read`` is awaited again only after it returned, never twice at once, so a blocking reader in a
    thread stays safe while a partial frame is checked for a stall.
    """
    parser = FrameParser(max_body_bytes)
    reading: asyncio.Future[bytes] | None = None
    while not should_stop():
        if reading is None:
            reading = asyncio.ensure_future(read())
        done, _ = await asyncio.wait({reading}, timeout=stall_seconds if parser.pending else None)
        if not done:
            items = parser.stalled()
        else:
            data, reading = reading.result(), None
            if not data:
                return
            items = parser.feed(data)
        for item in items:
            if isinstance(item, Refused):
                log.warning("refused a message: %s", item.reason)
                if item.message_id is not None:
                    answer(error_response(item.message_id, INVALID_REQUEST, item.reason))
            else:
                deliver(item.body)
