"""The infill language server: documents in, inline completions out, the engine behind a link.

Handlers are glue: read params, call the pure core (documents, completion, config), convert with the
``lsp_*`` functions. Custom methods: ``infill/status`` (request) and the ``infill.restartEngine``
command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from infill_lsp.completion import Plan, Skip, fills_from_result, plan_completion
from infill_lsp.config import Settings, parse_settings
from infill_lsp.documents import DocumentStore, TextChange
from infill_lsp.engine_link import ClientFactory, EngineLink, make_engine_client
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import ENCODINGS, UTF16, LineIndex, Position
from infill_lsp.postprocess import Fill

__version__ = "0.1.0"
STATUS_METHOD = "infill/status"
RESTART_COMMAND = "infill.restartEngine"
HEAVY_MODULES = ("torch", "onnxruntime")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger("infill_lsp.server")  # not __main__ under python -m


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
        self.settings = Settings()
        self.documents = DocumentStore()
        self.link: EngineLink | None = None
        self.counters = {"requests": 0, "answered": 0, "empty": 0, "superseded": 0, "cancelled": 0}
        self._shown: set[str] = set()
        self._inflight: dict[str, asyncio.Future[list[Fill]]] = {}

    def report_server_error(self, error: Exception, source: Any) -> None:
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    def show_once(
        self, message: str, kind: types.MessageType = types.MessageType.Warning, *, key: str = ""
    ) -> None:
        """Show ``message`` in the editor the first time ``key`` (default: the message) comes up."""
        log.warning("%s", message)
        if (key or message) not in self._shown:
            self._shown.add(key or message)
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
                EngineLink(settings.engine, self.client_factory, on_outage=self._outage),
            )
            if old is not None:
                asyncio.ensure_future(old.close())
        self.settings = settings

    def _outage(self, message: str) -> None:
        text = f"the engine is unavailable; completions are off until it recovers ({message})"
        self.show_once(text, key=f"engine-outage:{id(self.link)}")

    def cancel_stale(self, uri: str) -> None:
        work = self._inflight.pop(uri, None)
        if work is not None and not work.done():
            work.cancel()

    async def complete(
        self, uri: str, position: Position, selected: tuple[Position, Position, str] | None = None
    ) -> tuple[Plan, list[Fill]] | None:
        """The plan and fills for a cursor; None when there are none. The newest request per document wins."""
        self.counters["requests"] += 1
        document = self.documents.get(uri)
        if document is None or self.link is None:
            log.info("inline completion for a document that is not open: %s", uri)
            return None
        try:
            plan = plan_completion(
                document, position, self.settings, request_id=self.link.next_request_id(), selected=selected
            )
        except Skip as why:
            log.info("no completion: %s", why)
            return None
        self.cancel_stale(uri)
        work = self._inflight[uri] = asyncio.ensure_future(self._run(plan, uri))
        try:
            fills = await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                self.counters["cancelled"] += 1
                raise
            self.counters["superseded"] += 1
            return None
        finally:
            if self._inflight.get(uri) is work:
                del self._inflight[uri]
        self.counters["answered" if fills else "empty"] += 1
        return plan, fills

    async def _run(self, plan: Plan, uri: str) -> list[Fill]:
        if self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
        if self.link is None:
            return []
        result = await self.link.infill(plan.request, self.settings.request_timeout_s)
        document = self.documents.get(uri)
        if result is None or document is None:
            return []
        return fills_from_result(result, plan, document, self.settings)


# ---- converters ---------------------------------------------------------------------------------


def lsp_position(position: Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def position_from_lsp(position: types.Position) -> Position:
    return Position(position.line, position.character)


def encoding_from_lsp(kind: types.PositionEncodingKind | str | None) -> str:
    value = kind.value if isinstance(kind, types.PositionEncodingKind) else kind
    return value if value in ENCODINGS else UTF16


def change_from_lsp(change: types.TextDocumentContentChangeEvent) -> TextChange:
    if isinstance(change, types.TextDocumentContentChangePartial):
        rng = change.range
        return TextChange(change.text, (position_from_lsp(rng.start), position_from_lsp(rng.end)))
    return TextChange(change.text)


def lsp_inline_item(index: LineIndex, plan: Plan, fill: Fill) -> types.InlineCompletionItem:
    """The item inserting ``fill`` at the plan's cursor, over any closers it replaces."""
    return types.InlineCompletionItem(
        insert_text=plan.typed + fill.text,
        range=types.Range(
            start=lsp_position(index.position(plan.start)),
            end=lsp_position(index.position(plan.cursor + fill.replaces)),
        ),
    )


