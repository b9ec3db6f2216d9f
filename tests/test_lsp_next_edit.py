"""Next edit over LSP (textDocument/copilotInlineEdit, as the Copilot language server answers it) through a
real server and the scripted engine, which keeps every draft confidently: after a rename the server
suggests the same rename at the next use; accept, turn down, stale versions and bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest_lsp
from lsp_helpers import (
    SERVER,
    change_document,
    complete,
    initialize,
    open_document,
    status,
    type_text,
    wait_for_status,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from infill_lsp.convert import plain

URI = "file:///work/app/area.py"
TEXT = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, "neovim")
    open_document(lsp_client, URI, TEXT)
    yield
    await lsp_client.shutdown_session()


def rename_parameter(client: LanguageClient, version: int = 2) -> None:
    """The user renames the parameter height to size (one incremental change)."""
    start, end = types.Position(0, len("def area(width, ")), types.Position(0, len("def area(width, height"))
    change_document(client, URI, version, types.TextDocumentContentChangePartial(range=types.Range(start, end),
                                                                                 text="size"))


async def ask(client: LanguageClient, line: int, character: int, *, version: int | None = 2,
              uri: str = URI) -> dict[str, Any]:
    document = {"uri": uri} if version is None else {"uri": uri, "version": version}
    params = {"textDocument": document, "position": {"line": line, "character": character}}
    return plain(await asyncio.wait_for(client.protocol.send_request_async("textDocument/copilotInlineEdit",
                                                                           params), 10))


async def test_a_rename_is_suggested_at_the_next_use_and_accepting_runs_the_items_command(client):
    rename_parameter(client)
    answer = await ask(client, 0, len("def area(width, size"))
    (edit,) = answer["edits"]
    assert edit["text"] == "size"
    assert edit["range"] == {"start": {"line": 1, "character": 19}, "end": {"line": 1, "character": 25}}
    assert edit["textDocument"] == {"uri": URI, "version": 2}
    command = edit["command"]
    assert command["command"] == "infill.nextEdit.accept" and command["arguments"]
    client.protocol.notify("textDocument/didShowInlineEdit", {"item": {"command": command}})
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command["command"],
                                                                            command["arguments"]))
    counters = (await status(client))["next_edit"]
    assert counters["offered"] == 1 and counters["shown"] == 1 and counters["accepted"] == 1


async def test_a_suggestion_shown_and_passed_over_is_not_offered_again(client):
    rename_parameter(client)
    (edit,) = (await ask(client, 0, 20))["edits"]
    client.protocol.notify("textDocument/didShowInlineEdit", {"item": {"command": edit["command"]}})
    await asyncio.sleep(0.1)
    assert (await ask(client, 0, 20))["edits"] == []  # the user went on without it: turned down
    counters = (await status(client))["next_edit"]
    assert counters["dismissed"] == 1 and counters["quiet"] == 1


async def test_an_explicit_dismissal_is_remembered(client):
    rename_parameter(client)
    (edit,) = (await ask(client, 0, 20))["edits"]
    await client.workspace_execute_command_async(types.ExecuteCommandParams("infill.nextEdit.dismiss",
                                                                            edit["command"]["arguments"]))
    assert (await ask(client, 0, 20))["edits"] == []


async def test_no_edit_without_a_recent_change_and_empty_answers_for_bad_requests(client):
    assert (await ask(client, 0, 10, version=1))["edits"] == []  # nothing changed: the model keeps every line
    rename_parameter(client)
    assert (await ask(client, 0, 20, version=1))["edits"] == []  # a stale version
    assert (await ask(client, 0, 20, uri="file:///work/app/closed.py"))["edits"] == []
    assert (await ask(client, 99, 0))["edits"] == []  # a position outside the document
    assert (await ask(client, 0, 500))["edits"] == []
    for params in ({}, {"textDocument": "x"}, {"textDocument": {"uri": URI}, "position": {"line": -1,
                                                                                         "character": 0}}):
        answer = plain(await client.protocol.send_request_async("textDocument/copilotInlineEdit", params))
        assert answer == {"edits": []}
    assert len((await ask(client, 0, 20, version=None))["edits"]) == 1  # no version: the current text


async def test_the_setting_turns_next_edit_off(client):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"nextEdit": False}))
    await asyncio.sleep(0.2)
    rename_parameter(client)
    assert (await ask(client, 0, 20))["edits"] == []


async def test_crlf_files_and_a_region_at_the_end_of_the_file_get_the_right_edit(client):
    uri = "file:///work/app/crlf.py"
    open_document(client, uri, "def f(count):\r\n    return count + count")  # no line end at the end
    start, end = types.Position(0, len("def f(")), types.Position(0, len("def f(count"))
    change_document(client, uri, 2, types.TextDocumentContentChangePartial(range=types.Range(start, end), text="n"))
    (edit,) = (await ask(client, 0, len("def f(n"), uri=uri))["edits"]
    assert edit["text"] == "n"
    assert edit["range"] == {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 16}}


# ---- same-line next edits as standard inline completions (textDocument/inlineCompletion) -----------------

BEFORE_HEIGHT = (1, len("    return width * "))  # mid-line, where `height` starts on the line after the rename


async def test_a_same_line_edit_mid_line_is_a_ranged_inline_completion_and_its_command_counts_it(client):
    rename_parameter(client)
    (item,) = await complete(client, URI, *BEFORE_HEIGHT)
    assert item.insert_text == "size"
    assert item.range == types.Range(types.Position(1, 19), types.Position(1, 25))  # replaces `height`
    assert item.command.command == "infill.nextEdit.accept" and item.command.arguments
    await client.workspace_execute_command_async(types.ExecuteCommandParams(item.command.command,
                                                                            list(item.command.arguments)))
    counters = (await status(client))["next_edit"]
    assert counters["offered"] == 1 and counters["inline"] == 1 and counters["accepted"] == 1


async def test_an_edit_on_another_line_or_away_from_the_cursor_is_no_inline_completion(client):
    rename_parameter(client)
    assert await complete(client, URI, 4, len("print(ar")) == []  # the next use is on line 1
    assert await complete(client, URI, 1, len("    ret")) == []  # on the line, but not at the cursor
    assert await complete(client, URI, 1, len("    return width * he")) == []  # would rewrite what is typed
    (edit,) = (await ask(client, 4, len("print(ar")))["edits"]  # as a next edit it is there all the same
    assert edit["range"]["start"] == {"line": 1, "character": 19}
    assert (await status(client))["next_edit"]["inline"] == 0


async def test_the_setting_keeps_next_edits_out_of_inline_completions(client):
    rename_parameter(client)
    assert len(await complete(client, URI, *BEFORE_HEIGHT)) == 1
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"nextEditInlineCompletion": False}))
    await asyncio.sleep(0.2)
    assert await complete(client, URI, *BEFORE_HEIGHT) == []
    assert len((await ask(client, 0, 20))["edits"]) == 1  # copilotInlineEdit answers as before
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={
        "nextEditInlineCompletion": True, "nextEdit": False}))
    await asyncio.sleep(0.2)
    assert await complete(client, URI, *BEFORE_HEIGHT) == []


async def test_a_change_while_the_edit_is_asked_gives_no_item_and_cancels_the_engine_work(client):
    uri = "file:///work/app/slow.py"
    open_document(client, uri, "def area(width, height):\n    return width * height  # <<hang>>\n")
    start, end = types.Position(0, len("def area(width, ")), types.Position(0, len("def area(width, height"))
    change_document(client, uri, 2, types.TextDocumentContentChangePartial(range=types.Range(start, end),
                                                                           text="size"))
    asked = asyncio.ensure_future(complete(client, uri, *BEFORE_HEIGHT))
    await wait_for_status(client, lambda info: info["engine"].get("active") == 1)  # the probe of line 1 waits
    type_text(client, uri, 3, 0, 0, "#")
    assert await asked == []
    info = await status(client)
    assert info["engine"]["active"] == 0 and info["requests"]["superseded"] == 1
    assert info["next_edit"]["offered"] == 0


async def test_a_request_whose_document_changed_before_it_was_answered_gets_no_item(client):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={
        "debouncePolicy": "fixed", "debounceMs": 300}))
    await asyncio.sleep(0.2)
    asked = asyncio.ensure_future(complete(client, URI, *BEFORE_HEIGHT))  # at version 1, before the rename
    await asyncio.sleep(0.1)  # the fill waits out its debounce
    rename_parameter(client)  # version 2: the fill is cancelled, and version 2 is not what was asked about
    assert await asked == []
    assert (await status(client))["next_edit"]["asked"] == 0
    assert len(await complete(client, URI, *BEFORE_HEIGHT)) == 1  # asked at version 2, it is there


async def test_a_stale_request_and_a_closed_document_get_no_item(client):
    rename_parameter(client)
    assert await complete(client, "file:///work/app/closed.py", 1, 19) == []
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    assert await complete(client, URI, *BEFORE_HEIGHT) == []
    assert (await status(client))["next_edit"]["offered"] == 0
