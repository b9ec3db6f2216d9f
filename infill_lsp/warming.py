"""Encode before the pause: warm the engine's cache at the place the cursor rests, before a fill is asked there.

The editor reports cursor moves with ``infill/didMoveCursor`` (``{textDocument: {uri, version}, position}``);
an editor that never sends it gets the place of its last change warmed instead. Once the cursor has rested
``warm_delay_ms`` at a new place, that place is planned exactly as an inline request there would be (the
same context, prefix anchor and cross-file block, so the same prompt) and sent to the engine as a warm-up
(``InfillRequest.warm``): the engine only encodes the prompt into the document's cache, below real requests.

One warm-up at a time: a move elsewhere cancels the one pending or in flight (by its request id). A real
request cancels the warm-up still waiting out its delay at its document; one already sent is taken over by
the engine (``EngineCore._take_over_warm_ups``), which keeps what it encoded. A place just planned (by a
real request or a warm-up) at the same document version is not warmed again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from engine.protocol import FinishReason
from infill_lsp.completer import Completer
from infill_lsp.completion import Skip
from infill_lsp.documents import Document
from infill_lsp.positions import Position

log = logging.getLogger(__name__)

MOVE_METHOD = "infill/didMoveCursor"
COUNTERS = ("moves", "ignored", "sent", "warmed", "cancelled", "encoded_tokens")


def cursor_from_params(params: Any) -> tuple[str, int | None, Position] | None:
    """(uri, version or None, position) of a didMoveCursor's params; None when they are malformed."""
    if not isinstance(params, dict):
        return None
    document, position = params.get("textDocument"), params.get("position")
    if not isinstance(document, dict) or not isinstance(position, dict):
        return None
    uri, version = document.get("uri"), document.get("version")
    line, character = position.get("line"), position.get("character")
    if not isinstance(uri, str) or not all(_count(v) for v in (line, character)):
        return None
    return uri, version if _count(version) else None, Position(line, character)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


class Warmer:
    """The warm-ups of one server; everything runs on the event loop thread."""

    def __init__(self, completer: Completer) -> None:
        self.completer = completer
        self.session = completer.session
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.cursor_reports = False  # the editor sends didMoveCursor (then changes do not schedule warm-ups)
        self._task: asyncio.Task[None] | None = None
        self._place: tuple[str, int, int] | None = None  # (uri, version, offset) pending or in flight
        self._sent = False  # the current warm-up reached the engine
        self._planned: dict[str, tuple[int, int]] = {}  # uri -> (version, offset) last planned there
        # A move reported as of a version whose didChange has not arrived yet (clients debounce didChange).
        self._ahead: tuple[str, int, Position] | None = None

    # ---- events -----------------------------------------------------------------------------------

    def cursor_moved(self, uri: str, version: int | None, position: Position) -> None:
        """The editor's cursor is now at ``position`` of ``uri`` (as of ``version``, when given)."""
        self.cursor_reports = True
        self._ahead = None
        self.counters["moves"] += 1
        self._schedule(uri, version, position)

    def changed(self, uri: str, position: Position | None) -> None:
        """``uri`` changed, its last change ending at ``position``: typing makes the pending warm-up there moot
        (real requests follow); for an editor that does not report its cursor, that place is warmed next."""
        if self._place is not None and self._place[0] == uri:
            self.cancel()
        ahead, document = self._ahead, self.session.documents.get(uri)
        if ahead is not None and ahead[0] == uri and document is not None and document.version >= ahead[1]:
            self._ahead = None
            self._schedule(*ahead)  # as of the version it was reported at, or dropped when typing went on
        elif not self.cursor_reports and position is not None:
            self._schedule(uri, None, position)

    def requested(self, uri: str, position: Position) -> None:
        """A real request was made at ``position`` of ``uri``: it encodes that place itself."""
        document = self.session.documents.get(uri)
        if document is None:
            return
        offset = document.index.offset(position)
        self._planned[uri] = (document.version, offset)
        if self._place is not None and self._place[0] == uri and not self._sent:
            self.cancel()

    def forget(self, uri: str) -> None:
        if self._place is not None and self._place[0] == uri:
            self.cancel()
        self._planned.pop(uri, None)
        if self._ahead is not None and self._ahead[0] == uri:
            self._ahead = None

    def cancel(self) -> None:
        """Cancel the warm-up pending or in flight (the engine is told by its request id)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.counters["cancelled"] += 1
        self._task, self._place, self._sent = None, None, False

    # ---- work -------------------------------------------------------------------------------------

    def _schedule(self, uri: str, version: int | None, position: Position) -> None:
        settings, document = self.session.settings, self.session.documents.get(uri)
        if not settings.warm or self.session.link is None:
            return
        if document is not None and version is not None and version > document.version:
            self._ahead = (uri, version, position)  # scheduled once its didChange arrives
            return
        if document is None or not document.completable or (version is not None and version != document.version):
            self.counters["ignored"] += 1
            return
        if not 0 <= position.line < document.index.line_count:
            self.counters["ignored"] += 1
            return
        offset = document.index.offset(position)
        place = (uri, document.version, offset)
        if place == self._place or self._planned.get(uri) == place[1:]:
            return
        self.cancel()
        self._place = place
        self._task = asyncio.ensure_future(self._warm(document, position, place))

    async def _warm(self, document: Document, position: Position, place: tuple[str, int, int]) -> None:
        task = asyncio.current_task()
        try:
            await asyncio.sleep(self.session.settings.warm_delay_ms / 1000)
            link = self.session.link
            if self.session.documents.get(document.uri) is not document or document.version != place[1]:
                return
            if link is None or link.welcome is None:  # never start an engine, nor wait for one, to warm it
                return
            try:
                plan = self.completer.plan(document, position)
            except Skip as why:
                log.debug("no warm-up: %s", why)
                return
            request = msgspec.structs.replace(plan.request, warm=True, num_candidates=1, score=False, stream=False)
            self._planned[document.uri] = place[1:]
            self._sent = True
            self.counters["sent"] += 1
            result = await link.infill(request, self.session.settings.request_timeout_s)
            if result is not None and result.finish_reason != FinishReason.CANCELLED:
                self.counters["warmed"] += 1
                self.counters["encoded_tokens"] += result.prompt_tokens - result.cached_tokens
        finally:
            if self._task is task:
                self._task, self._place, self._sent = None, None, False
