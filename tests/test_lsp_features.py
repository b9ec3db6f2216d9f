"""End to end, the features beyond a plain inline completion: trigger kinds, the completion fallback,
code actions and edit commands (with workspace/applyEdit round trips), feedback notifications and
session statistics, progress, the fill cache, cross-file context and speculation.

One server per client kind serves the whole module (starting one costs most of a test's time), so each
test uses its own documents and compares counters before and after.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsp_helpers import (
    CLIENTS,
    DEFAULT_OPTIONS,
    complete,
    initialize,
    open_document,
    plain,
    server_config,
    status,
    type_text,
    wait_for_messages,
    wait_for_status,
)
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from infill_lsp.positions import LineIndex

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENGINE_LOG = Path(tempfile.mkdtemp(prefix="infill-fake-engine-")) / "requests.jsonl"
SERVER = server_config(FAKE_ENGINE_LOG=str(ENGINE_LOG))
OPTIONS = {**DEFAULT_OPTIONS, "invoked_steps": 48, "invoked_candidates": 3, "max_steps": 6}


@pytest_lsp.fixture(config=SERVER, params=CLIENTS, scope="module")
async def client(lsp_client: LanguageClient, request):
    lsp_client.client_name = request.param
    lsp_client.applied = []
    lsp_client.refuse_edits = False

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=not lsp_client.refuse_edits)

    converter = lsp_client.protocol._converter
    # lsprotocol reads any item with a "command" key as a Command, even a CodeAction whose command is
    # an object; tell them apart by the type of that key, as the specification does.
    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 - the hook is keyed on this exact type
        lambda obj, _: converter.structure(
            obj, types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        ),
    )
    lsp_client.init_result = await initialize(lsp_client, request.param, OPTIONS)
    yield
    await lsp_client.shutdown_session()


def engine_requests(after: int = 0) -> list[dict[str, Any]]:
    if not ENGINE_LOG.exists():
        return []
    return [json.loads(x) for x in ENGINE_LOG.read_text().splitlines()[after:]]


def uri_for(client: LanguageClient, name: str) -> str:
    return f"file:///work/{client.client_name}/{name}"


def apply_text_edits(text: str, edit: types.WorkspaceEdit) -> str:
    edits = [e for change in edit.document_changes or [] for e in change.edits] or [
        e for edits in (edit.changes or {}).values() for e in edits
    ]
    index = LineIndex(text)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = index.offset((e.range.start.line, e.range.start.character))
        end = index.offset((e.range.end.line, e.range.end.character))
        text = text[:start] + e.new_text + text[end:]
    return text


async def run_command(client: LanguageClient, command: str, argument: dict[str, Any]) -> dict[str, Any]:
    params = types.ExecuteCommandParams(command=command, arguments=[argument])
    return plain(await asyncio.wait_for(client.workspace_execute_command_async(params), 10))


def position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


# ---- inline completion: trigger kinds ---------------------------------------------------------------


async def test_automatic_is_one_fast_item_and_invoked_several_thinking_candidates(client: LanguageClient):
    uri = uri_for(client, "kinds.py")
    open_document(client, uri, "# FILL: 1 || 2 || 3\nx = \n")
    seen = len(engine_requests())
    automatic = await complete(client, uri, 1, 4)
    assert [i.insert_text for i in automatic] == ["1"]
    invoked = await complete(client, uri, 1, 4, trigger=types.InlineCompletionTriggerKind.Invoked)
    assert [i.insert_text for i in invoked] == ["1", "2", "3"]
    sent = engine_requests(seen)
    assert [(r["max_steps"], r["num_candidates"]) for r in sent] == [(6, 1), (48, 3)]


async def test_an_automatic_request_reuses_the_candidates_of_an_invoked_one(client: LanguageClient):
    uri = uri_for(client, "reuse.py")
    open_document(client, uri, "# FILL: 4 || 5\nx = \n")
    await complete(client, uri, 1, 4, trigger=types.InlineCompletionTriggerKind.Invoked)
    seen, before = len(engine_requests()), (await status(client))["requests"]["cached"]
    assert [i.insert_text for i in await complete(client, uri, 1, 4)] == ["4"]
    assert len(engine_requests()) == seen and (await status(client))["requests"]["cached"] == before + 1


# ---- fill cache and forwarding ------------------------------------------------------------------------


async def test_typing_the_start_of_a_fill_is_served_without_the_engine(client: LanguageClient):
    uri = uri_for(client, "forward.py")
    open_document(client, uri, "# FILL: compute(a, b)\nx = \ncompute = a = b = None\n")
    assert [i.insert_text for i in await complete(client, uri, 1, 4)] == ["compute(a, b)"]
    seen, before = len(engine_requests()), (await status(client))["requests"]["forwarded"]
    type_text(client, uri, 2, 1, 4, "comp")
    items = await complete(client, uri, 1, 8)
    assert [i.insert_text for i in items] == ["ute(a, b)"]
    assert items[0].range.start == types.Position(line=1, character=8)
    assert len(engine_requests()) == seen
    assert (await status(client))["requests"]["forwarded"] == before + 1


# ---- completion fallback --------------------------------------------------------------------------------


async def test_clients_without_inline_completion_get_marked_popup_items(client: LanguageClient):
    assert client.init_result.capabilities.completion_provider is not None  # these capability sets lack it
    uri = uri_for(client, "popup.py")
    open_document(client, uri, "# FILL: a, b)\nx = foo()\na = b = None\n")
    params = types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=8)
    )
    result = await asyncio.wait_for(client.text_document_completion_async(params), 10)
    items = result.items if isinstance(result, types.CompletionList) else result
    assert len(items) == 1
    item = items[0]
    assert item.label.startswith("infill: ") and item.detail == "infill"
    assert item.kind == types.CompletionItemKind.Text
    assert item.text_edit.new_text == "a, b)"
    assert item.text_edit.range == types.Range(
        start=types.Position(line=1, character=8), end=types.Position(line=1, character=9)
    )


# ---- code actions and edit commands ---------------------------------------------------------------------


async def code_actions(client: LanguageClient, uri: str, start: tuple[int, int], end: tuple[int, int]):
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(*start), end=types.Position(*end)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    return await asyncio.wait_for(client.text_document_code_action_async(params), 10) or []


async def test_code_actions_offer_the_commands_that_apply(client: LanguageClient):
    uri = uri_for(client, "actions.py")
    open_document(client, uri, "def add(a, b):\n    pass\n\nvalue = add(1, 2)\n")
    inside = await code_actions(client, uri, (1, 4), (1, 4))
    assert sorted(a.command.command for a in inside) == ["infill.completeBody", "infill.writeDocstring"]
    assert all(a.kind == types.CodeActionKind.RefactorRewrite for a in inside)
    selected = await code_actions(client, uri, (3, 8), (3, 17))
    assert [a.command.command for a in selected] == ["infill.fillSelection"]
    assert selected[0].command.arguments[0]["range"]["start"] == position(3, 8)


async def test_fill_selection_round_trip(client: LanguageClient):
    uri = uri_for(client, "select.py")
    text = "# FILL: x ** 2\ndef f(x):\n    y = x * 2\n    return y\n"
    open_document(client, uri, text)
    seen = len(engine_requests())
    answer = await run_command(
        client,
        "infill.fillSelection",
        {"uri": uri, "range": {"start": position(2, 8), "end": position(2, 13)}, "instruction": "square it"},
    )
    assert answer == {"applied": True}
    edit = client.applied[-1].edit
    assert apply_text_edits(text, edit) == text.replace("x * 2", "x ** 2")
    request = engine_requests(seen)[-1]
    assert request["prefix"].endswith("def f(x):\n    # square it\n    y = ")
    assert request["suffix"].startswith("\n    return y")
    assert request["single_line"] and request["max_steps"] == 48


async def test_complete_body_round_trip_in_javascript(client: LanguageClient):
    uri = uri_for(client, "body.js")
    text = "// FILL: return a + b;\nfunction add(a, b) {\n  // TODO\n}\n"
    open_document(client, uri, text, language_id="javascript")
    answer = await run_command(client, "infill.completeBody", {"uri": uri, "position": position(1, 10)})
    assert answer == {"applied": True}
    after = apply_text_edits(text, client.applied[-1].edit)
    assert after == "// FILL: return a + b;\nfunction add(a, b) {\n  return a + b;\n}\n"


async def test_write_docstring_round_trip_in_python_and_go(client: LanguageClient):
    uri = uri_for(client, "doc.py")
    text = "# FILL: Return the sum.\ndef add(a, b):\n    return a + b\n"
    open_document(client, uri, text)
    assert await run_command(client, "infill.writeDocstring", {"uri": uri, "position": position(2, 4)}) == {
        "applied": True
    }
    after = apply_text_edits(text, client.applied[-1].edit)
    assert after == '# FILL: Return the sum.\ndef add(a, b):\n    """Return the sum."""\n    return a + b\n'
    go = uri_for(client, "doc.go")
    text = "package m\n\n// FILL: returns the sum.\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n"
    open_document(client, go, text, language_id="go")
    assert (await run_command(client, "infill.writeDocstring", {"uri": go, "position": position(5, 1)}))[
        "applied"
    ]
    assert "\n// Add returns the sum.\nfunc Add(" in apply_text_edits(text, client.applied[-1].edit)


async def test_commands_that_do_not_apply_say_why(client: LanguageClient):
    uri = uri_for(client, "full.py")
    open_document(client, uri, "def f(a):\n    return a\n")
    shown = len(client.messages)
    answer = await run_command(client, "infill.completeBody", {"uri": uri, "position": position(1, 4)})
    assert answer["applied"] is False and "not empty" in answer["reason"]
    await wait_for_messages(client, shown + 1)
    assert any("not empty" in m.message for m in client.messages[shown:])
    with pytest.raises(Exception, match="(?i)position"):
        await run_command(client, "infill.writeDocstring", {"uri": uri, "position": "top"})


async def test_an_edit_the_client_refuses_is_reported(client: LanguageClient):
    uri = uri_for(client, "refused.py")
    open_document(client, uri, "# FILL: 3\nx = 1\n")
    client.refuse_edits = True
    try:
        answer = await run_command(
            client,
            "infill.fillSelection",
            {"uri": uri, "range": {"start": position(1, 4), "end": position(1, 5)}},
        )
    finally:
        client.refuse_edits = False
    assert answer["applied"] is False


# ---- feedback, statistics, progress ------------------------------------------------------------------


async def test_accepted_and_dismissed_feed_the_statistics_and_the_local_log(client: LanguageClient):
    uri = uri_for(client, "feedback.py")
    open_document(client, uri, "# FILL: 1\nx = \n")
    before = (await status(client))["session"]
    client.protocol.notify("infill/accepted", {"uri": uri, "text": "1", "partial": False})
    client.protocol.notify("infill/accepted", {"uri": uri, "text": "12", "partial": True})
    client.protocol.notify("infill/dismissed", {"uri": uri})
    info = await wait_for_status(client, lambda i: i["session"]["dismissed"] == before["dismissed"] + 1)
    session = info["session"]
    assert session["accepted"] == before["accepted"] + 2
    assert session["partial_accepts"] == before["partial_accepts"] + 1
    assert session["dismissed"] == before["dismissed"] + 1
    assert session["acceptance_rate"] is not None
    assert info["cache"]["engine_hit_rate"] == 0.75
    assert set(info["latency_ms"]) >= {"p50", "p95"}
    assert info["engine"]["model"] == "fake-engine"
    log_path = Path(info["event_log"])
    assert log_path.is_relative_to(os.environ.get("TMPDIR", tempfile.gettempdir()))
    events = [json.loads(x) for x in log_path.read_text().splitlines()]
    assert {"accepted", "dismissed"} <= {e["event"] for e in events}
    assert all("text" not in e for e in events)  # sizes only, never code


async def test_engine_start_is_reported_as_progress(client: LanguageClient):
    for _ in range(50):
        reports = [
            r for token, r in client.progress_reports.items() if str(token).startswith("infill-engine")
        ]
        if reports and len(reports[0]) >= 2:
            break
        await asyncio.sleep(0.02)
    assert isinstance(reports[0][0], types.WorkDoneProgressBegin)
    assert isinstance(reports[0][-1], types.WorkDoneProgressEnd) and "ready" in reports[0][-1].message


# ---- cross-file context and speculation --------------------------------------------------------------


async def test_cross_file_definitions_lead_the_prefix_and_stay_stable(client: LanguageClient):
    models = uri_for(client, "app/models.py")
    main = uri_for(client, "app/main.py")
    open_document(client, models, "class User:\n    # who\n    name: str\n\n\ndef unrelated():\n    pass\n")
    open_document(client, main, "from app.models import User\n# FILL: User()\nu = \n")
    seen = len(engine_requests())
    await complete(client, main, 2, 4)
    type_text(client, main, 2, 2, 4, "x")
    await complete(client, main, 2, 5)
    requests = engine_requests(seen)
    first, second = (r["context"] for r in requests)
    block = "# file: models.py\nclass User:\n    name: str\n\n"  # files are written in path order: the other
    assert block in first and block in second  # tests' open documents come too (similar windows, recent edits)
    assert "unrelated" not in first and "# who" not in first
    assert first == second  # byte-identical across keystrokes
    own = "from app.models import User\n"  # the document's own prefix is the request's prefix
    assert all(r["prefix"].startswith(own) for r in requests)


async def test_speculation_prefetches_the_state_after_accepting(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={**OPTIONS, "speculative": True})
    )
    try:
        uri = uri_for(client, "speculate.py")
        open_document(client, uri, "# FILL: 7\nx = \n")
        assert [i.insert_text for i in await complete(client, uri, 1, 4)] == ["7"]
        before = (await wait_for_status(client, lambda i: i["requests"]["speculative"] >= 1))["requests"]
        type_text(client, uri, 2, 1, 4, "7")  # the user accepts the fill
        seen = len(engine_requests())
        assert [i.insert_text for i in await complete(client, uri, 1, 5)] == ["7"]
        # served by the prefetched answer (the engine only sees the next speculation, for "x = 77")
        assert all(not r["prefix"].endswith("x = 7") for r in engine_requests(seen))
        assert (await status(client))["requests"]["cached"] == before["cached"] + 1
    finally:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=OPTIONS))
        await asyncio.sleep(0.05)


# ---- separate servers: capabilities and a dead engine ----------------------------------------------------


@pytest_lsp.fixture(config=SERVER, scope="module")
async def inline_client(lsp_client: LanguageClient):
    capabilities = client_capabilities("visual-studio-code")
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    options = {
        **DEFAULT_OPTIONS,
        "engine": {
            "mode": "factory",
            "factory": "lsp_fake_engine:make_dead_client",
            "restart_backoff_ms": 50,
        },
    }
    params = types.InitializeParams(capabilities=capabilities, initialization_options=options)
    lsp_client.init_result = await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


async def test_inline_capable_clients_get_no_popup_fallback_and_a_dead_engine_degrades(
    inline_client: LanguageClient,
):
    client = inline_client
    assert client.init_result.capabilities.completion_provider is None
    assert client.init_result.capabilities.inline_completion_provider
    open_document(client, "file:///work/dead.py", "# FILL: 1\nx = \n")
    assert await complete(client, "file:///work/dead.py", 1, 4) == []
    # restarts on its own, with a growing backoff, without requests
    info = await wait_for_status(client, lambda i: i["engine"]["restarts"] >= 2)
    assert info["engine"]["state"] in ("down", "starting") and info["engine"]["restarts"] >= 2
    assert await complete(client, "file:///work/dead.py", 1, 4) == []
    outages = [m for m in client.messages if "unavailable" in m.message]
    assert len(outages) == 1  # reported once
    ends = [r[-1] for r in client.progress_reports.values() if isinstance(r[-1], types.WorkDoneProgressEnd)]
    assert ends and any("down" in (e.message or "") for e in ends)
