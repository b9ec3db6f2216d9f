"""The editor-side view of an engine: one async interface, hosted in-process or behind a socket.

This module imports neither torch nor onnxruntime, so the language server starts fast.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol

from engine.protocol import InfillRequest, InfillResult, Partial, StatusReply, Welcome

_SOL_LOCAL = 0  # macOS and the BSDs: the level of LOCAL_PEERCRED / LOCAL_PEERPID
_LOCAL_PEERCRED = getattr(socket, "LOCAL_PEERCRED", 0x001)
_LOCAL_PEERPID = 0x002  # macOS
_XUCRED = struct.Struct("=IIh2x16I")  # struct xucred: version, uid, ngroups, groups[16]


def peer_credentials(writer: Any) -> tuple[int, int]:
    """Return (pid, uid) of the process at the other end of a Unix-socket stream: SO_PEERCRED on Linux,
    LOCAL_PEERCRED (and LOCAL_PEERPID, 0 where missing) on macOS and the BSDs."""
    return socket_peer(writer.get_extra_info("socket"), linux=hasattr(socket, "SO_PEERCRED"))


def socket_peer(sock: Any, *, linux: bool) -> tuple[int, int]:
    if linux:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        return pid, uid
    _version, uid, *_groups = _XUCRED.unpack_from(sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED.size))
    try:
        (pid,) = struct.unpack("i", sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERPID, 4))
    except OSError:
        pid = 0
    return pid, uid


OnPartial = Callable[[Partial], None] | None
"""Called with each streamed Partial of a request (None: no streaming)."""


class EngineError(RuntimeError):
    """The engine answered a request with an error (the request failed alone)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class EngineUnavailable(RuntimeError):
    """The engine could not be reached, died, or did not answer in time."""


class EngineClient(Protocol):
    """What the language server and the batch tool need from an engine."""

    async def start(self) -> Welcome:
        """Connect (spawning or loading as needed) and return the engine's handshake."""
        ...

    async def infill(
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        """Send ``request`` and wait for its result; raise EngineError or EngineUnavailable."""
        ...

    async def cancel(self, request_id: str) -> None:
        """Ask the engine to drop ``request_id``; its ``infill`` call ends with a CANCELLED result."""
        ...

    async def status(self) -> StatusReply: ...

    async def close(self) -> None: ...

    @property
    def alive(self) -> bool: ...
