"""The infill language server: how it is built and how it is run.

The state handlers share is ``language_server.InfillServer``; handlers live in ``handlers`` (documents,
completions, settings, status, feedback) and ``commands`` (code actions and edit commands), glue around
the pure core. Custom methods:
``infill/status`` (request), ``infill/accepted`` and ``infill/dismissed`` (notifications), and the
commands ``infill.fillSelection``, ``infill.completeBody``, ``infill.writeDocstring``,
``infill.restartEngine`` and ``infill.showContext``. The workspace index's events are in ``workspace_events``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from engine.clients.remote import RemoteEngine
from infill_lsp import commands, handlers, workspace_events
from infill_lsp.config import EngineSettings, Settings
from infill_lsp.engine_link import ClientFactory, make_engine_client
from infill_lsp.framing import DEFAULT_MAX_BODY_BYTES
from infill_lsp.language_server import InfillServer
from infill_lsp.next_edit import lsp as next_edit_lsp

__all__ = ["InfillServer", "create_server", "main"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")



def create_server(client_factory: ClientFactory = make_engine_client) -> InfillServer:
    """Build a server with every handler registered; tests inject ``client_factory``."""
    server = InfillServer(client_factory)
    handlers.register(server)
    commands.register(server)
    next_edit_lsp.register(server)
    workspace_events.register(server)
    return server


# ---- entry point --------------------------------------------------------------------------------


def _megabytes(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 4096:
        raise argparse.ArgumentTypeError(f"expected a whole number of megabytes in [1, 4096], got {value!r}")
    return int(value)


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
    parser.add_argument("--max-message-mb", type=_megabytes, default=DEFAULT_MAX_BODY_BYTES // 2**20, metavar="MB",
                        help="refuse LSP messages larger than this (default %(default)s MB)")
    RemoteEngine.add_arguments(parser.add_argument_group(
        "remote engine (defaults for engine.url, engine.apiKeyFile, engine.caFile; the editor's settings win)"))
    args = parser.parse_args(argv)
    remote = RemoteEngine.from_args(args, parser)
    handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("infill_lsp").setLevel(args.log_level.upper())
    server = create_server(client_factory)
    server.max_message_bytes = args.max_message_mb * 2**20
    if remote is not None:
        server.default_settings = Settings(engine=EngineSettings(
            url=remote.url,
            api_key_file=str(remote.api_key_file or ""),
            ca_file=str(remote.ca_file or ""),
        ))
    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()
    return server.exit_code


if __name__ == "__main__":
    sys.exit(main())
