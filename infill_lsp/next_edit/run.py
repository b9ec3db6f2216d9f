"""Ask the engine about a next edit: the probes of ``predict`` sent as draft requests, their answers judged.

The one place the language server, the HTTP API and the benchmark share: each hands in how it sends an
engine request (its own client, ids, budgets and cancellation) and gets the suggestion back as edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from engine.protocol import InfillRequest, InfillResult, Priority
from infill_lsp.next_edit.minimal import Edit
from infill_lsp.next_edit.predict import Answer, NextEditPlan, judge, probes

Send = Callable[[InfillRequest], Awaitable[InfillResult | None]]


async def suggest(
    send: Send,
    text: str,
    cursor: int,
    hunks: list[tuple[int, int, str]],
    *,
    language: str,
    plan: NextEditPlan,
    new_id: Callable[[], str],
    document_key: str = "",
    client: str = "",
    context: str = "",
    max_prefix_chars: int = 6000,
    max_suffix_chars: int = 2000,
) -> list[Edit]:
    """The edits to suggest at ``cursor`` of ``text`` ([] for none); ``hunks``: its recent edits, oldest first,
    each ``(start, end, old)`` in the current text. A probe whose request fails counts as no answer."""
    asked = probes(text, cursor, hunks, plan)
    if not asked:
        return []
    requests = [
        InfillRequest(
            new_id(),
            text[max(0, probe.start - max_prefix_chars) : probe.start],
            text[probe.end : probe.end + max_suffix_chars],
            language=language,
            document_key=document_key,
            draft=probe.draft,
            priority=Priority.NEXT_EDIT,
            client=client,
            context=context,
        )
        for probe in asked
    ]
    results = await asyncio.gather(*(send(request) for request in requests), return_exceptions=True)
    for result in results:  # a cancelled suggestion is cancelled whole; anything else fails its probe alone
        if isinstance(result, asyncio.CancelledError):
            raise result
    answers = [
        Answer(result.candidates[0].text, result.candidates[0].confidence)
        if isinstance(result, InfillResult) and result.candidates else None
        for result in results
    ]
    return judge(text, asked, answers, plan)
