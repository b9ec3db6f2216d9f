"""The next edit over LSP, as the Copilot language server offers it, so existing next-edit clients work:

- ``textDocument/copilotInlineEdit`` {textDocument: {uri, version}, position} answers
  {edits: [{text, range, textDocument: {uri, version}, command}]} — at most one edit, ``[]`` for none (a
  stale version, a closed document, a position outside it, an edit racing the request: never a wrong edit);
- ``textDocument/didShowInlineEdit`` {item: {command}}: the client shows it;
- the item's ``command`` (``infill.nextEdit.accept`` [id]), run on accept through workspace/executeCommand;
  ``infill.nextEdit.dismiss`` [id] for editors that say when the user turns one down. One that was shown and
  passed over counts as turned down too; a suggestion turned down is not offered again.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from infill_lsp.convert import lsp_range, plain
from infill_lsp.next_edit.minimal import Edit, apply_edits
from infill_lsp.next_edit.predict import NextEditPlan, keeps_parsing
from infill_lsp.next_edit.run import suggest
from infill_lsp.next_edit.shown import suggestion_key
from infill_lsp.positions import PositionError
from infill_lsp.warming import cursor_from_params

if TYPE_CHECKING:
    from infill_lsp.language_server import InfillServer

log = logging.getLogger(__name__)

INLINE_EDIT_METHOD = "textDocument/copilotInlineEdit"
DID_SHOW_METHOD = "textDocument/didShowInlineEdit"
ACCEPT_COMMAND = "infill.nextEdit.accept"
DISMISS_COMMAND = "infill.nextEdit.dismiss"
NONE: dict[str, list[Any]] = {"edits": []}


async def inline_edit(ls: InfillServer, params: Any) -> dict[str, Any]:
    book = ls.next_edits
    book.counters["asked"] += 1
    where = cursor_from_params(plain(params))  # the same {textDocument: {uri, version}, position} as a move's
    settings = ls.settings
    if where is None or not settings.next_edit or ls.link is None:
        return NONE
    uri, version, (line, character) = where
    document = ls.documents.get(uri)
    book.passed_over(uri)
    if document is None or (version is not None and version != document.version):
        book.counters["stale"] += 1
        return NONE
    try:
        cursor = document.index.offset((line, character), strict=True)
    except PositionError:
        return NONE
    text, seen_version = document.text, document.version
    hunks = [(h.start, h.end, h.old) for h in document.history.hunks(time.monotonic())]
    link = ls.link
    welcome = link.welcome
    plan = NextEditPlan(lines_before=settings.next_edit_lines_before, lines_after=settings.next_edit_lines_after,
                        gate=settings.next_edit_gate, rewrite=welcome is not None and welcome.rewrites)
    # A format with an edit prompt reads the recent changes; the others, nothing (their context is other files).
    context = "\n".join(document.history.diffs(text)) if welcome is not None and welcome.edit_prompt else ""
    edits = await suggest(
        lambda request: link.infill(request, settings.request_timeout_s), text, cursor, hunks,
        language=document.language.name if document.language else "", plan=plan, new_id=link.next_request_id,
        document_key=uri, context=context, max_prefix_chars=settings.prefix_chars,
        max_suffix_chars=settings.suffix_chars)
    if document is not ls.documents.get(uri) or document.version != seen_version or document.text != text:
        book.counters["stale"] += 1  # the user typed while the engine thought: the edit may no longer fit
        return NONE
    edit = _one_edit(text, edits)
    if edit is None:
        book.counters["quiet"] += 1
        return NONE
    if document.language is not None and not keeps_parsing(document.language.parse, text, edit.applied(text)):
        book.counters["quiet"] += 1
        return NONE
    key = suggestion_key(uri, text, edit.start, edit.end, edit.text)
    if book.was_dismissed(key):
        book.counters["quiet"] += 1
        return NONE
    offer = book.offer(uri, key)
    command = {"title": "Accept the next edit", "command": ACCEPT_COMMAND, "arguments": [offer.id]}
    item = {
        "text": edit.text,
        "range": _json_range(lsp_range(document.index, edit.start, edit.end)),
        "textDocument": {"uri": uri, "version": document.version},
        "command": command,
    }
    return {"edits": [item]}


def _one_edit(text: str, edits: list[Edit]) -> Edit | None:
    """The suggestion's edits as one: from the first one's start to the last one's end."""
    if not edits:
        return None
    start, end = min(e.start for e in edits), max(e.end for e in edits)
    after = apply_edits(text, edits)
    return Edit(start, end, after[start : end + len(after) - len(text)])


def _json_range(value: Any) -> dict[str, Any]:
    return {"start": {"line": value.start.line, "character": value.start.character},
            "end": {"line": value.end.line, "character": value.end.character}}


def _offer_id(args: Any) -> str:
    args = plain(args)
    while isinstance(args, list) and len(args) == 1:
        args = args[0]
    return args if isinstance(args, str) else ""


def did_show(ls: InfillServer, params: Any) -> None:
    value = plain(params)
    item = value.get("item") if isinstance(value, dict) else None
    command = item.get("command") if isinstance(item, dict) else None
    if isinstance(command, dict):
        ls.next_edits.shown(_offer_id(command.get("arguments")))


async def accept(ls: InfillServer, *args: Any) -> None:
    if ls.next_edits.accepted(_offer_id(list(args))):
        ls.events.write("next_edit_accepted")


async def dismiss(ls: InfillServer, *args: Any) -> None:
    if ls.next_edits.dismiss(_offer_id(list(args))):
        ls.events.write("next_edit_dismissed")


def register(server: InfillServer) -> None:
    server.feature(INLINE_EDIT_METHOD)(inline_edit)
    server.feature(DID_SHOW_METHOD)(did_show)

    async def accept_command(ls, *args):  # noqa: ANN001, ANN202 (pygls reads a handler's annotations)
        return await accept(ls, *args)

    async def dismiss_command(ls, *args):  # noqa: ANN001, ANN202
        return await dismiss(ls, *args)

    server.command(ACCEPT_COMMAND)(accept_command)
    server.command(DISMISS_COMMAND)(dismiss_command)
