"""The loop thread's hand-over to an event loop: partials coalesce per request, the rest keeps its order."""

from __future__ import annotations

import asyncio
import threading

from engine.host.handoff import LoopHandoff
from engine.protocol import InfillResult, Partial


async def test_partials_coalesce_per_request_and_the_result_comes_after_the_last():
    sent: list = []
    handoff = LoopHandoff(asyncio.get_running_loop(), sent.append)

    def loop_thread() -> None:  # steps far faster than the event loop gets to run
        for step in range(10_000):
            handoff(Partial("1", f"a{step}", step))
            handoff(Partial("2", f"b{step}", step))
        handoff(InfillResult("1", (), 0))
        handoff(InfillResult("2", (), 0))

    thread = threading.Thread(target=loop_thread)
    thread.start()
    thread.join()  # the event loop is busy meanwhile (as when it frames and writes): nothing is handed over yet
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(sent) == 4 and handoff.pending == 0  # the newest partial of each request, then its result
    for request_id, text in (("1", "a9999"), ("2", "b9999")):
        mine = [m for m in sent if m.request_id == request_id]
        assert isinstance(mine[-1], InfillResult)  # the result last, after the newest partial
        assert isinstance(mine[-2], Partial) and mine[-2].text == text


async def test_a_closed_event_loop_is_not_an_error():
    loop = asyncio.new_event_loop()
    handoff = LoopHandoff(loop, lambda message: None)
    loop.close()
    handoff(Partial("1", "x", 0))
    handoff(InfillResult("1", (), 0))
