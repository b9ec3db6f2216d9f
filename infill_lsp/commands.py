"""Edit commands and the code actions that offer them; edits reach the editor through workspace/applyEdit.

``infill.fillSelection`` [{uri, range, instruction?}], ``infill.completeBody`` [{uri, position}],
``infill.writeDocstring`` [{uri, position}] and ``infill.restartEngine``. An edit command plans its hole
with the pure ``edits``/``docstrings`` functions, asks the engine with the "thinking" step budget, keeps
the first candidate that does not damage the parse, and applies it only if the document has not changed
meanwhile. Each answers ``{"applied": bool, "reason"?: str}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from infill_lsp.completion import context_budgets
from infill_lsp.context import Budgets
from infill_lsp.convert import lsp_range, lsp_workspace_edit, plain
from infill_lsp.docstrings import docstring_plan
from infill_lsp.documents import Document
from infill_lsp.edits import (
    CommandError,
    body_is_fillable,
    complete_body_plan,
    fill_selection_plan,
    function_at,
)
from infill_lsp.fill import HolePlan, finish_candidates, ranked
from infill_lsp.language_server import InfillServer
from infill_lsp.positions import Position

log = logging.getLogger(__name__)

FILL_SELECTION = "infill.fillSelection"
COMPLETE_BODY = "infill.completeBody"
WRITE_DOCSTRING = "infill.writeDocstring"
RESTART_ENGINE = "infill.restartEngine"
APPLY_TIMEOUT_S = 30.0

Planner = Callable[[Document, Budgets], HolePlan]


# ---- arguments ----------------------------------------------------------------------------------


def _argument(args: tuple[Any, ...], command: str) -> dict[str, Any]:
    value = plain(args[0]) if len(args) == 1 else None
    if not isinstance(value, dict) or not isinstance(value.get("uri"), str):
        raise JsonRpcInvalidParams(f"{command} takes one argument {{uri, ...}}, got {plain(list(args))!r}")
    return value


def _position(value: Any, command: str) -> Position:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("line", "character")
    ):
        raise JsonRpcInvalidParams(f"{command}: expected a position {{line, character}}, got {value!r}")
    return Position(value["line"], value["character"])


def _range(value: Any, command: str) -> tuple[Position, Position]:
    if not isinstance(value, dict):
        raise JsonRpcInvalidParams(f"{command}: expected a range {{start, end}}, got {value!r}")
    return _position(value.get("start"), command), _position(value.get("end"), command)


def _json_position(position: Position | types.Position) -> dict[str, int]:
    return {"line": position.line, "character": position.character}


# ---- running an edit ----------------------------------------------------------------------------


async def run_edit(ls: InfillServer, uri: str, planner: Planner) -> dict[str, Any]:
    """Plan, fill and apply one edit to ``uri``; tell the user why when nothing is applied."""
    document = ls.documents.get(uri)
    try:
        if document is None:
            raise CommandError(f"{uri} is not open")
        if not document.completable:
            raise CommandError(f"{uri} is {document.health.value}; not edited")
        version, text = document.version, document.text
        welcome = await ls.link.ready_welcome(ls.settings.command_timeout_s) if ls.link else None
        budgets, _ = context_budgets(ls.settings, welcome)
        plan = planner(document, budgets)
        replacement = await _fill(ls, document, plan)
        if document.version != version or document.text != text or ls.documents.get(uri) is not document:
            raise CommandError("the document changed while infill was working; nothing was applied")
    except CommandError as why:
        ls.show(str(why))
        return {"applied": False, "reason": str(why)}
    workspace = ls.client_capabilities.workspace
    versioned = bool(workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes)
    edit = lsp_workspace_edit(
        uri, version, lsp_range(document.index, plan.start, plan.end), replacement, versioned=versioned
    )
    params = types.ApplyWorkspaceEditParams(edit=edit, label=f"infill: {plan.title}")
    try:
        answer = await asyncio.wait_for(ls.workspace_apply_edit_async(params), APPLY_TIMEOUT_S)
    except Exception as exc:
        log.warning("workspace/applyEdit failed: %s", exc)
        return {"applied": False, "reason": f"the editor did not apply the edit: {exc}"}
    if not answer.applied:
        return {"applied": False, "reason": answer.failure_reason or "the editor refused the edit"}
    return {"applied": True}


async def _fill(ls: InfillServer, document: Document, plan: HolePlan) -> str:
    if ls.link is None:
        raise CommandError("the engine is not configured")
    settings = ls.settings
    request = plan.request(
        ls.link.next_request_id(),
        document_key=document.uri,
        max_steps=settings.invoked_steps,
        num_candidates=settings.invoked_candidates,
        score=settings.pick == "likelihood" and settings.invoked_candidates > 1,
    )
    result = await ls.link.infill(request, settings.command_timeout_s)
    if result is None:
        raise CommandError("the engine is unavailable; nothing was applied")
    candidates = ranked(result.candidates, settings.pick, settings.min_confidence)
    if result.candidates and not candidates:
        raise CommandError(f"no fill for {plan.title} was confident enough to apply; nothing was applied")
    fills, rejected = finish_candidates((c.text for c in candidates), plan, document.language, limit=1)
    if fills:
        return fills[0].text
    why = rejected[0].reason if rejected else "the engine returned nothing"
    raise CommandError(f"no fill for {plan.title} was kept ({why}); nothing was applied")


def _syntax(document: Document) -> tuple[Any, Any]:
    tree = document.tree
    if document.language is None or tree is None:
        raise CommandError(f"{document.uri} has no syntax support, so no functions can be found")
    return document.language, tree


# ---- commands -----------------------------------------------------------------------------------


async def fill_selection(ls: InfillServer, *args: Any) -> dict[str, Any]:
    value = _argument(args, FILL_SELECTION)
    start, end = _range(value.get("range"), FILL_SELECTION)
    instruction = value.get("instruction") or ""
    if not isinstance(instruction, str):
        raise JsonRpcInvalidParams(f"{FILL_SELECTION}: instruction must be a string")

    def planner(document: Document, budgets: Budgets) -> HolePlan:
        index = document.index
        return fill_selection_plan(
            document.text,
            index.offset(start),
            index.offset(end),
            language=document.language,
            tree=document.tree,
            instruction=instruction,
            budgets=budgets,
        )

    return await run_edit(ls, value["uri"], planner)


async def _edit_at_function(ls: InfillServer, command: str, plan_at: Callable[..., HolePlan], args: tuple) -> dict:
    """Run an edit planned by ``plan_at`` for the function around the command's position."""
    value = _argument(args, command)
    position = _position(value.get("position"), command)

    def planner(document: Document, budgets: Budgets) -> HolePlan:
        language, tree = _syntax(document)
        offset = document.index.offset(position)
        return plan_at(document.text, offset, language=language, tree=tree, budgets=budgets)

    return await run_edit(ls, value["uri"], planner)


