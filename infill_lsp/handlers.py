"""LSP handlers for documents, completions, settings, status and feedback: glue around the pure core.

Each handler reads its params, calls the core (documents, completer, config, events) and converts the
answer with the ``lsp_*`` converters. ``textDocument/completion`` is registered only for clients
without inline completion, or when the ``completion_fallback`` setting asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from lsprotocol import types

from infill_lsp.convert import (
    change_from_lsp,
    encoding_from_lsp,
    lsp_completion_item,
    lsp_inline_item,
    plain,
    position_from_lsp,
    selected_from_lsp,
)
from infill_lsp.documents import DocumentStore
from infill_lsp.fill_cache import AUTOMATIC, INVOKED
from infill_lsp.language_server import InfillServer
from infill_lsp.next_edit import lsp as next_edit_lsp
from infill_lsp.warming import MOVE_METHOD, cursor_from_params
from infill_lsp.workspace_events import refresh, register_watcher, start_index, workspace_roots

log = logging.getLogger(__name__)

STATUS_METHOD = "infill/status"
ACCEPTED_METHOD = "infill/accepted"
DISMISSED_METHOD = "infill/dismissed"
HEAVY_MODULES = ("torch", "onnxruntime")
CONFIGURATION_TIMEOUT_S = 5.0


def initialize(ls: InfillServer, params: types.InitializeParams) -> None:
    ls.documents = DocumentStore(encoding=encoding_from_lsp(ls.workspace.position_encoding))
    ls.session.root = ls.workspace.root_path
    ls.apply_settings(params.initialization_options, initial=True)
    ls.workspace_roots = workspace_roots(params)
    text = params.capabilities.text_document
    inline = text is not None and text.inline_completion is not None
    if (not inline or ls.settings.completion_fallback) and types.TEXT_DOCUMENT_COMPLETION not in (
        ls.protocol.fm.features
    ):
        ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "("]))(
            completion
        )


def initialized(ls: InfillServer, params: types.InitializedParams) -> None:
    if ls.link is not None:
        ls.link.ensure_started()  # load the model while the user reads; completions wait for it
    start_index(ls, ls.workspace_roots)  # in the background: requests never wait for it
    asyncio.ensure_future(register_watcher(ls))


async def shutdown(ls: InfillServer, params: None) -> None:
    ls.completer.cancel_all()
    ls.warmer.cancel()
    if ls.session.index is not None:
        ls.session.index.close()
    if ls.link is not None:
        await ls.link.close()


def did_open(ls: InfillServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    name = ls.registry.name_for(item.language_id, item.uri)
    language = ls.registry.get(name)
    if name is not None and language is None:
        ls.show_once(f"no syntax support for {name}: {ls.registry.failures().get(name, 'grammar failed')}")
    ls.completer.forget(item.uri)
    ls.warmer.forget(item.uri)
    ls.documents.open(
        item.uri, item.text, language_id=item.language_id, version=item.version, language=language
    )


def did_change(ls: InfillServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.completer.keystroke(uri)
    changes = [change_from_lsp(c) for c in params.content_changes]
    document = ls.documents.change(uri, changes, params.text_document.version)
    if document is None:
        log.warning("didChange for a document that is not open: %s", uri)
        return
    hunk = document.history.latest()
    ls.warmer.changed(uri, document.index.position(hunk.end) if hunk is not None else None)


def did_close(ls: InfillServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.completer.forget(params.text_document.uri)
    ls.warmer.forget(params.text_document.uri)
    ls.documents.close(params.text_document.uri)
    refresh(ls, params.text_document.uri)  # its unsaved text is gone: the file on disk speaks for it again


async def did_change_configuration(ls: InfillServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings
    workspace = ls.client_capabilities.workspace
    if settings is None and workspace is not None and workspace.configuration:  # pull model
        request = types.ConfigurationParams(items=[types.ConfigurationItem(section="infill")])
        try:
            answer = ls.workspace_configuration_async(request)
            settings = (await asyncio.wait_for(answer, CONFIGURATION_TIMEOUT_S))[0]
        except Exception as exc:  # a client that does not answer keeps the current settings
            log.warning("workspace/configuration failed: %s", exc)
            return
    before = (ls.settings.index_workspace, ls.settings.index_limits(), ls.settings.index_cache)
    ls.apply_settings(settings)
    if (ls.settings.index_workspace, ls.settings.index_limits(), ls.settings.index_cache) != before:
        start_index(ls, ls.workspace_roots)  # indexed again under the new caps and exclusions


async def inline_completion(
    ls: InfillServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    context = params.context
    invoked = context is not None and context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    selected = selected_from_lsp(context.selected_completion_info if context else None)
    uri, forwarded, position = params.text_document.uri, ls.counters["forwarded"], position_from_lsp(params.position)
    asked = ls.documents.get(uri)
    version = asked.version if asked is not None and selected is None else None  # a document changes in place
    ls.warmer.requested(uri, position)
    answer = await ls.completer.complete(uri, position, selected, INVOKED if invoked else AUTOMATIC)
    document = ls.documents.get(uri)
    if answer is None or document is None or not answer[1]:  # no fill: a next edit on the cursor's line, maybe
        items = await next_edit_lsp.where_no_fill(ls, uri, version, position) if version is not None else []
        return types.InlineCompletionList(items=items)
    plan, fills = answer
    fills = fills if invoked else fills[: ls.settings.num_candidates]
    if fills and ls.counters["forwarded"] == forwarded:
        ls.stats.record("shown")
    return types.InlineCompletionList(items=[lsp_inline_item(document.index, plan, f) for f in fills])


async def completion(ls: InfillServer, params: types.CompletionParams) -> types.CompletionList | None:
    """Fills as popup items, for clients that cannot show inline completions."""
    text = ls.client_capabilities.text_document
    if text is not None and text.inline_completion is not None and not ls.settings.completion_fallback:
        return None
    uri = params.text_document.uri
    ls.warmer.requested(uri, position_from_lsp(params.position))
    answer = await ls.completer.complete(uri, position_from_lsp(params.position))
    document = ls.documents.get(uri)
    if answer is None or document is None or not answer[1]:
        return types.CompletionList(is_incomplete=True, items=[])
    plan, fills = answer
    ls.stats.record("shown")
    items = [lsp_completion_item(document.index, plan, f, rank) for rank, f in enumerate(fills)]
    return types.CompletionList(is_incomplete=True, items=items)


async def status(ls: InfillServer, params: Any) -> dict[str, Any]:
    engine = await ls.link.status() if ls.link is not None else {"state": "uninitialized"}
    cache = ls.completer.cache
    return {
        "version": ls.version,
        "engine": engine,
        "requests": dict(ls.counters),
        "debounce": {"policy": ls.settings.waiting_policy, "waits": ls.completer.waits.summary()},
        "engine_work": dict(ls.completer.engine_work),
        "warming": {"enabled": ls.settings.warm, **ls.warmer.counters},
        "next_edit": {"enabled": ls.settings.next_edit, **ls.next_edits.counters},
        "session": ls.stats.summary(),
        "latency_ms": engine.get("latency_ms", {}),
        "cache": {
            "fills": len(cache),
            "hits": cache.hits,
            "forwarded": cache.forwarded,
            "engine_hit_rate": engine.get("cache_hit_rate"),
        },
        "event_log": str(ls.events.path) if ls.events.path else None,
        "documents": len(ls.documents),
        "index": ls.session.index.status() if ls.session.index is not None else None,
        "languages": {"loaded": ls.registry.loaded(), "failed": ls.registry.failures()},
        "heavy_modules_loaded": [m for m in HEAVY_MODULES if m in sys.modules],
        "pending_handlers": len(ls.protocol._request_futures),
    }


def _feedback(params: Any) -> dict[str, Any]:
    value = plain(params)
    return value if isinstance(value, dict) else {}


def accepted(ls: InfillServer, params: Any) -> None:
    """``infill/accepted`` {uri, text, partial}: the user took a fill (or its start)."""
    value = _feedback(params)
    text, partial = value.get("text"), bool(value.get("partial", False))
    chars = len(text) if isinstance(text, str) else 0
    ls.stats.record("accepted", partial=partial, chars=chars)
    ls.events.write("accepted", language=_language(ls, value), partial=partial, chars=chars)


def dismissed(ls: InfillServer, params: Any) -> None:
    """``infill/dismissed`` {uri}: the user turned a shown fill down."""
    value = _feedback(params)
    ls.stats.record("dismissed")
    ls.events.write("dismissed", language=_language(ls, value))


def did_move_cursor(ls: InfillServer, params: Any) -> None:
    """``infill/didMoveCursor`` {textDocument: {uri, version}, position}: warm the place once the cursor rests."""
    cursor = cursor_from_params(plain(params))
    if cursor is None:
        ls.warmer.counters["ignored"] += 1
        log.debug("%s with malformed params ignored: %r", MOVE_METHOD, params)
        return
    ls.warmer.cursor_moved(*cursor)


def _language(ls: InfillServer, value: dict[str, Any]) -> str:
    document = ls.documents.get(value.get("uri", "")) if isinstance(value.get("uri"), str) else None
    if document is None:
        return ""
    return document.language.name if document.language else document.language_id


def register(server: InfillServer) -> None:
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
    server.feature(STATUS_METHOD)(status)
    server.feature(ACCEPTED_METHOD)(accepted)
    server.feature(DISMISSED_METHOD)(dismissed)
    server.feature(MOVE_METHOD)(did_move_cursor)
