"""The warmer alone, over a fake engine link: one warm-up at a time, cancelled by a move elsewhere (in flight
too), by a real request at its document before it is sent, and by typing; malformed params are refused."""

from __future__ import annotations

import asyncio

from engine.protocol import FinishReason, InfillResult, Welcome
from infill_lsp.completer import Completer
from infill_lsp.config import Settings
from infill_lsp.documents import DocumentStore, TextChange
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import Position
from infill_lsp.session import Session
from infill_lsp.warming import Warmer, cursor_from_params

PYTHON = LanguageRegistry().get("python")
URI = "file:///a.py"
TEXT = "def f(x):\n    return x\n\n\ndef g(y):\n    y = \n    return y\n"


class FakeLink:
    """Holds every request until ``release``; records what was sent and what was cancelled."""

    welcome = Welcome(protocol_version=2, model_name="fake", device="cpu", backend="fake", max_prefix_tokens=512,
                      max_suffix_tokens=256, chars_per_token=3.0)

    def __init__(self) -> None:
        self.sent, self.cancelled, self.gate = [], [], asyncio.Event()
        self._ids = iter(range(1, 1000))

    def next_request_id(self) -> str:
        return f"fake-{next(self._ids)}"

    async def infill(self, request, timeout):
        self.sent.append(request)
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(request.request_id)
            raise
        return InfillResult(request.request_id, (), int(FinishReason.CONVERGED), prompt_tokens=40, cached_tokens=10)


def make_warmer(**settings) -> tuple[Warmer, FakeLink]:
    documents = DocumentStore()
    documents.open(URI, TEXT, language=PYTHON, version=1)
    link = FakeLink()
    settings = {"warm_delay_ms": 20, **settings}
    session = Session(settings=Settings(**settings), documents=documents, link=link)  # type: ignore[arg-type]
    return Warmer(Completer(session)), link


async def test_a_move_elsewhere_cancels_the_warm_up_in_flight_by_its_request_id():
    warmer, link = make_warmer()
    warmer.cursor_moved(URI, 1, Position(1, 10))
    await asyncio.sleep(0.1)
    (first,) = link.sent
    assert first.warm and first.num_candidates == 1 and first.document_key == URI
    warmer.cursor_moved(URI, 1, Position(5, 8))
    await asyncio.sleep(0.1)
    assert link.cancelled == [first.request_id]
    assert [r.warm for r in link.sent] == [True, True] and warmer.counters["cancelled"] == 1
    link.gate.set()
    await asyncio.sleep(0.05)
    assert warmer.counters["warmed"] == 1 and warmer.counters["encoded_tokens"] == 30


async def test_a_real_request_there_or_typing_cancels_the_pending_warm_up():
    warmer, link = make_warmer(warm_delay_ms=50)
    warmer.cursor_moved(URI, 1, Position(5, 8))
    warmer.requested(URI, Position(5, 8))
    await asyncio.sleep(0.1)
    assert link.sent == []
    warmer.cursor_moved(URI, 1, Position(5, 8))  # the place the request just planned: nothing to warm
    warmer.cursor_moved(URI, 1, Position(1, 4))
    warmer.changed(URI, Position(1, 5))  # typing there: real requests follow
    await asyncio.sleep(0.1)
    assert link.sent == [] and warmer.counters["cancelled"] == 2


async def test_an_editor_without_cursor_reports_gets_its_last_change_warmed():
    warmer, link = make_warmer()
    warmer.changed(URI, Position(5, 8))
    await asyncio.sleep(0.1)
    assert len(link.sent) == 1 and link.sent[0].warm


async def test_nothing_is_warmed_when_turned_off_or_for_what_is_not_there():
    warmer, link = make_warmer(warm=False)
    warmer.cursor_moved(URI, 1, Position(5, 8))
    warmer.changed(URI, Position(5, 8))
    on, link_on = make_warmer()
    on.cursor_moved("file:///closed.py", None, Position(0, 0))
    on.cursor_moved(URI, 0, Position(5, 8))  # a version the document is past
    on.cursor_moved(URI, 1, Position(99, 0))
    await asyncio.sleep(0.1)
    assert link.sent == [] and link_on.sent == [] and on.counters["ignored"] == 3


async def test_a_move_reported_ahead_of_its_didchange_waits_for_it():
    warmer, link = make_warmer()
    documents = warmer.session.documents
    warmer.cursor_moved(URI, 2, Position(5, 9))  # the editor's didChange (version 2) is still on its way
    await asyncio.sleep(0.1)
    assert link.sent == []
    documents.change(URI, [TextChange("1", (Position(5, 8), Position(5, 8)))], 2)
    warmer.changed(URI, Position(5, 9))
    await asyncio.sleep(0.1)
    (sent,) = link.sent
    assert sent.prefix.endswith("y = 1")


def test_malformed_params_are_refused():
    good = {"textDocument": {"uri": URI, "version": 3}, "position": {"line": 1, "character": 2}}
    assert cursor_from_params(good) == (URI, 3, Position(1, 2))
    assert cursor_from_params({**good, "textDocument": {"uri": URI}}) == (URI, None, Position(1, 2))
    for bad in (None, [], {"textDocument": URI}, {**good, "position": {"line": True, "character": 0}},
                {**good, "position": {"line": -1, "character": 0}}, {**good, "textDocument": {"uri": 5}},
                {**good, "position": {"line": 1.5, "character": 0}}):
        assert cursor_from_params(bad) is None, bad
