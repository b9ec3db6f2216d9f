"""The infill language server: the state its handlers share, how it is built, and how it is run.

Handlers live in ``handlers`` (documents, completions, settings, status, feedback) and ``commands``
(code actions and edit commands); they are glue around the pure core. Custom methods:
``infill/status`` (request), ``infill/accepted`` and ``infill/dismissed`` (notifications), and the
commands ``infill.fillSelection``, ``infill.completeBody``, ``infill.writeDocstring`` and
``infill.restartEngine``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import sys
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from infill_lsp import commands, handlers
from infill_lsp.completer import Completer
from infill_lsp.config import Settings, parse_settings
from infill_lsp.documents import DocumentStore
from infill_lsp.engine_link import ClientFactory, EngineLink, EngineState, make_engine_client
from infill_lsp.events import LOG_NAME, EventLog, SessionStats, state_dir
from infill_lsp.languages import LanguageRegistry

__version__ = "0.1.0"
__all__ = ["InfillServer", "__version__", "create_server", "main"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PROGRESS_TIMEOUT_S = 5.0

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
        self.completer = Completer(self)
        self.stats = SessionStats()
        self.events = EventLog(None)
        self._shown: set[str] = set()
        self._progress_tokens = itertools.count(1)
        self._engine_settled: asyncio.Event | None = None

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
                    settings.engine, self.client_factory, on_outage=self._outage, on_state=self._engine_state
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


def create_server(client_factory: ClientFactory = make_engine_client) -> InfillServer:
    """Build a server with every handler registered; tests inject ``client_factory``."""
    server = InfillServer(client_factory)
    handlers.register(server)
    commands.register(server)
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
