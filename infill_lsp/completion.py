"""One inline completion, from a document and a cursor to an engine request and back to fills.

Pure: no LSP types, no IO. The server converts positions on the way in and fills on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocol import InfillRequest, InfillResult
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, InfillContext, build_context
from infill_lsp.documents import Document
from infill_lsp.positions import Position
from infill_lsp.postprocess import Fill, clean_fill


class Skip(Exception):
    """No completion for this request; the message says why (logged, never shown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What to ask the engine for, and where its answer goes in the document."""

    cursor: int
    context: InfillContext
    request: InfillRequest
    typed: str = ""  # text between the start of a selected popup item and the cursor
    start: int = 0  # document offset where the inserted text starts (the cursor, or the item start)


def plan_completion(
    document: Document,
    position: Position,
    settings: Settings,
    *,
    request_id: int,
    selected: tuple[Position, Position, str] | None = None,
) -> Plan:
    """Return the plan for a completion at ``position``; raise Skip when there is nothing to do."""
    if not document.completable:
        raise Skip(f"{document.uri} is {document.health.value}; not completed")
    name = document.language.name if document.language else None
    if not settings.language_enabled(name):
        raise Skip(f"language {name or 'text'} is disabled in settings")
    index = document.index
    if not 0 <= position.line < index.line_count:
        raise Skip(f"line {position.line} is outside {document.uri} ({index.line_count} lines)")
    cursor = index.offset(position)
    typed, pinned, start = "", "", cursor
    if selected is not None:
        item_start = index.offset(selected[0])
        text = selected[2]
        if item_start <= cursor and text.startswith(document.text[item_start:cursor]):
            typed = document.text[item_start:cursor]
            pinned, start = text[len(typed) :], item_start
    budgets = Budgets(prefix_chars=settings.prefix_chars, suffix_chars=settings.suffix_chars)
    context = build_context(
        document.text, cursor, language=document.language, tree=document.tree, budgets=budgets
    )
    request = InfillRequest(
        request_id=request_id,
        prefix=context.prefix,
        suffix=context.suffix,
        language=name or "text",
        document_key=document.uri,
        canvas_lengths=context.canvas_lengths,
        max_steps=settings.max_steps,
        num_candidates=settings.num_candidates,
        pinned=pinned,
        single_line=context.single_line,
    )
    return Plan(cursor=cursor, context=context, request=request, typed=typed, start=start)


def fills_from_result(result: InfillResult, plan: Plan, document: Document, settings: Settings) -> list[Fill]:
    """Clean every candidate, drop empty, unparsable and duplicate fills, keep the engine's order."""
    fills: list[Fill] = []
    for candidate in result.candidates:
        if not candidate.text.startswith(plan.request.pinned):
            continue
        fill = clean_fill(
            candidate.text, plan.context, language=document.language, max_lines=settings.max_lines
        )
        if fill is None or fill in fills:
            continue
        fills.append(fill)
    return fills
