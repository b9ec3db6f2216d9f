"""The next edit over LSP, as the Copilot language server offers it, so existing next-edit clients work:

- ``textDocument/copilotInlineEdit`` {textDocument: {uri, version}, position} answers
  {edits: [{text, range, textDocument: {uri, version}, command}]} — at most one edit, ``[]`` for none (a
  stale version, a closed document, a position outside it, an edit racing the request: never a wrong edit);
- ``textDocument/didShowInlineEdit`` {item: {command}}: the client shows it;
- the item's ``command`` (``infill.nextEdit.accept`` [id]), run on accept through workspace/executeCommand;
  ``infill.nextEdit.dismiss`` [id] for editors that say when the user turns one down. One that was shown and
  passed over counts as turned down too; a suggestion turned down is not offered again;
- for clients that speak only the standard ``textDocument/inlineCompletion``: where no fill is offered at the
  cursor, a next edit on the cursor's line that reads as ghost text there, as an item with a replacing
  ``range``, its new text and the same accept ``command`` (``inline_completion_item``; setting
  ``nextEditInlineCompletion``, off for editors that show next edits themselves).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from infill_lsp.convert import lsp_range, plain
from infill_lsp.next_edit.minimal import Edit, spanning_edit
from infill_lsp.next_edit.predict import NextEditPlan, keeps_parsing, reads_as_ghost_text
from infill_lsp.next_edit.run import suggest
from infill_lsp.next_edit.shown import suggestion_key
from infill_lsp.positions import Position, PositionError
from infill_lsp.warming import cursor_from_params

if TYPE_CHECKING:
    from infill_lsp.documents import Document
    from infill_lsp.language_server import InfillServer

log = logging.getLogger(__name__)

INLINE_EDIT_METHOD = "textDocument/copilotInlineEdit"
DID_SHOW_METHOD = "textDocument/didShowInlineEdit"
ACCEPT_COMMAND = "infill.nextEdit.accept"
DISMISS_COMMAND = "infill.nextEdit.dismiss"
NONE: dict[str, list[Any]] = {"edits": []}


@dataclass(frozen=True, slots=True)
class Offered:
    """A next edit offered for ``document`` as it stands: ``edit`` and the command that accepts it."""

    document: Document
    edit: Edit
    command: dict[str, Any]


async def offer_next_edit(ls: InfillServer, uri: str, version: int | None, position: Position, *,
                          ghost_text: bool = False) -> Offered | None:
    """The next edit at ``position`` of ``uri`` (at ``version``; None: the current text), recorded in the book
    as offered; None for none: next edit off, a stale version, a closed document, a position outside it, an
    edit racing the request, no suggestion, one that breaks the parse or one the user turned down.
    ``ghost_text``: only the cursor's line is asked about, and only an edit that reads as ghost text at the
    cursor is offered (``reads_as_ghost_text``)."""
    book = ls.next_edits
    book.counters["asked"] += 1
    settings = ls.settings
    if not settings.next_edit or ls.link is None:
        return None
    document = ls.documents.get(uri)
    book.passed_over(uri)
    if document is None or (version is not None and version != document.version):
        book.counters["stale"] += 1
        return None
    try:
        cursor = document.index.offset(position, strict=True)
    except PositionError:
        return None
    text, seen_version = document.text, document.version
    hunks = [(h.start, h.end, h.old) for h in document.history.hunks(time.monotonic())]
    link = ls.link
    welcome = link.welcome
    lines = (0, 0) if ghost_text else (settings.next_edit_lines_before, settings.next_edit_lines_after)
    plan = NextEditPlan(lines_before=lines[0], lines_after=lines[1], gate=settings.next_edit_gate,
                        rewrite=welcome is not None and welcome.rewrites)
    # A format with an edit prompt reads the recent changes; the others, nothing (their context is other files).
    context = "\n".join(document.history.diffs(text)) if welcome is not None and welcome.edit_prompt else ""
    edits = await suggest(
        lambda request: link.infill(request, settings.request_timeout_s), text, cursor, hunks,
        language=document.language.name if document.language else "", plan=plan, new_id=link.next_request_id,
        document_key=uri, context=context, max_prefix_chars=settings.prefix_chars,
        max_suffix_chars=settings.suffix_chars)
    if document is not ls.documents.get(uri) or document.version != seen_version or document.text != text:
        book.counters["stale"] += 1  # the user typed while the engine thought: the edit may no longer fit
        return None
    edit = spanning_edit(text, edits)
    if (edit is None or ghost_text and not reads_as_ghost_text(text, cursor, edit)
            or document.language is not None and not keeps_parsing(document.language.parse, text, edit.applied(text))
            or book.was_dismissed(key := suggestion_key(uri, text, edit.start, edit.end, edit.text))):
        book.counters["quiet"] += 1
        return None
    offer = book.offer(uri, key)
    return Offered(document, edit, {"title": "Accept the next edit", "command": ACCEPT_COMMAND,
                                    "arguments": [offer.id]})


async def inline_edit(ls: InfillServer, params: Any) -> dict[str, Any]:
    where = cursor_from_params(plain(params))  # the same {textDocument: {uri, version}, position} as a move's
    if where is None:
        ls.next_edits.counters["asked"] += 1
        return NONE
    uri, version, position = where
    offered = await offer_next_edit(ls, uri, version, position)
    if offered is None:
        return NONE
    document, edit = offered.document, offered.edit
    item = {
        "text": edit.text,
        "range": _json_range(lsp_range(document.index, edit.start, edit.end)),
        "textDocument": {"uri": uri, "version": document.version},
        "command": offered.command,
    }
    return {"edits": [item]}


async def inline_completion_item(ls: InfillServer, uri: str, version: int, position: Position,
                                 ) -> types.InlineCompletionItem | None:
    """A next edit on the cursor's line as a standard inline completion: its replacing range, its new text and
    the command that accepts it; None where none reads as ghost text at the cursor (``reads_as_ghost_text``)."""
    offered = await offer_next_edit(ls, uri, version, position, ghost_text=True)
    if offered is None:
        return None
    ls.next_edits.counters["inline"] += 1
    edit, command = offered.edit, offered.command
    return types.InlineCompletionItem(insert_text=edit.text,
                                      range=lsp_range(offered.document.index, edit.start, edit.end),
                                      command=types.Command(title=command["title"], command=command["command"],
                                                            arguments=command["arguments"]))


async def where_no_fill(ls: InfillServer, uri: str, version: int | None, position: Position,
                        ) -> list[types.InlineCompletionItem]:
    """What an inline completion request gets where the fill path offered nothing: a same-line next edit
    (``inline_completion_item``) when the settings ask for one, the document is still at ``version`` (as the
    request found it) and no newer request is in flight; a keystroke or a newer request cancels it."""
    settings, document = ls.settings, ls.documents.get(uri)
    if (not settings.next_edit or not settings.next_edit_inline_completion or document is None
            or version is None or document.version != version or ls.completer.busy(uri)
            or not settings.language_enabled(document.language.name if document.language else None)):
        return []
    item = await ls.completer.latest(uri, inline_completion_item(ls, uri, version, position))
    return [item] if item is not None else []


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
