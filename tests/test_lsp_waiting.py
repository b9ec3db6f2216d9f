"""The waiting policy: the typing tempo learns from the user's edits only, invoked requests never wait.

Pure tests of ``TypingTempo`` and ``debounce_wait_ms``, then a ``Completer`` with a slow scripted engine
driven the way a client that edits as soon as each answer arrives drives it.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lsp_fake_engine import FakeEngineClient

from infill_lsp.completer import Completer
from infill_lsp.config import EngineSettings, Settings, parse_settings
from infill_lsp.documents import TextChange
from infill_lsp.engine_link import EngineLink
from infill_lsp.fill_cache import AUTOMATIC, INVOKED
from infill_lsp.positions import Position
from infill_lsp.session import Session
from infill_lsp.tempo import TypingTempo, debounce_wait_ms

URI = "file:///w/typing.py"
ENGINE_MS = 80  # the scripted engine's answer time


def wait(tempo: TypingTempo, policy: str, *, invoked: bool = False, wait_ms: int = 30) -> float:
    return debounce_wait_ms(tempo, URI, policy=policy, invoked=invoked, wait_ms=wait_ms, low=10, high=250)


def test_an_interval_with_our_answer_in_it_is_not_the_users_tempo():
    tempo = TypingTempo()
    now = 0.0
    for _ in range(8):  # the client edits 5 ms after each answer, and answers take 200 ms
        tempo.keystroke(URI, now)
        tempo.answered(URI)
        now += 0.205
    assert tempo.interval_ms(URI) is None
    assert wait(tempo, "adaptive") == 30  # still the initial wait: nothing climbed
    for step in range(6):  # back-to-back edits with no answer between them: the user's own tempo
        tempo.keystroke(URI, 10 + step * 0.1)
    assert tempo.interval_ms(URI) == pytest.approx(100)
    assert wait(tempo, "adaptive") == pytest.approx(80)


def test_each_policy_waits_as_it_says_and_invoked_requests_never_wait():
    tempo = TypingTempo()
    for step in range(6):
        tempo.keystroke(URI, step * 0.2)
    assert wait(tempo, "none") == 0
    assert wait(tempo, "fixed", wait_ms=40) == 40
    assert wait(tempo, "adaptive") == pytest.approx(160)
    assert wait(tempo, "adaptive", wait_ms=0) == wait(tempo, "fixed", wait_ms=0) == 0  # 0: never wait
    for policy in ("none", "fixed", "adaptive"):
        assert wait(tempo, policy, invoked=True, wait_ms=500) == 0
    with pytest.raises(ValueError, match="policy"):
        wait(tempo, "sometimes")


def test_the_policy_is_a_setting_and_auto_follows_the_engine_kind():
    settings, warnings = parse_settings({"debouncePolicy": "fixed", "debounceMs": 20})
    assert not warnings and settings.waiting_policy == "fixed" and settings.debounce_ms == 20
    settings, warnings = parse_settings({"debouncePolicy": "eager"})
    assert settings.debounce_policy == "auto" and "debounce_policy" in warnings[0]
    for mode in ("spawn", "inproc"):
        assert Settings(engine=EngineSettings(mode=mode)).waiting_policy in ("none", "fixed", "adaptive")


class SlowEngine(FakeEngineClient):
    async def infill(self, request, on_partial=None, timeout=None):
        await asyncio.sleep(ENGINE_MS / 1000)
        return await super().infill(request, on_partial, timeout)


def completer_with(**settings) -> Completer:
    engine = EngineSettings(mode="factory", factory="lsp_fake_engine:make_client")
    session = Session(settings=Settings(engine=engine, **settings))
    session.link = EngineLink(engine, lambda s: SlowEngine())
    session.documents.open(URI, "# FILL: total\nx = \n", language_id="python", version=1)
    return Completer(session)


def type_char(completer: Completer, column: int, version: int) -> Position:
    completer.keystroke(URI)
    edit = TextChange("y", (Position(1, column), Position(1, column)))
    completer.session.documents.change(URI, [edit], version)
    return Position(1, column + 1)


async def test_a_client_that_edits_when_each_answer_arrives_does_not_see_the_wait_climb():
    completer = completer_with(debounce_policy="adaptive", debounce_ms=30)
    column = 4
    for version in range(2, 10):
        cursor = type_char(completer, column, version)
        column += 1
        assert await completer.complete(URI, cursor) is not None
    waits = completer.waits.summary()[AUTOMATIC]
    # Each interval between edits is our wait plus the engine's 80 ms: fed to the tempo it would climb
    # to 0.8 x (wait + 80) and beyond; it stays at the initial wait.
    assert waits["requests"] == 8 and waits["max_ms"] == 30
    assert completer.tempo.interval_ms(URI) is None
    await completer.session.link.close()


async def test_invoked_requests_do_not_sleep_even_under_a_long_fixed_wait():
    completer = completer_with(debounce_policy="fixed", debounce_ms=3000)
    cursor = type_char(completer, 4, 2)
    started = time.monotonic()
    assert await completer.complete(URI, cursor, mode=INVOKED) is not None
    assert time.monotonic() - started < 2.5  # the engine's 80 ms and the link's start, never the 3 s wait
    waits = completer.waits.summary()
    assert waits[INVOKED]["requests"] == 1 and waits[INVOKED]["max_ms"] == 0
    type_char(completer, 5, 3)
    automatic = asyncio.ensure_future(completer.complete(URI, Position(1, 6)))
    await asyncio.sleep(0.05)
    assert completer.waits.summary()[AUTOMATIC]["max_ms"] == 3000  # automatic ones do wait
    completer.keystroke(URI)  # the next keystroke supersedes it
    assert await automatic is None and completer.counters["superseded"] == 1
    await completer.session.link.close()
