"""Driving an engine through the planned waves: many requests in flight at once, results as they come.

A ``WaveRunner`` sends one wave of requests and reports each answer; the local one submits the whole
wave concurrently to one EngineClient (the engine's step-level batching puts every canvas of the wave
into the same forward passes), the Ray one (``ray_pool``) hands waves to actors. ``drive`` runs the
waves, stops cleanly when asked, and never waits without a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.clients.interface import EngineClient, EngineError, EngineUnavailable
from engine.protocol import FinishReason, InfillRequest, InfillResult, Welcome
from infill_lsp.batch.planning import PlannedHole

Answer = InfillResult | Exception
OnAnswer = Callable[[int, Answer], None]  # (index in the wave, answer)


class WaveRunner(Protocol):
    """Sends a wave of requests and calls ``on_answer`` once per request, in any order."""

    slots: int  # how many waves it can run at once
    welcome: Welcome | None  # the engine's handshake: the prompt budgets requests are fitted to (None: unknown)

    async def run_wave(self, requests: Sequence[InfillRequest], on_answer: OnAnswer) -> None: ...


@dataclass(slots=True)
class LocalWaveRunner:
    """Runs a wave on one EngineClient (in-process or over a socket), every request concurrently."""

    client: EngineClient
    timeout: float = 300.0
    slots: int = 1
    welcome: Welcome | None = None

    async def run_wave(self, requests: Sequence[InfillRequest], on_answer: OnAnswer) -> None:
        async def one(index: int, request: InfillRequest) -> None:
            try:
                answer: Answer = await self.client.infill(request, timeout=self.timeout)
            except (EngineError, EngineUnavailable, TimeoutError) as exc:
                answer = exc
            on_answer(index, answer)

        tasks = [asyncio.ensure_future(one(i, r)) for i, r in enumerate(requests)]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for request in requests:
                await self.client.cancel(request.request_id)
            raise


async def drive(
    wave_list: list[list[PlannedHole]],
    runner: WaveRunner,
    on_answer: Callable[[PlannedHole, Answer], None],
    stop: asyncio.Event,
) -> bool:
    """Run every wave (``runner.slots`` at a time); return False when ``stop`` cut the run short.

    On stop, waves not started are dropped and waves in flight are cancelled; answers already
    delivered stay delivered, so the journal holds every hole that finished.
    """
    queue = list(reversed(wave_list))
    running: set[asyncio.Task[None]] = set()

    def start_next() -> None:
        wave = queue.pop()
        requests = [p.request for p in wave]
        task = asyncio.ensure_future(runner.run_wave(requests, lambda i, a, w=wave: on_answer(w[i], a)))
        running.add(task)

    stopper = asyncio.ensure_future(stop.wait())
    try:
        while queue or running:
            while queue and len(running) < runner.slots and not stop.is_set():
                start_next()
            if stop.is_set() or not running:
                break
            done, _ = await asyncio.wait({*running, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopper}:
                running.discard(task)
                task.result()  # a runner bug surfaces here; engine errors arrive as answers
        return not stop.is_set() and not queue
    finally:
        stopper.cancel()
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class BenchFigures:
    holes: int
    batch_seconds: float
    serial_seconds: float

    @property
    def batch_rate(self) -> float:
        return self.holes / self.batch_seconds if self.batch_seconds else 0.0

    @property
    def serial_rate(self) -> float:
        return self.holes / self.serial_seconds if self.serial_seconds else 0.0

    @property
    def speedup(self) -> float:
        return self.batch_rate / self.serial_rate if self.serial_rate else 0.0

    def describe(self) -> str:
        return (
            f"batch:  {self.batch_rate:8.2f} holes/s ({self.holes} holes in {self.batch_seconds:.2f} s)\n"
            f"serial: {self.serial_rate:8.2f} holes/s ({self.holes} holes in {self.serial_seconds:.2f} s)\n"
            f"ratio:  {self.speedup:8.2f}x"
        )


async def bench(
    client: EngineClient, wave_list: list[list[PlannedHole]], timeout: float = 300.0
) -> BenchFigures:
    """Time the same holes through the same engine: waves of concurrent requests, then one at a time."""
    holes = [p for wave in wave_list for p in wave]
    if not holes:
        return BenchFigures(0, 0.0, 0.0)
    await client.infill(holes[0].request, timeout=timeout)  # warm-up: first-call costs count for neither
    runner = LocalWaveRunner(client, timeout)
    started = time.perf_counter()
    await drive(wave_list, runner, lambda _p, _a: None, asyncio.Event())
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for planned in holes:
        try:
            await client.infill(planned.request, timeout=timeout)
        except (EngineError, EngineUnavailable, TimeoutError):
            pass
    serial_seconds = time.perf_counter() - started
    return BenchFigures(len(holes), batch_seconds, serial_seconds)


def answer_text(answer: Answer) -> tuple[str, float, int, str]:
    """(fill, confidence, steps, error) of an engine answer; error is empty when there is a fill."""
    if isinstance(answer, Exception):
        return "", 0.0, 0, f"{type(answer).__name__}: {answer}"
    if answer.finish_reason in (FinishReason.CANCELLED, FinishReason.ERROR):
        return "", 0.0, answer.steps, FinishReason(answer.finish_reason).name.lower()
    best = answer.candidates[0] if answer.candidates else None
    return (best.text if best else ""), (best.confidence if best else 0.0), answer.steps, ""