# ---- handlers -----------------------------------------------------------------------------------


def initialize(ls: InfillServer, params: types.InitializeParams) -> None:
    ls.documents = DocumentStore(encoding=encoding_from_lsp(ls.workspace.position_encoding))
    ls.apply_settings(params.initialization_options, initial=True)


def initialized(ls: InfillServer, params: types.InitializedParams) -> None:
    if ls.link is not None:
        ls.link.ensure_started()  # load the model while the user reads; completions wait for it


async def shutdown(ls: InfillServer, params: None) -> None:
    for uri in list(ls._inflight):
        ls.cancel_stale(uri)
    if ls.link is not None:
        await ls.link.close()


def did_open(ls: InfillServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    name = ls.registry.name_for(item.language_id, item.uri)
    language = ls.registry.get(name)
    if name is not None and language is None:
        ls.show_once(f"no syntax support for {name}: {ls.registry.failures().get(name, 'grammar failed')}")
    ls.documents.open(
        item.uri, item.text, language_id=item.language_id, version=item.version, language=language
    )


def did_change(ls: InfillServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.cancel_stale(uri)
    changes = [change_from_lsp(c) for c in params.content_changes]
    if ls.documents.change(uri, changes, params.text_document.version) is None:
        log.warning("didChange for a document that is not open: %s", uri)


def did_close(ls: InfillServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.cancel_stale(params.text_document.uri)
    ls.documents.close(params.text_document.uri)


async def did_change_configuration(ls: InfillServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings
    workspace = ls.client_capabilities.workspace
    if settings is None and workspace is not None and workspace.configuration:  # pull model
        request = types.ConfigurationParams(items=[types.ConfigurationItem(section="infill")])
        try:
            settings = (await asyncio.wait_for(ls.workspace_configuration_async(request), 5))[0]
        except Exception as exc:  # a client that does not answer keeps the current settings
            log.warning("workspace/configuration failed: %s", exc)
            return
    ls.apply_settings(settings)


async def inline_completion(
    ls: InfillServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    uri, cursor_pos = params.text_document.uri, position_from_lsp(params.position)
    info = params.context.selected_completion_info if params.context else None
    selected = None
    if info is not None:
        selected = (position_from_lsp(info.range.start), position_from_lsp(info.range.end), info.text)
    answer = await ls.complete(uri, cursor_pos, selected)
    document = ls.documents.get(uri)
    if answer is None or document is None:
        return types.InlineCompletionList(items=[])
    plan, fills = answer
    return types.InlineCompletionList(items=[lsp_inline_item(document.index, plan, f) for f in fills])


async def status(ls: InfillServer, params: Any) -> dict[str, Any]:
    engine = await ls.link.status() if ls.link is not None else {"state": "uninitialized"}
    return {
        "version": __version__,
        "engine": engine,
        "requests": dict(ls.counters),
        "documents": len(ls.documents),
        "languages": {"loaded": ls.registry.loaded(), "failed": ls.registry.failures()},
        "heavy_modules_loaded": [m for m in HEAVY_MODULES if m in sys.modules],
    }


async def restart_engine(ls: InfillServer, *args: Any) -> None:
    if ls.link is not None:
        await ls.link.restart()


def create_server(client_factory: ClientFactory = make_engine_client) -> InfillServer:
    """Build a server with every handler registered; tests inject ``client_factory``."""
    server = InfillServer(client_factory)
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
    server.feature(STATUS_METHOD)(status)
    server.command(RESTART_COMMAND)(restart_engine)
    return server


# ---- entry point --------------------------------------------------------------------------------


def _tcp_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    if host not in LOOPBACK_HOSTS:
        raise argparse.ArgumentTypeError(
            f"--tcp listens on loopback only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}"
        )
    return host, int(port)


def main(argv: list[str] | None = None, *, client_factory: Callable[..., Any] = make_engine_client) -> int:
    """Run the language server on stdio (default) or on a loopback TCP port for debugging."""
    parser = argparse.ArgumentParser(prog="infill serve", description="Run the infill language server.")
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    parser.add_argument("--tcp", type=_tcp_address, metavar="HOST:PORT", help="listen on a loopback TCP port")
    parser.add_argument("--log-file", help="write logs here (default: stderr)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("infill_lsp").setLevel(args.log_level.upper())
    server = create_server(client_factory)
    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
