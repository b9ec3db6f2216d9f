"""EngineLoop routing, cancellation and failure handling, and the in-process client, on a FakeCore."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fake_core import DROP_MARKER, RAISE_MARKER, FakeCore, fill_text

from engine.clients.inproc import InprocEngineClient
from engine.clients.interface import EngineError, EngineUnavailable
from engine.host.loop import CoreMessage, EngineLoop, LoopClosed
from engine.protocol import ErrorCode, ErrorReply, FinishReason, InfillRequest, InfillResult, Partial

WAIT_S = 10.0


class Collector:
    """A thread-safe sink that records messages and signals when the request ended."""

    def __init__(self) -> None:
        self.messages: list[CoreMessage] = []
        self.done = threading.Event()

    def __call__(self, message: CoreMessage) -> None:
        self.messages.append(message)
        if isinstance(message, InfillResult | ErrorReply):
            self.done.set()

    def final(self) -> CoreMessage:
        assert self.done.wait(WAIT_S), "the request never ended"
        return self.messages[-1]


def wait_until(predicate, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


@pytest.fixture
def core() -> FakeCore:
    return FakeCore(steps=3)


@pytest.fixture
def loop(core: FakeCore):
    with EngineLoop(core) as engine_loop:
        yield engine_loop


def test_result_and_partials_are_routed_with_the_client_id(loop: EngineLoop) -> None:
    sink = Collector()
    request = InfillRequest("42", "def add(a, b):\n    return ", "\n", stream=True)
    loop.submit("client", request, sink)
    result = sink.final()
    assert isinstance(result, InfillResult)
    assert result.request_id == "42"
    assert result.finish_reason == FinishReason.CONVERGED
    assert result.candidates[0].text == fill_text(request)
    partials = [m for m in sink.messages if isinstance(m, Partial)]
    assert [p.step for p in partials] == [1, 2]
    assert all(p.request_id == "42" for p in partials)


def test_no_partials_without_stream(loop: EngineLoop) -> None:
    sink = Collector()
    loop.submit("client", InfillRequest("1", "a", "b"), sink)
    assert isinstance(sink.final(), InfillResult)
    assert len(sink.messages) == 1


def test_a_request_keeps_its_id_from_client_to_core_and_only_its_owner_cancels_it(core: FakeCore) -> None:
    core.default_steps = 50
    with EngineLoop(core) as loop:
        alice, bob = Collector(), Collector()
        loop.submit("alice", InfillRequest("lsp-1a2b-7", "prefix-alice", "suffix"), alice)
        loop.submit("bob", InfillRequest("lsp-1a2b-7", "prefix-bob", "suffix"), bob)  # an id in flight: refused
        refused = bob.final()
        assert isinstance(refused, ErrorReply) and refused.code == ErrorCode.BAD_REQUEST
        loop.cancel("bob", "lsp-1a2b-7")  # not bob's: no effect
        result = alice.final()
        assert isinstance(result, InfillResult) and result.finish_reason == FinishReason.CONVERGED
        assert result.request_id == "lsp-1a2b-7" and "alice" in result.candidates[0].text
    assert core.added_ids == ["lsp-1a2b-7"]  # the core saw the request's own id


def _submit_two(loop: EngineLoop, first_id: str, second_id: str) -> tuple[Collector, CoreMessage]:
    """Submit two requests from one client; the first's collector and the second's final message."""
    first, second = Collector(), Collector()
    loop.submit("c", InfillRequest(first_id, "x", "y"), first)
    loop.submit("c", InfillRequest(second_id, "x", "y"), second)
    return first, second.final()


def test_duplicate_id_in_flight_is_a_bad_request(core: FakeCore) -> None:
    core.default_steps = 50
    with EngineLoop(core) as loop:
        first, error = _submit_two(loop, "5", "5")
        assert isinstance(error, ErrorReply) and error.code == ErrorCode.BAD_REQUEST
        assert isinstance(first.final(), InfillResult)


def test_invalid_request_fails_alone(loop: EngineLoop) -> None:
    bad, good = Collector(), Collector()
    loop.submit("c", InfillRequest("1", "x", "y", num_candidates=0), bad)
    loop.submit("c", InfillRequest("2", "x", "y", num_candidates=2), good)
    error = bad.final()
    assert isinstance(error, ErrorReply)
    assert error.code == ErrorCode.BAD_REQUEST and error.request_id == "1"
    assert "num_candidates" in error.message
    result = good.final()
    assert isinstance(result, InfillResult) and len(result.candidates) == 2


def test_a_full_core_queue_is_overloaded(core: FakeCore) -> None:
    core.default_steps = 1_000_000
    core.step_delay = 0.001
    core.max_queued = 1
    with EngineLoop(core) as loop:
        first, error = _submit_two(loop, "1", "2")
        assert isinstance(error, ErrorReply) and error.code == ErrorCode.OVERLOADED and error.request_id == "2"
        loop.cancel("c", "1")
        assert isinstance(first.final(), InfillResult)


def test_cancel_ends_the_request_with_cancelled(core: FakeCore) -> None:
    core.default_steps = 10_000
    core.step_delay = 0.001
    with EngineLoop(core) as loop:
        sink = Collector()
        loop.submit("c", InfillRequest("3", "x", "y", stream=True), sink)
        wait_until(lambda: len(sink.messages) >= 2)
        loop.cancel("c", "3")
        result = sink.final()
        assert isinstance(result, InfillResult)
        assert result.finish_reason == FinishReason.CANCELLED and result.request_id == "3"
        wait_until(lambda: not core.active)


def test_cancel_of_unknown_request_is_harmless(loop: EngineLoop) -> None:
    loop.cancel("c", "999")
    sink = Collector()
    loop.submit("c", InfillRequest("1", "x", "y"), sink)
    assert isinstance(sink.final(), InfillResult)


def test_cancel_owner_cancels_its_requests_and_drops_their_messages(core: FakeCore) -> None:
    core.default_steps = 10_000
    core.step_delay = 0.001
    with EngineLoop(core) as loop:
        gone = [Collector() for _ in range(3)]
        for i, sink in enumerate(gone):
            loop.submit("gone", InfillRequest(str(i), "x", "y", stream=True), sink)
        stays = Collector()
        loop.submit("stays", InfillRequest("stays-0", "x", "y", max_steps=20), stays)
        wait_until(lambda: all(s.messages for s in gone))
        loop.cancel_owner("gone")
        assert isinstance(stays.final(), InfillResult)
        wait_until(lambda: core.active == 0)
        assert sorted(core.cancelled_ids) == sorted(core.added_ids[:3])
        counts = [len(s.messages) for s in gone]
        time.sleep(0.05)
        assert [len(s.messages) for s in gone] == counts
        assert not any(s.done.is_set() for s in gone)


def test_a_failing_step_fails_its_requests_and_the_loop_keeps_serving(
    loop: EngineLoop, core: FakeCore
) -> None:
    doomed = Collector()
    loop.submit("c", InfillRequest("1", f"x{RAISE_MARKER}", "y"), doomed)
    error = doomed.final()
    assert isinstance(error, ErrorReply)
    assert error.code == ErrorCode.INTERNAL and "fake step failure" in error.message
    after = Collector()
    loop.submit("c", InfillRequest("2", "x", "y"), after)
    assert isinstance(after.final(), InfillResult)
    wait_until(lambda: core.active == 0)


def test_a_request_the_core_drops_fails_instead_of_hanging(loop: EngineLoop) -> None:
    sink = Collector()
    loop.submit("c", InfillRequest("1", DROP_MARKER, "y"), sink)
    error = sink.final()
    assert isinstance(error, ErrorReply) and error.code == ErrorCode.INTERNAL


def test_a_failing_sink_does_not_stop_the_loop(loop: EngineLoop) -> None:
    def broken_sink(message: CoreMessage) -> None:
        raise RuntimeError("sink bug")

    loop.submit("c", InfillRequest("1", "x", "y", stream=True), broken_sink)
    sink = Collector()
    loop.submit("c", InfillRequest("2", "x", "y"), sink)
    assert isinstance(sink.final(), InfillResult)


def test_status_answers_with_the_asked_id(loop: EngineLoop) -> None:
    sink = Collector()
    loop.submit("c", InfillRequest("1", "x", "y"), sink)
    sink.final()
    reply = loop.status("77").result(WAIT_S)
    assert reply.request_id == "77"
    assert reply.model_name == "fake-model"
    assert reply.completed == 1


def test_idle_loop_sleeps(loop: EngineLoop, core: FakeCore) -> None:
    sink = Collector()
    loop.submit("c", InfillRequest("1", "x", "y"), sink)
    sink.final()
    wait_until(lambda: core.active == 0)
    time.sleep(0.05)
    steps, polls = core.steps_run, core.has_work_calls
    time.sleep(0.3)
    assert core.steps_run == steps
    assert core.has_work_calls - polls <= 2  # a busy loop would poll thousands of times


def test_submissions_from_many_threads(loop: EngineLoop) -> None:
    sinks: dict[tuple[int, int], Collector] = {}
    lock = threading.Lock()

    def submit_many(owner: int) -> None:
        for i in range(25):
            sink = Collector()
            with lock:
                sinks[(owner, i)] = sink
            loop.submit(owner, InfillRequest(f"{owner}-{i}", f"owner{owner}-req{i}", "s"), sink)

    threads = [threading.Thread(target=submit_many, args=(owner,)) for owner in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert len(sinks) == 200
    for (owner, i), sink in sinks.items():
        result = sink.final()
        assert isinstance(result, InfillResult) and result.request_id == f"{owner}-{i}"
        assert f"req{i}"[-6:] in result.candidates[0].text


def test_close_fails_requests_in_flight_and_later_submissions(core: FakeCore) -> None:
    core.default_steps = 1_000_000
    core.step_delay = 0.001
    loop = EngineLoop(core)
    loop.start()
    running = Collector()
    loop.submit("c", InfillRequest("1", "x", "y"), running)
    wait_until(lambda: core.steps_run > 0)
    loop.close(timeout=WAIT_S)
    error = running.final()
    assert isinstance(error, ErrorReply) and error.code == ErrorCode.SHUTTING_DOWN
    assert not loop.running
    late = Collector()
    loop.submit("c", InfillRequest("2", "x", "y"), late)
    late_error = late.final()
    assert isinstance(late_error, ErrorReply) and late_error.code == ErrorCode.SHUTTING_DOWN
    with pytest.raises(LoopClosed):
        loop.status("1").result(WAIT_S)


# ---- the in-process client ----------------------------------------------------------------------


@pytest.fixture
async def inproc():
    cores: list[FakeCore] = []

    def factory() -> FakeCore:
        cores.append(FakeCore(steps=3))
        return cores[-1]

    client = InprocEngineClient(factory, request_timeout=WAIT_S)
    welcome = await client.start()
    assert welcome.model_name == "fake-model"
    client.core = cores[0]  # type: ignore[attr-defined]
    yield client
    await client.close()


async def test_inproc_infill_with_partials(inproc: InprocEngineClient) -> None:
    partials: list[Partial] = []
    request = InfillRequest("9", "for i in ", ":\n", stream=True)
    result = await inproc.infill(request, on_partial=partials.append)
    assert result.request_id == "9"
    assert result.candidates[0].text == fill_text(request)
    assert [p.step for p in partials] == [1, 2]
    assert all(p.request_id == "9" for p in partials)
    assert inproc.alive


async def test_inproc_concurrent_requests(inproc: InprocEngineClient) -> None:
    requests = [InfillRequest(str(i), f"p{i:03d}", f"s{i}") for i in range(50)]
    results = await asyncio.gather(*(inproc.infill(r) for r in requests))
    for request, result in zip(requests, results, strict=True):
        assert result.request_id == request.request_id
        assert result.candidates[0].text == fill_text(request)


async def test_inproc_bad_request_raises_engine_error(inproc: InprocEngineClient) -> None:
    with pytest.raises(EngineError) as info:
        await inproc.infill(InfillRequest("1", "x", "y", max_steps=-1))
    assert info.value.code == ErrorCode.BAD_REQUEST


async def test_inproc_cancel(inproc: InprocEngineClient) -> None:
    inproc.core.step_delay = 0.001  # type: ignore[attr-defined]
    started = asyncio.Event()
    task = asyncio.create_task(
        inproc.infill(
            InfillRequest("4", "x", "y", max_steps=1_000_000, stream=True), on_partial=lambda p: started.set()
        )
    )
    await asyncio.wait_for(started.wait(), WAIT_S)
    await inproc.cancel("4")
    result = await asyncio.wait_for(task, WAIT_S)
    assert result.finish_reason == FinishReason.CANCELLED


async def test_inproc_timeout_raises_unavailable_and_frees_the_slot(inproc: InprocEngineClient) -> None:
    inproc.core.step_delay = 0.001  # type: ignore[attr-defined]
    with pytest.raises(EngineUnavailable):
        await inproc.infill(InfillRequest("4", "x", "y", max_steps=1_000_000), timeout=0.05)
    await asyncio.to_thread(wait_until, lambda: inproc.core.active == 0)  # type: ignore[attr-defined]
    # the id is free again
    assert (await inproc.infill(InfillRequest("4", "x", "y"))).request_id == "4"


async def test_inproc_task_cancellation_cancels_in_the_core(inproc: InprocEngineClient) -> None:
    inproc.core.step_delay = 0.001  # type: ignore[attr-defined]
    task = asyncio.create_task(inproc.infill(InfillRequest("4", "x", "y", max_steps=1_000_000)))
    await asyncio.to_thread(wait_until, lambda: inproc.core.active == 1)  # type: ignore[attr-defined]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(wait_until, lambda: inproc.core.active == 0)  # type: ignore[attr-defined]


async def test_inproc_status(inproc: InprocEngineClient) -> None:
    await inproc.infill(InfillRequest("1", "x", "y"))
    status = await inproc.status()
    assert status.completed == 1 and status.model_name == "fake-model"


async def test_inproc_close_fails_pending_and_later_calls(inproc: InprocEngineClient) -> None:
    inproc.core.step_delay = 0.001  # type: ignore[attr-defined]
    task = asyncio.create_task(inproc.infill(InfillRequest("1", "x", "y", max_steps=1_000_000)))
    await asyncio.to_thread(wait_until, lambda: inproc.core.active == 1)  # type: ignore[attr-defined]
    await inproc.close()
    with pytest.raises((EngineUnavailable, EngineError)):
        await asyncio.wait_for(task, WAIT_S)
    assert not inproc.alive
    with pytest.raises(EngineUnavailable):
        await inproc.infill(InfillRequest("2", "x", "y"))


def test_a_burst_faster_than_the_core_is_answered_busy_instead_of_queued_without_bound() -> None:
    gate = threading.Event()

    class SlowCore(FakeCore):
        def step(self):
            gate.wait(WAIT_S)  # the first step holds the loop while the burst arrives
            return super().step()

    with EngineLoop(SlowCore(steps=1), max_pending=50) as engine_loop:
        sinks = [Collector() for _ in range(2000)]
        for i, sink in enumerate(sinks):
            engine_loop.submit("burst", InfillRequest(str(i), "x = ", "\n"), sink)
        busy = [s for s in sinks if s.done.is_set()]
        # At most max_pending wait while the step holds the loop, and at most as many went in before it.
        assert len(busy) >= 2000 - 2 * 50
        assert all(isinstance(s.final(), ErrorReply) and s.final().code == ErrorCode.OVERLOADED for s in busy)
        gate.set()
        answered = [s.final() for s in sinks if s not in busy]
        assert answered and all(isinstance(m, InfillResult | ErrorReply) for m in answered)
        assert engine_loop.refused_busy == len(busy)
