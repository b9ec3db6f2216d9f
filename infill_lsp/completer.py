"""Completions as the user types: fill cache first, then the waiting policy, the newest request wins.

Per document: a keystroke cancels stale work and feeds the typing tempo (answers mark where the user's
own tempo stops); a request is served from the fill cache (exactly, or forwarded past what was typed)
before the engine is asked; automatic requests wait as ``debounce_policy`` says, invoked ones never; the
prefix keeps its start and the cross-file block its bytes across keystrokes; after a fill is shown, the
state after accepting it may be prefetched (``speculative``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from infill_lsp.completion import Plan, Skip, context_budgets, fills_from_result, plan_completion
from infill_lsp.context import Budgets
from infill_lsp.documents import Document
from infill_lsp.fill import Fill
from infill_lsp.fill_cache import AUTOMATIC, INVOKED, FillCache
from infill_lsp.positions import Position
from infill_lsp.retrieval.gather import SourceCache, context_block
from infill_lsp.retrieval.packer import Packed
from infill_lsp.session import Session
from infill_lsp.tempo import TypingTempo, debounce_wait_ms

log = logging.getLogger(__name__)

COUNTERS = ("requests", "answered", "empty", "superseded", "cancelled", "cached", "forwarded", "speculative")
ENGINE_WORK = ("results", "forward_passes", "prompt_tokens", "cached_tokens")
T = TypeVar("T")


class Waits:
    """The debounce waits decided per request mode: how many, their sum and their longest (ms)."""

    def __init__(self) -> None:
        self.table = {mode: {"requests": 0, "total_ms": 0.0, "max_ms": 0.0} for mode in (AUTOMATIC, INVOKED)}

    def record(self, mode: str, wait_ms: float) -> None:
        row = self.table[mode]
        row["requests"] += 1
        row["total_ms"] += wait_ms
        row["max_ms"] = max(row["max_ms"], wait_ms)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            mode: {
                "requests": row["requests"],
                "mean_ms": round(row["total_ms"] / max(1, row["requests"]), 1),
                "max_ms": round(row["max_ms"], 1),
            }
            for mode, row in self.table.items()
        }


CONTEXT_BLOCKS = 64  # context blocks remembered (Completer._blocks)


class Completer:
    """The completion work of one server; everything runs on the event loop thread."""

    def __init__(self, session: Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.clock = clock
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.tempo = TypingTempo()
        self.waits = Waits()
        self.engine_work = dict.fromkeys(ENGINE_WORK, 0)  # summed over the engine results this server used
        self.cache = FillCache()
        self._inflight: dict[str, asyncio.Future[Any]] = {}  # the newest work per document
        self._speculation: dict[str, asyncio.Task[None]] = {}
        self._anchors: dict[str, int] = {}
        self.sources = SourceCache()  # what the context sources derive per document text
        # The last context blocks, by place (``_context_key``): the same place gets the same block while the other
        # files and the index stay as they were, even where a source's time budget cut the first answer short,
        # so a warm-up and the fill after it, and the keystrokes on one line, share one encoded prompt.
        self._blocks: OrderedDict[tuple, Packed] = OrderedDict()

    # ---- document events ------------------------------------------------------------------------

    def keystroke(self, uri: str) -> None:
        self.cancel_stale(uri)
        self.tempo.keystroke(uri, self.clock())

    def cancel_stale(self, uri: str) -> None:
        work = self._inflight.pop(uri, None)
        if work is not None and not work.done():
            work.cancel()

    def busy(self, uri: str) -> bool:
        """Whether work for ``uri`` is in flight (a newer request's, when asked by an older one)."""
        work = self._inflight.get(uri)
        return work is not None and not work.done()

    def forget(self, uri: str) -> None:
        self.cancel_stale(uri)
        task = self._speculation.pop(uri, None)
        if task is not None:
            task.cancel()
        self._anchors.pop(uri, None)
        self.sources.forget(uri)
        for key in [k for k in self._blocks if k[0] == uri]:
            del self._blocks[key]
        self.tempo.forget(uri)
        self.cache.forget(uri)

    def cancel_all(self) -> None:
        for uri in list(self._inflight):
            self.cancel_stale(uri)
        for task in self._speculation.values():
            task.cancel()

    # ---- context --------------------------------------------------------------------------------

    def budgets(self) -> tuple[Budgets, int]:
        """The context budgets in characters and the cross-file share, within the engine's token budgets."""
        link = self.session.link
        return context_budgets(self.session.settings, link.welcome if link else None)

    def context(self, document: Document, offset: int, budget: int, budgets: Budgets) -> Packed:
        """The cross-file context for a cursor at ``offset`` (identical bytes for every cursor on one line
        while the other files are unchanged)."""
        others = [d for d in self.session.documents.all() if d.uri != document.uri]
        index = self.session.index
        key = (document.uri, document.index.line_of(offset), document.index.line_count, budget, budgets.prefix_chars,
               budgets.suffix_chars, tuple((d.uri, d.version) for d in others), getattr(index, "generation", -1))
        if (known := self._blocks.get(key)) is not None:
            self._blocks.move_to_end(key)
            return known
        packed, _ = context_block(
            document,
            offset,
            others,
            self.session.settings,
            budget=budget,
            prefix_chars=budgets.prefix_chars,
            suffix_chars=budgets.suffix_chars,
            index=self.session.index,
            display=self.display,
            cache=self.sources,
        )
        self._blocks[key] = packed
        while len(self._blocks) > CONTEXT_BLOCKS:
            self._blocks.popitem(last=False)
        return packed

    def display(self, path: str) -> str:
        """A file's path as the prompt shows it: relative to the workspace, else its name."""
        index = self.session.index
        if index is not None and index.root_of(Path(path)) is not None:
            return index.relative(Path(path))
        root, where = self.session.root, PurePosixPath(path)
        if root and where.is_relative_to(root):
            return str(where.relative_to(root))
        return where.name

    def plan(
        self,
        document: Document,
        position: Position,
        *,
        selected: tuple[Position, Position, str] | None = None,
        mode: str = AUTOMATIC,
    ) -> Plan:
        link = self.session.link
        budgets, cross_file_chars = self.budgets()
        plan = plan_completion(
            document,
            position,
            self.session.settings,
            request_id=link.next_request_id() if link else "",
            selected=selected,
            mode=mode,
            cross_file=self._cross_file(document, position, cross_file_chars, budgets),
            anchor=self._anchors.get(document.uri),
            budgets=budgets,
        )
        self._anchors[document.uri] = plan.context.prefix_start
        return plan

    def _cross_file(self, document: Document, position: Position, budget: int, budgets: Budgets) -> str:
        if not 0 <= position.line < document.index.line_count:
            return ""  # plan_completion says why there is no completion
        return self.context(document, document.index.offset(position), budget, budgets).block

    # ---- requests -------------------------------------------------------------------------------

    async def complete(
        self,
        uri: str,
        position: Position,
        selected: tuple[Position, Position, str] | None = None,
        mode: str = AUTOMATIC,
    ) -> tuple[Plan, list[Fill]] | None:
        """The plan and fills for a cursor; None when there are none. The newest request per document wins."""
        self.counters["requests"] += 1
        document = self.session.documents.get(uri)
        link = self.session.link
        if document is None or link is None:
            log.info("inline completion for a document that is not open: %s", uri)
            return None
        if link.welcome is None:  # the context is cut to the engine's budgets: know them first
            await link.ready_welcome(self.session.settings.request_timeout_s)
            if self.session.documents.get(uri) is not document:
                return None
        try:
            plan = self.plan(document, position, selected=selected, mode=mode)
        except Skip as why:
            log.info("no completion: %s", why)
            self.tempo.answered(uri)
            return None
        if selected is None and (fills := self._cached(document, plan)) is not None:
            self.tempo.answered(uri)
            self._maybe_speculate(document, plan, fills)
            return plan, fills
        fills = await self.latest(uri, self._run(plan, document))
        if fills is None:
            return None
        self.counters["answered" if fills else "empty"] += 1
        self.tempo.answered(uri)  # superseded and cancelled requests are never answered before the next edit
        self._maybe_speculate(document, plan, fills)
        return plan, fills

    async def latest(self, uri: str, work: Coroutine[Any, Any, T]) -> T | None:
        """Run ``work`` as the document's newest: it cancels the work in flight there, and a keystroke or a
        newer request cancels it in turn (None then). Cancelling the request itself cancels ``work`` too."""
        self.cancel_stale(uri)
        running = self._inflight[uri] = asyncio.ensure_future(work)
        try:
            return await running
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                self.counters["cancelled"] += 1
                raise
            self.counters["superseded"] += 1
            return None
        finally:
            if self._inflight.get(uri) is running:
                del self._inflight[uri]

    def _cached(self, document: Document, plan: Plan) -> list[Fill] | None:
        before = self.cache.forwarded
        fills = self.cache.lookup(document.uri, document.text, plan.cursor, plan.mode)
        if fills is not None:
            self.counters["forwarded" if self.cache.forwarded > before else "cached"] += 1
        return fills

    async def _run(self, plan: Plan, document: Document) -> list[Fill]:
        settings = self.session.settings
        delay = debounce_wait_ms(
            self.tempo,
            document.uri,
            policy=settings.waiting_policy,
            invoked=plan.mode == INVOKED,
            wait_ms=settings.debounce_ms,
            low=settings.debounce_min_ms,
            high=settings.debounce_max_ms,
        )
        self.waits.record(plan.mode, delay)
        if delay:
            await asyncio.sleep(delay / 1000)
        return await self._ask(plan, document, settings.request_timeout_s)

    async def _ask(self, plan: Plan, document: Document, timeout: float) -> list[Fill]:
        link = self.session.link
        if link is None:
            return []
        text = document.text
        result = await link.infill(plan.request, timeout)
        if result is not None:
            work = self.engine_work
            work["results"] += 1
            work["forward_passes"] += result.forward_passes
            work["prompt_tokens"] += result.prompt_tokens
            work["cached_tokens"] += result.cached_tokens
        if result is None or document.text != text:
            return []
        fills = fills_from_result(result, plan, document, self.session.settings)
        if not plan.request.pinned:
            self.cache.store(
                document.uri,
                text,
                plan.cursor,
                head_start=plan.context.prefix_start,
                tail_end=plan.context.suffix_end,
                mode=plan.mode,
                fills=fills,
            )
        return fills

    # ---- speculation ----------------------------------------------------------------------------

    def _maybe_speculate(self, document: Document, plan: Plan, fills: list[Fill]) -> None:
        """Prefetch the fill for the document as it will be once the first fill is accepted."""
        if not self.session.settings.speculative or not fills or plan.request.pinned:
            return
        fill = fills[0]
        inserted = plan.typed + fill.text
        after = document.text[: plan.start] + inserted + document.text[plan.replace_end(fill) :]
        future = Document(
            document.uri,
            after,
            language_id=document.language_id,
            language=document.language,
            encoding=document.encoding,
        )
        cursor = future.index.position(plan.start + len(inserted))
        previous = self._speculation.pop(document.uri, None)
        if previous is not None:
            previous.cancel()
        self._speculation[document.uri] = asyncio.ensure_future(self._speculate(future, cursor))

    async def _speculate(self, future: Document, cursor: Position) -> None:
        try:
            plan = self.plan(future, cursor)
        except Skip:
            return
        self.counters["speculative"] += 1
        fills = await self._ask(plan, future, self.session.settings.request_timeout_s)
        log.debug("speculative fills for %s: %d", future.uri, len(fills))
