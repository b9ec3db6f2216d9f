"""The EngineClient that hosts the engine in this process: an EngineLoop over a core from a factory.

For tests and for one-shot commands such as ``infill complete``; the language server uses the socket
client. Answers come from the loop thread and are handed to the event loop that started the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine.clients.interface import EngineUnavailable, OnPartial
from engine.clients.unix_socket import PendingRequests
from engine.host.loop import CoreMessage, EngineCore, EngineLoop, LoopClosed
from engine.protocol import InfillRequest, InfillResult, StatusReply, Welcome


class InprocEngineClient:
    """EngineClient over an in-process EngineLoop; ``core_factory`` runs in a worker thread at start."""

    def __init__(
        self,
        core_factory: Callable[[], EngineCore],
        *,
        start_timeout: float = 300.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self._core_factory = core_factory
        self._engine: EngineLoop | None = None
        self._aio: asyncio.AbstractEventLoop | None = None
        self._pending = PendingRequests()

    @property
    def alive(self) -> bool:
        return self._engine is not None and self._engine.running

    async def start(self) -> Welcome:
        if self._engine is not None:
            raise RuntimeError("this client was already started")
        try:
            core = await asyncio.wait_for(asyncio.to_thread(self._core_factory), self.start_timeout)
        except TimeoutError:
            raise EngineUnavailable(f"the engine core did not load within {self.start_timeout:g}s") from None
        self._aio = asyncio.get_running_loop()
        self._engine = EngineLoop(core, name="inproc-engine-loop")
        self._engine.start()
        return core.welcome

    async def infill(
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        engine = self._require_alive()
        future = self._pending.open_infill(request.request_id, on_partial)
        engine.submit(self, request, self._sink)
        timeout = self.request_timeout if timeout is None else timeout
        return await self._pending.infill_result(request.request_id, future, timeout, self._abandon)

    async def cancel(self, request_id: str) -> None:
        if request_id in self._pending:
            self._abandon(request_id)

    async def status(self, timeout: float | None = None) -> StatusReply:
        engine = self._require_alive()
        timeout = self.request_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.wrap_future(engine.status()), timeout)
        except TimeoutError:
            raise EngineUnavailable(f"the engine did not answer within {timeout:g}s") from None
        except LoopClosed as exc:
            raise EngineUnavailable(str(exc)) from None

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
        self._pending.fail_all(EngineUnavailable("the engine client was closed"))

    def _require_alive(self) -> EngineLoop:
        if self._engine is None or not self._engine.running:
            raise EngineUnavailable("the in-process engine is not running")
        return self._engine

    def _abandon(self, request_id: str) -> None:
        if self._engine is not None:
            self._engine.cancel(self, request_id)

    def _sink(self, message: CoreMessage) -> None:
        """Runs on the loop thread."""
        assert self._aio is not None
        try:
            self._aio.call_soon_threadsafe(self._pending.resolve, message)
        except RuntimeError:
            pass  # the event loop is closed: nobody is waiting any more