async def complete_body(ls: InfillServer, *args: Any) -> dict[str, Any]:
    return await _edit_at_function(ls, COMPLETE_BODY, complete_body_plan, args)


async def write_docstring(ls: InfillServer, *args: Any) -> dict[str, Any]:
    return await _edit_at_function(ls, WRITE_DOCSTRING, docstring_plan, args)


async def restart_engine(ls: InfillServer, *args: Any) -> str:
    """Restart the engine (a fresh process when no other client uses it) and tell the user what was done."""
    if ls.link is None:
        return ""
    message = await ls.link.restart()
    ls.show(message)
    return message


# ---- code actions -------------------------------------------------------------------------------


def code_actions(ls: InfillServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """The edit commands that apply at the range: fill a selection, complete a body, document a function."""
    document = ls.documents.get(params.text_document.uri)
    if document is None or not document.completable:
        return []
    only = params.context.only
    if only and not any(types.CodeActionKind.RefactorRewrite.value.startswith(k) for k in only):
        return []
    uri, rng = document.uri, params.range
    actions: list[types.CodeAction] = []

    def action(title: str, command: str, argument: dict[str, Any]) -> None:
        actions.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(title=title, command=command, arguments=[argument]),
            )
        )

    if rng.start != rng.end:
        as_json = {"start": _json_position(rng.start), "end": _json_position(rng.end)}
        action("Infill: fill the selection", FILL_SELECTION, {"uri": uri, "range": as_json})
    cursor = document.index.offset(Position(rng.start.line, rng.start.character))
    function = function_at(document.language, document.tree, document.text, cursor)
    if function is None or document.language is None or document.tree is None:
        return actions
    where = {"uri": uri, "position": _json_position(Position(rng.start.line, rng.start.character))}
    name = function.name or "function"
    if body_is_fillable(function):
        action(f"Infill: complete the body of {name}", COMPLETE_BODY, where)
    try:
        docstring_plan(document.text, cursor, language=document.language, tree=document.tree)
    except CommandError:
        pass
    else:
        action(f"Infill: document {name}", WRITE_DOCSTRING, where)
    return actions


def _unannotated(handler: Callable[..., Any]) -> Callable[..., Any]:
    """pygls resolves a command handler's annotations at run time; ours name a type it cannot see."""

    async def command(ls, *args):  # noqa: ANN001, ANN202
        return await handler(ls, *args)

    return command


def register(server: InfillServer) -> None:
    kinds = types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite])
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION, kinds)(code_actions)
    server.command(FILL_SELECTION)(_unannotated(fill_selection))
    server.command(COMPLETE_BODY)(_unannotated(complete_body))
    server.command(WRITE_DOCSTRING)(_unannotated(write_docstring))
    server.command(RESTART_ENGINE)(_unannotated(restart_engine))
