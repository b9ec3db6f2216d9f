"""Shared pieces of the end-to-end language-server tests (pytest-lsp client against a server process)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from infill_tools.loadgen import plain

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The server (and any engine it spawns) imports the test fakes as top-level modules, as pytest does.
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))
CLIENTS = ("neovim", "visual-studio-code")
FAKE_ENGINE = {"mode": "factory", "factory": "lsp_fake_engine:make_client", "restart_backoff_ms": 50}
DEFAULT_OPTIONS: dict[str, Any] = {"engine": FAKE_ENGINE, "debounce_ms": 0, "request_timeout_ms": 3000}

# The servers under test keep their event logs here, never in the user's state folder.
STATE_HOME = tempfile.mkdtemp(prefix="infill-test-state-")


def server_config(**env: str) -> ClientServerConfig:
    """The server under test, with extra environment variables."""
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "infill_lsp.server", "--log-level", "debug"],
        server_env={**os.environ, "PYTHONPATH": PYTHONPATH, "XDG_STATE_HOME": STATE_HOME, **env},
    )


SERVER = server_config()


async def initialize(client: LanguageClient, client_name: str, options: dict[str, Any] | None = None):
    params = types.InitializeParams(
        capabilities=client_capabilities(client_name),
        initialization_options=DEFAULT_OPTIONS if options is None else options,
    )
    return await client.initialize_session(params)


def open_document(client: LanguageClient, uri: str, text: str, language_id: str = "python", version: int = 1):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)
        )
    )


def change_document(
    client: LanguageClient, uri: str, version: int, *changes: types.TextDocumentContentChangeEvent
):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=list(changes),
        )
    )


def type_text(client: LanguageClient, uri: str, version: int, line: int, character: int, text: str):
    """Insert ``text`` at (``line``, ``character``) as the document's ``version`` (an incremental change)."""
    at = types.Position(line=line, character=character)
    change_document(client, uri, version, types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text))


def inline_params(
    uri: str,
    line: int,
    character: int,
    selected: types.SelectedCompletionInfo | None = None,
    trigger: types.InlineCompletionTriggerKind = types.InlineCompletionTriggerKind.Automatic,
):
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=trigger, selected_completion_info=selected),
    )


async def complete(
    client: LanguageClient, uri: str, line: int, character: int, **kw
) -> list[types.InlineCompletionItem]:
    result = await asyncio.wait_for(
        client.text_document_inline_completion_async(inline_params(uri, line, character, **kw)), 10
    )
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


async def status(client: LanguageClient) -> dict[str, Any]:
    return plain(await asyncio.wait_for(client.protocol.send_request_async("infill/status", {}), 10))


async def wait_for_status(client: LanguageClient, check, timeout: float = 10.0) -> dict[str, Any]:
    """The server's status once ``check(status)`` holds (polled every 20 ms); fails after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check(info := await status(client)):
        assert loop.time() < deadline, f"status never satisfied the check: {info}"
        await asyncio.sleep(0.02)
    return info


async def wait_for_messages(client: LanguageClient, count: int = 1, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(client.messages) < count and loop.time() < deadline:
        await asyncio.sleep(0.02)


async def stop_engine_on(sock: Path) -> None:
    """Stop the engine listening on ``sock``, if one is, and wait until it has let go of the socket."""
    from engine.clients.connect import stop_engine
    from engine.clients.unix_socket import EngineNotListening, SocketEngineClient

    engine = SocketEngineClient(sock)
    try:
        await engine.start()
    except EngineNotListening:
        return
    await stop_engine(engine, sock)
