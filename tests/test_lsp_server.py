"""End to end: a pytest-lsp client with neovim's and VS Code's capabilities against the server process.

The engine is the scripted fake of tests/lsp_fake_engine.py (fills come from ``FILL:`` markers). Tests
that only open documents and ask share one server per client kind (``shared``); those that change the
server's settings, engine or counters get a fresh one (``client``).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from importlib.metadata import version

import pytest
import pytest_lsp
from lsp_helpers import (
    CLIENTS,
    DEFAULT_OPTIONS,
    SERVER,
    change_document,
    complete,
    initialize,
    inline_params,
    open_document,
    status,
    type_text,
    wait_for_messages,
    wait_for_status,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

URI = "file:///work/example.py"
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _session(lsp_client: LanguageClient, request):
    lsp_client.client_name = request.param
    lsp_client.init_result = await initialize(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


client = pytest_lsp.fixture(config=SERVER, params=CLIENTS, loop_scope="module")(_session)
shared = pytest_lsp.fixture(config=SERVER, params=CLIENTS, scope="module")(_session)


async def test_initialize_advertises_inline_completion_and_incremental_sync(shared: LanguageClient):
    capabilities = shared.init_result.capabilities
    assert capabilities.inline_completion_provider
    sync = capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert shared.init_result.server_info.name == "infill"
    assert shared.init_result.server_info.version == version("infill-diffusion")  # the package's, one place
    assert "infill.restartEngine" in capabilities.execute_command_provider.commands


async def test_fill_that_closes_the_call_covers_the_closing_paren(shared: LanguageClient):
    open_document(shared, URI, "# FILL: a, b)\nx = foo()\na = b = None\n")
    items = await complete(shared, URI, 1, 8)
    assert len(items) == 1
    assert items[0].insert_text == "a, b)"
    assert items[0].range == types.Range(
        start=types.Position(line=1, character=8), end=types.Position(line=1, character=9)
    )


async def test_positions_use_the_negotiated_encoding(shared: LanguageClient):
    # neovim negotiates utf-8, VS Code speaks utf-16: the emoji is 4 units in one and 2 in the other
    open_document(shared, URI, "# FILL: 1)\ns = f('😀', )\n")
    line = "s = f('😀', )"
    index = line.index(")")
    units = len(line[:index].encode("utf-8" if shared.client_name == "neovim" else "utf-16-le"))
    if shared.client_name != "neovim":
        units //= 2
    items = await complete(shared, URI, 1, units)
    assert [i.insert_text for i in items] == ["1)"]
    assert items[0].range.start.character == units and items[0].range.end.character == units + 1


async def test_incremental_changes_are_seen_by_the_next_completion(shared: LanguageClient):
    open_document(shared, URI, "x = 1\n")
    type_text(shared, URI, 2, 0, 0, "# FILL: 42\n")
    items = await complete(shared, URI, 1, 4)
    assert [i.insert_text for i in items] == ["42"]


async def test_full_sync_changes_are_accepted_too(shared: LanguageClient):
    open_document(shared, URI, "x = 1\n")
    change_document(shared, URI, 2, types.TextDocumentContentChangeWholeDocument(text="# FILL: 7\ny = \n"))
    assert [i.insert_text for i in await complete(shared, URI, 1, 4)] == ["7"]


async def test_unknown_languages_are_completed_as_plain_text(shared: LanguageClient):
    uri = "file:///work/notes.cob"
    open_document(shared, uri, "FILL: world\nhello \n", language_id="cobol")
    items = await complete(shared, uri, 1, 6)
    assert [i.insert_text for i in items] == ["world"]


@pytest.mark.parametrize(("line", "character"), [(50, 0), (1, 0)])
async def test_invalid_positions_are_handled(shared: LanguageClient, line, character):
    open_document(shared, URI, "# FILL: 3\nx = \n")
    items = await complete(shared, URI, line, character)
    if line == 50:
        assert items == []  # a line past the end: nothing, no error
    else:
        assert items and items[0].insert_text == "3"


async def test_character_past_the_end_of_the_line_is_clamped(shared: LanguageClient):
    open_document(shared, URI, "# FILL: 3\nx = \n")
    items = await complete(shared, URI, 1, 400)
    assert [i.insert_text for i in items] == ["3"]
    assert items[0].range.start == types.Position(line=1, character=4)


async def test_unopened_empty_binary_and_huge_documents(shared: LanguageClient):
    assert await complete(shared, "file:///never/opened.py", 0, 0) == []
    open_document(shared, "file:///work/empty.py", "")
    assert [i.insert_text for i in await complete(shared, "file:///work/empty.py", 0, 0)] == ["pass"]
    open_document(shared, "file:///work/blob.py", "# FILL: 1\nx = \x00\n")
    assert await complete(shared, "file:///work/blob.py", 1, 4) == []
    open_document(shared, "file:///work/huge.py", "# FILL: 1\n" + "x = 1\n" * 400_000)
    assert await complete(shared, "file:///work/huge.py", 1, 4) == []
    # the server still serves others
    open_document(shared, URI, "# FILL: 5\nx = \n")
    assert [i.insert_text for i in await complete(shared, URI, 1, 4)] == ["5"]


async def test_fills_that_break_the_parse_are_dropped(shared: LanguageClient):
    open_document(shared, URI, "# FILL: ((1\nx = \n")
    assert await complete(shared, URI, 1, 4) == []


async def test_selected_popup_item_is_pinned_and_extended(shared: LanguageClient):
    open_document(shared, URI, "# FILL: nt(value)\nx = pri\nvalue = None\n")
    selected = types.SelectedCompletionInfo(
        range=types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=7)),
        text="print",
    )
    items = await complete(shared, URI, 1, 7, selected=selected)
    assert [i.insert_text for i in items] == ["print(value)"]
    assert items[0].range.start == types.Position(line=1, character=4)


async def test_engine_errors_fail_the_request_alone(shared: LanguageClient):
    open_document(shared, URI, "# FILL: <<error>>\nx = \n")
    assert await complete(shared, URI, 1, 4) == []
    open_document(shared, "file:///work/b.py", "# FILL: 2\nx = \n")
    assert [i.insert_text for i in await complete(shared, "file:///work/b.py", 1, 4)] == ["2"]
    assert shared.messages == []


async def test_engine_unavailable_mid_request_is_reported_once_and_recovers(client: LanguageClient):
    open_document(client, URI, "# FILL: <<unavailable>>\nx = \n")
    assert await complete(client, URI, 1, 4) == []
    assert await complete(client, URI, 1, 4) == []  # within the backoff: empty, quickly
    await asyncio.sleep(0.2)  # past the backoff: a fresh client, which dies the same way
    assert await complete(client, URI, 1, 4) == []
    await wait_for_messages(client, 1)
    outage = [m for m in client.messages if "unavailable" in m.message]
    assert len(outage) == 1 and outage[0].type == types.MessageType.Warning
    await asyncio.sleep(0.5)
    open_document(client, "file:///work/ok.py", "# FILL: 9\nx = \n")
    assert [i.insert_text for i in await complete(client, "file:///work/ok.py", 1, 4)] == ["9"]
    info = await status(client)
    assert info["engine"]["state"] == "ready" and info["engine"]["restarts"] >= 1


async def test_cancel_request_reaches_the_engine(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={**DEFAULT_OPTIONS, "request_timeout_ms": 30_000})
    )
    open_document(client, URI, "# FILL: <<hang>>\nx = \n")
    pending = client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(URI, 1, 4), msg_id=77
    )
    await wait_for_status(client, lambda info: info["engine"].get("active") == 1)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=77))
    with pytest.raises(Exception, match="(?i)cancel"):
        await asyncio.wait_for(asyncio.wrap_future(pending), 10)
    # the engine dropped it (it would hang for 30 s otherwise), counted as cancelled
    await wait_for_status(client, lambda info: info["engine"].get("active") == 0 and info["requests"]["cancelled"] == 1)


async def test_a_newer_request_for_the_same_document_supersedes_the_older(client: LanguageClient):
    open_document(client, URI, "# FILL: <<hang>>\nx = \ny = \n# FILL: 8\nz = \n")
    older = asyncio.ensure_future(complete(client, URI, 1, 4))
    await wait_for_status(client, lambda info: info["engine"].get("active") == 1)
    newer = await complete(client, URI, 4, 4)
    assert [i.insert_text for i in newer] == ["8"]
    assert await older == []
    info = await status(client)
    assert info["requests"]["superseded"] == 1 and info["engine"]["active"] == 0


async def test_a_change_cancels_stale_work(client: LanguageClient):
    open_document(client, URI, "# FILL: <<hang>>\nx = \n")
    older = asyncio.ensure_future(complete(client, URI, 1, 4))
    await wait_for_status(client, lambda info: info["engine"].get("active") == 1)
    change_document(client, URI, 2, types.TextDocumentContentChangeWholeDocument(text="x = 1\n"))
    assert await older == []
    assert (await status(client))["engine"]["active"] == 0


async def test_malformed_params_get_an_error_and_the_server_keeps_serving(client: LanguageClient):
    # written raw: the client library would refuse to send such params
    bad = {"textDocument": {"uri": URI}, "position": {"line": "one", "character": None}}
    answer: Future = Future()
    client.protocol._request_futures[99] = answer
    client.protocol._send_data(
        {"jsonrpc": "2.0", "id": 99, "method": "textDocument/inlineCompletion", "params": bad}
    )
    with pytest.raises(Exception, match="(?i)invalid params"):
        await asyncio.wait_for(asyncio.wrap_future(answer), 10)
    open_document(client, URI, "# FILL: 4\nx = \n")
    assert [i.insert_text for i in await complete(client, URI, 1, 4)] == ["4"]


async def test_bad_settings_are_reported_once_and_replaced_by_defaults(client: LanguageClient):
    for _ in range(2):
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"infill": {**DEFAULT_OPTIONS, "max_lines": "many"}})
        )
    await wait_for_messages(client, 1)
    await asyncio.sleep(0.2)
    warnings = [m for m in client.messages if "max_lines" in m.message]
    assert len(warnings) == 1
    open_document(client, URI, "# FILL: 4\nx = \n")
    assert [i.insert_text for i in await complete(client, URI, 1, 4)] == ["4"]


async def test_disabled_languages_get_no_completions(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={**DEFAULT_OPTIONS, "languages": ["go"]})
    )
    open_document(client, URI, "# FILL: 4\nx = \n")
    assert await complete(client, URI, 1, 4) == []


async def test_status_reports_engine_model_latency_and_no_heavy_imports(client: LanguageClient):
    open_document(client, URI, "# FILL: 4\nx = \n")
    await complete(client, URI, 1, 4)
    info = await status(client)
    assert info["engine"]["state"] == "ready"
    assert info["engine"]["model"] == "fake-engine" and info["engine"]["device"] == "cpu"
    assert info["engine"]["latency_ms"]["count"] == 1
    assert info["engine"]["completed"] == 1
    assert info["requests"]["answered"] == 1
    assert info["languages"]["loaded"] == ["python"]
    assert info["heavy_modules_loaded"] == []


async def test_restart_command(client: LanguageClient):
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command="infill.restartEngine"))
    open_document(client, URI, "# FILL: 4\nx = \n")
    assert [i.insert_text for i in await complete(client, URI, 1, 4)] == ["4"]


async def test_null_settings_are_pulled_with_workspace_configuration(client: LanguageClient):
    client.set_configuration({**DEFAULT_OPTIONS, "languages": ["rust"]}, section="infill")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.3)
    open_document(client, URI, "# FILL: 4\nx = \n")
    expected = [] if client.capabilities.workspace.configuration else ["4"]
    assert [i.insert_text for i in await complete(client, URI, 1, 4)] == expected
