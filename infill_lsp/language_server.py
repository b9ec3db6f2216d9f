"""The language server's shared state: one ``InfillServer`` per session, holding what its handlers share.

Handlers (``handlers``) and edit commands (``commands``) are registered on it by ``server.create_server``;
the completion work (``completer``) gets the ``Session`` passed in, never the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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
from infill_lsp.framing import (
    DEFAULT_MAX_BODY_BYTES,
    INVALID_REQUEST,
    PARSE_ERROR,
    error_response,
    peek_id,
    serve_stream,
)
from infill_lsp.languages import LanguageRegistry
from infill_lsp.next_edit.shown import OfferBook
from infill_lsp.session import Session
from infill_lsp.version import package_version
from infill_lsp.warming import Warmer

PROGRESS_TIMEOUT_S = 5.0
SERVER_NOT_INITIALIZED = -32002
INTERNAL_ERROR = -32603
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
    """pygls's protocol, with every request answered and the LSP states kept.

    Requests whose params do not decode get InvalidParams instead of hanging; a request before
    ``initialize`` gets ServerNotInitialized (notifications then are dropped, but ``exit``); a second
    ``initialize`` and any request after ``shutdown`` get InvalidRequest.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_seen = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "id" in data and "method" in data and "jsonrpc" in data:
            refusal = self._refusal(data["method"])
            if refusal is not None:  # answered whatever the params hold
                self._refuse(data["id"], *refusal)
                return _Answered()
        try:
            return super().structure_message(data)
        except Exception as exc:
            if "id" in data and "method" in data:
                error = JsonRpcInvalidParams(f"invalid params for {data['method']}: {exc.__cause__ or exc}")
                self._send_response(data["id"], error=error.to_response_error())
                return _Answered()
            raise

    def _refusal(self, method: str) -> tuple[int, str] | None:
        """How a request for ``method`` is refused in the current state, or None when it is served."""
        if method == types.INITIALIZE:
            return (INVALID_REQUEST, "the server is already initialized") if self._initialize_seen else None
        if not self._initialize_seen:
            return SERVER_NOT_INITIALIZED, f"{method} before initialize"
        if self._shutdown:
            return INVALID_REQUEST, f"{method} after shutdown"
        return None

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Answered):
            return
        method = getattr(message, "method", None)
        if method is not None and getattr(message, "id", None) is not None:  # a request
            refusal = self._refusal(method)
            if refusal is not None:
                self._refuse(message.id, *refusal)
                return
            if method == types.INITIALIZE:
                self._initialize_seen = True
        elif method is not None and not self._initialize_seen and method != types.EXIT:
            return  # notifications before initialize are dropped, as the specification says
        super().handle_message(message)

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None) -> None:
        """pygls's, with every future dropped from its table once done: pygls keeps the future of each
        notification handled by a generator or coroutine (didChange, didOpen, ...) for good."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda done: self._request_futures.get(msg_id) is done
                                     and self._request_futures.pop(msg_id, None))

    def _refuse(self, message_id: Any, code: int, text: str) -> None:
        self._send_data(error_response(message_id, code, text))

    def deliver(self, body: bytes) -> None:
        """Hand one frame body to the protocol; answer what is not a message with a JSON-RPC error."""
        hook = self.structure_message
        if _SURROGATE_ESCAPE.search(body):  # a lone surrogate cannot be encoded: it becomes U+FFFD (one UTF-16 unit)
            def hook(obj: dict[str, Any]) -> Any:
                return self.structure_message({k: _without_lone_surrogates(v) for k, v in obj.items()})
        try:
            message = json.loads(body, object_hook=hook)
        except (ValueError, RecursionError) as exc:
            self._send_data(error_response(peek_id(body), PARSE_ERROR, f"the message is not JSON: {exc}"[:300]))
            return
        if isinstance(message, dict) or not hasattr(message, "jsonrpc"):
            message_id = message.get("id") if isinstance(message, dict) else None
            self._send_data(error_response(message_id, INVALID_REQUEST, "not a JSON-RPC 2.0 message"))
            return
        try:
            self.handle_message(message)
        except Exception as exc:  # a bug in one handler must not take the connection down
            log.exception("failed to handle a message")
            message_id = getattr(message, "id", None)
            if getattr(message, "method", None) is not None and message_id is not None:
                self._send_data(error_response(message_id, INTERNAL_ERROR, f"internal error: {type(exc).__name__}"))


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


class InfillServer(LanguageServer):
    """Holds the state the handlers share; all of it lives on the event loop thread."""

    def __init__(self, client_factory: ClientFactory = make_engine_client) -> None:
        super().__init__("infill", package_version(), protocol_cls=InfillProtocol)
        self.client_factory = client_factory
        self.registry = LanguageRegistry()
        self.default_settings = Settings()  # what the editor's first settings apply to (the command line's)
        self.base_settings = Settings()
        self.session = Session()
        self.completer = Completer(self.session)
        self.warmer = Warmer(self.completer)
        self.next_edits = OfferBook()  # next edits offered, shown, accepted or turned down
        self.stats = SessionStats()
        self.events = EventLog(None)
        self._shown: set[str] = set()
        self._progress_tokens = itertools.count(1)
        self._engine_settled: asyncio.Event | None = None
        self.workspace_roots: list[Path] = []  # the folders the workspace index covers

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
        settings, warnings = parse_settings(raw, self.default_settings if initial else self.base_settings)
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

    # ---- transports: pygls's, with the framing of ``infill_lsp.framing`` ---------------------------

    max_message_bytes = DEFAULT_MAX_BODY_BYTES
    exit_code = 0

    async def _serve(self, read: Any) -> None:
        protocol = self.protocol
        assert isinstance(protocol, InfillProtocol)
        stop = self._stop_event
        await serve_stream(read, protocol.deliver, protocol._send_data, max_body_bytes=self.max_message_bytes,
                           should_stop=lambda: stop is not None and stop.is_set())

    def _start_io_async(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve LSP on stdin/stdout (pygls's writer, this module's reader)."""
        from pygls.io_ import StdoutWriter

        self._stop_event = threading.Event()
        stream = stdin or sys.stdin.buffer
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lsp-stdin")
        read_some = getattr(stream, "read1", stream.read)

        async def read() -> bytes:
            return await asyncio.get_running_loop().run_in_executor(reader, read_some, 65536)

        try:
            asyncio.run(self._serve(read))
        except BrokenPipeError:
            log.error("the connection to the editor is lost; shutting down")
        except SystemExit as exc:  # ``exit``: 0 after ``shutdown``, 1 without (the LSP specification)
            self.exit_code = exc.code if isinstance(exc.code, int) else 0
        except KeyboardInterrupt:
            pass
        finally:
            reader.shutdown(wait=False)
            self.shutdown()

    def start_tcp(self, host: str, port: int) -> None:
        """Serve LSP to one connection at a time on a loopback TCP port (for debugging)."""
        self._stop_event = threading.Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)  # type: ignore[arg-type]
            await self._serve(lambda: reader.read(65536))
            self.shutdown()

        async def serve() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            async with self._server:
                await self._server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(serve())
