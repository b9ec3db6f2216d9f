"""One inline completion, from a document and a cursor to an engine request and back to fills.

Pure: no LSP types, no IO. The server converts positions on the way in and fills on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocol import InfillRequest, InfillResult, Welcome
from infill_lsp.checks import names_in_code, words
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, InfillContext, build_context
from infill_lsp.documents import Document
from infill_lsp.fill import Fill, HolePlan, finish_candidates, plan_from_context, ranked
from infill_lsp.fill_cache import AUTOMATIC, INVOKED
from infill_lsp.positions import Position

MODES = (AUTOMATIC, INVOKED)


class Skip(Exception):
    """No completion for this request; the message says why (logged, never shown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What to ask the engine for, and where its answer goes in the document."""

    cursor: int
    context: InfillContext
    hole: HolePlan
    request: InfillRequest
    typed: str = ""  # text between the start of a selected popup item and the cursor
    start: int = 0  # document offset where the inserted text starts (the cursor, or the item start)
    item_end: int = 0  # end of a selected popup item's range: the inserted text replaces up to here
    mode: str = AUTOMATIC

    def replace_end(self, fill: Fill) -> int:
        """Document offset up to which inserting ``fill`` replaces text."""
        return max(self.cursor + fill.replaces, self.item_end)


def context_budgets(settings: Settings, welcome: Welcome | None) -> tuple[Budgets, int]:
    """The prefix and suffix budgets in characters, and the cross-file block's share of the prefix.

    The settings' budgets, shrunk to the token budgets the engine announced (converted with its
    characters-per-token figure), so what is cut here at syntax boundaries is what the model reads.
    """
    budgets = Budgets(prefix_chars=settings.prefix_chars, suffix_chars=settings.suffix_chars)
    if welcome is not None:
        budgets = budgets.within(welcome.max_prefix_tokens, welcome.max_suffix_tokens, welcome.chars_per_token)
    cross_file = settings.cross_file_chars * budgets.prefix_chars // max(1, settings.prefix_chars)
    return budgets, cross_file


def plan_completion(
    document: Document,
    position: Position,
    settings: Settings,
    *,
    request_id: str,
    selected: tuple[Position, Position, str] | None = None,
    mode: str = AUTOMATIC,
    cross_file: str = "",
    anchor: int | None = None,
    budgets: Budgets | None = None,
) -> Plan:
    """Return the plan for a completion at ``position``; raise Skip when there is nothing to do.

    ``mode`` picks the step budget and candidate count (automatic: fast and one; invoked: the
    "thinking" budget and several). ``cross_file`` is put before the prefix and taken from its budget;
    ``anchor`` keeps the prefix's start where the previous request had it (see ``build_context``).
    ``budgets`` (default: the settings') come from ``context_budgets``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not document.completable:
        raise Skip(f"{document.uri} is {document.health.value}; not completed")
    name = document.language.name if document.language else None
    if not settings.language_enabled(name):
        raise Skip(f"language {name or 'text'} is disabled in settings")
    index = document.index
    if not 0 <= position.line < index.line_count:
        raise Skip(f"line {position.line} is outside {document.uri} ({index.line_count} lines)")
    cursor = index.offset(position)
    typed, pinned, start, item_end = "", "", cursor, cursor
    if selected is not None:
        item_start = index.offset(selected[0])
        text = selected[2]
        if item_start <= cursor and text.startswith(document.text[item_start:cursor]):
            typed = document.text[item_start:cursor]
            pinned, start = text[len(typed) :], item_start
            item_end = max(cursor, index.offset(selected[1]))
    if budgets is None:
        budgets = Budgets(prefix_chars=settings.prefix_chars, suffix_chars=settings.suffix_chars)
    cross_file = cross_file if len(cross_file) < budgets.prefix_chars else ""
    own = Budgets(prefix_chars=budgets.prefix_chars - len(cross_file), suffix_chars=budgets.suffix_chars)
    context = build_context(
        document.text, cursor, language=document.language, tree=document.tree, budgets=own, anchor=anchor
    )
    invoked = mode == INVOKED
    hole = plan_from_context(
        context,
        cursor=cursor,
        language=name or "text",
        context=cross_file,
        max_lines=settings.max_lines,
        pinned=pinned,
        known_names=names_in_code(document.language, document.tree, document.text) | words(cross_file),
    )
    candidates = settings.invoked_candidates if invoked else settings.num_candidates
    request = hole.request(
        request_id,
        document_key=document.uri,
        # As-you-type requests denoise one canvas (the hole's usual length) to keep latency down; invoked
        # ones also try the longer length in the same batch and keep the more confident fill.
        canvas_lengths=context.canvas_lengths if invoked else context.canvas_lengths[:1],
        max_steps=settings.invoked_steps if invoked else settings.max_steps,
        num_candidates=candidates,
        score=settings.pick == "likelihood" and candidates > 1,  # one candidate needs no pick
    )
    return Plan(
        cursor=cursor,
        context=context,
        hole=hole,
        request=request,
        typed=typed,
        start=start,
        item_end=item_end,
        mode=mode,
    )


def fills_from_result(result: InfillResult, plan: Plan, document: Document, settings: Settings) -> list[Fill]:
    """The distinct fills of the result that pass the gate and the fill layer's checks, best first: as many
    as the request asked candidates (the engine answers that many per canvas length it tried)."""
    candidates = ranked(result.candidates, settings.pick, settings.min_confidence)
    fills, _ = finish_candidates((c.text for c in candidates), plan.hole, document.language)
    return fills[: max(1, plan.request.num_candidates)]
