"""The language server's shared state: one ``InfillServer`` per session, holding what its handlers share.

Handlers (``handlers``) and edit commands (``commands``) are registered on it by ``server.create_server``;
the completion work (``completer``) gets the ``Session`` passed in, never the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any, Generic, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from infill_lsp.completer import Completer
from infill_lsp.config import Settings, parse_settings
from infill_lsp.documents import DocumentStore
from infill_lsp.engine_link import ClientFactory, EngineLink, EngineState, make_engine_client
from infill_lsp.events import LOG_NAME, EventLog, SessionStats, state_dir
from infill_lsp.languages import LanguageRegistry
from infill_lsp.session import Session

__version__ = "0.1.0"
PROGRESS_TIMEOUT_S = 5.0
T = TypeVar("T")

log = logging.getLogger("infill_lsp.server")  # not __main__ under python -m


class _SessionPart(Generic[T]):
    """A server attribute that lives in the server's Session (read and replaced there)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, server: InfillServer, owner: type | None = None) -> T:
        return getattr(server.session, self.name)

    def __set__(self, server: InfillServer, value: T) -> None:
        setattr(server.session, self.name, value)


class _Answered:
    """Stands in for a request whose params failed to decode and that was already answered."""


class InfillProtocol(LanguageServerProtocol):
    """Answers requests whose params do not decode with InvalidParams instead of leaving them hanging."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except Exception as exc:
            if "id" in data and "method" in data:
                error = JsonRpcInvalidParams(f"invalid params for {data['method']}: {exc.__cause__ or exc}")
                self._send_response(data["id"], error=error.to_response_error())
                return _Answered()
            raise

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, _Answered):
            super().handle_message(message)


class InfillServer(LanguageServer):
    """Holds the state the handlers share; all of it lives on the event loop thread."""

    def __init__(self, client_factory: ClientFactory = make_engine_client) -> None:
        super().__init__("infill", __version__, protocol_cls=InfillProtocol)
        self.client_factory = client_factory
        self.registry = LanguageRegistry()
        self.base_settings = Settings()
        self.session = Session()
        self.completer = Completer(self.session)
        self.stats = SessionStats()
        self.events = EventLog(None)
        self._shown: set[str] = set()
        self._progress_tokens = itertools.count(1)
        self._engine_settled: asyncio.Event | None = None

    # The session's state, as the handlers read it.
    settings = _SessionPart[Settings]()
    documents = _SessionPart[DocumentStore]()
    link = _SessionPart["EngineLink | None"]()

    @property
    def counters(self) -> dict[str, int]:
        return self.completer.counters

    def report_server_error(self, error: Exception, source: Any) -> None:
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    def show_once(
        self, message: str, kind: types.MessageType = types.MessageType.Warning, *, key: str = ""
    ) -> None:
        """Show ``message`` in the editor the first time ``key`` (default: the message) comes up."""
        log.warning("%s", message)
        if (key or message) not in self._shown:
            self._shown.add(key or message)
            self.show(message, kind)

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"infill: {message}"))

    def apply_settings(self, raw: Any, *, initial: bool = False) -> None:
        settings, warnings = parse_settings(raw, None if initial else self.base_settings)
        for warning in warnings:
            self.show_once(f"setting ignored: {warning}")
        if initial:
            self.base_settings = settings
        if self.link is None or settings.engine != self.settings.engine:
            old, self.link = (
                self.link,
                EngineLink(
                    settings.engine,
                    self.client_factory,
                    on_outage=self._outage,
                    on_state=self._engine_state,
                    on_notice=self.show_once,
                ),
            )
            if old is not None:
                asyncio.ensure_future(old.close())
        if settings.event_log != self.settings.event_log or initial:
            self.events = EventLog(state_dir() / LOG_NAME if settings.event_log else None)
        self.settings = settings

    def _outage(self, message: str) -> None:
        text = f"the engine is unavailable; completions are off until it recovers ({message})"
        self.show_once(text, key=f"engine-outage:{id(self.link)}")

    def _engine_state(self, state: EngineState) -> None:
        """Report engine starts as $/progress where the client shows work done progress."""
        if state is not EngineState.STARTING:
            if self._engine_settled is not None:
                self._engine_settled.set()
            return
        window = self.client_capabilities.window if self.client_capabilities else None
        if window is None or not window.work_done_progress or self._engine_settled is not None:
            return
        self._engine_settled = asyncio.Event()
        asyncio.ensure_future(self._report_start(self._engine_settled))

    async def _report_start(self, settled: asyncio.Event) -> None:
        token = f"infill-engine-start-{next(self._progress_tokens)}"
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), PROGRESS_TIMEOUT_S)
            self.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title="infill", message="starting the engine and loading the model"
                ),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), self.settings.engine.start_timeout_ms / 1000 + 1)
            state = self.link.state.value if self.link else "closed"
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"engine {state}"))
        except Exception as exc:  # a client that refuses progress still gets completions
            log.info("no progress reporting: %s", exc)
        finally:
            if self._engine_settled is settled:
                self._engine_settled = None

    def cancel_stale(self, uri: str) -> None:
        self.completer.cancel_stale(uri)
