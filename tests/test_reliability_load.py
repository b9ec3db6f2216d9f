"""Load: N simulated editors typing and asking for completions against one engine.

The short form runs in the normal suite (16 socket clients for a few seconds on a FakeCore engine
process, and a tiny real model for the KV cache budget). The long soak is ``python scripts/soak.py``
(real language-server processes through infill_tools.loadgen); CI does not run it.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from pathlib import Path

import pytest
import soak
from reliability_support import (
    PYTHONPATH,
    WAIT_S,
    EngineProcess,
    percentiles,
    record,
    rss_kib,
    short_socket_dir,
    wait_until,
)

from engine.clients.interface import EngineError, EngineUnavailable
from engine.clients.unix_socket import SocketEngineClient
from engine.protocol import ErrorReply, FinishReason, InfillRequest, InfillResult

EDITORS = int(os.environ.get("INFILL_LOAD_EDITORS", "16"))
SECONDS = float(os.environ.get("INFILL_LOAD_SECONDS", soak.cases(fast=3, soak=30)))


class CountingClient(SocketEngineClient):
    """Counts every final answer (result or error) per wire id as it comes off the socket."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.final_answers: collections.Counter[int] = collections.Counter()
        resolve = self._pending.resolve

        def counting(message) -> None:
            if isinstance(message, InfillResult | ErrorReply) and message.request_id:
                self.final_answers[message.request_id] += 1
            resolve(message)

        self._pending.resolve = counting  # type: ignore[method-assign]


async def editor(index: int, socket_path: Path, until: float, stats: dict) -> CountingClient:
    """Types into one document: each keystroke supersedes (cancels) the request before it."""
    rng = random.Random(index)
    client = CountingClient(socket_path, request_timeout=WAIT_S)
    await client.start()
    text = f"def handler_{index}(event):\n    "
    in_flight: asyncio.Task | None = None
    request_id = 0
    while time.monotonic() < until:
        text += rng.choice("abcdefghij (),.=\n")
        request_id += 1
        if in_flight is not None and not in_flight.done() and rng.random() < 0.7:
            await client.cancel(f"e{index}-{request_id - 1}")  # the user typed on: the old fill is stale
        request = InfillRequest(f"e{index}-{request_id}", text[-300:], "\n", document_key=f"doc{index}",
                                max_steps=rng.randint(1, 6), stream=rng.random() < 0.3)  # fmt: skip
        in_flight = asyncio.ensure_future(_timed(client, request, stats))
        stats["sent"] += 1
        await asyncio.sleep(rng.uniform(0.02, 0.12))  # typing speed
    if in_flight is not None:
        await asyncio.wait_for(asyncio.shield(in_flight), WAIT_S)
    await asyncio.sleep(0)
    return client


async def _timed(client: SocketEngineClient, request: InfillRequest, stats: dict) -> None:
    began = time.perf_counter()
    try:
        result = await client.infill(request)
    except (EngineError, EngineUnavailable) as exc:
        stats["errors"].append(repr(exc))
        return
    elapsed = (time.perf_counter() - began) * 1000
    if result.finish_reason == FinishReason.CANCELLED:
        stats["cancelled"] += 1
    else:
        stats["latencies_ms"].append(elapsed)


@soak.mark
async def test_sixteen_editors_typing_against_one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)
    stats = {"sent": 0, "cancelled": 0, "latencies_ms": [], "errors": []}
    with short_socket_dir() as socket_path:
        engine = EngineProcess(socket_path, core="fake_core:slow_core").start()
        try:
            await engine.wait_listening()
            watcher = SocketEngineClient(socket_path, request_timeout=WAIT_S)
            await watcher.start()
            rss_start = rss_kib(engine.pid)
            until = time.monotonic() + SECONDS
            tasks = [asyncio.ensure_future(editor(i, socket_path, until, stats)) for i in range(EDITORS)]
            rss_mid = 0
            while not all(t.done() for t in tasks):
                await asyncio.sleep(0.25)
                rss_mid = max(rss_mid, rss_kib(engine.pid))
            clients = await asyncio.wait_for(asyncio.gather(*tasks), SECONDS + WAIT_S)
            status = await watcher.status()
            for _ in range(200):  # cancelled work is freed: nothing active or queued once idle
                if status.active == 0 and status.queued == 0:
                    break
                await asyncio.sleep(0.02)
                status = await watcher.status()
            assert status.active == 0 and status.queued == 0, status
            answers = collections.Counter()
            for client in clients:
                answers.update(client.final_answers.values())
                assert len(client._pending) == 0  # nothing left waiting
                await client.close()
            rss_end = rss_kib(engine.pid)
            await watcher.close()
        finally:
            engine.stop()
    received = stats["cancelled"] + len(stats["latencies_ms"])
    assert not stats["errors"], stats["errors"][:5]
    assert received == stats["sent"], "a request was lost"
    assert set(answers) == {1}, f"answers per request: {dict(answers)}"  # exactly once each
    assert stats["cancelled"] > 0
    assert rss_end - rss_start < 50_000, (rss_start, rss_end)  # KiB: flat, no per-request growth
    figures = percentiles(stats["latencies_ms"])
    record(
        "load: editors typing against one engine (FakeCore, 20 ms steps)",
        editors=EDITORS,
        seconds=SECONDS,
        cases=stats["sent"],
        completed=len(stats["latencies_ms"]),
        cancelled=stats["cancelled"],
        lost=0,
        answered_twice=0,
        latency_ms=figures,
        engine_rss_kib={"start": rss_start, "peak": rss_mid, "end": rss_end},
        throughput_rps=round(stats["sent"] / SECONDS, 1),
    )


def test_kv_cache_budget_holds_under_many_documents(tiny_model_dir: Path) -> None:
    """A real (tiny) model: the per-document prompt cache stays within its byte budget (LRU)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores shared with other suites: OpenMP spin-waits crawl when contended
    try:
        _kv_budget_check(tiny_model_dir)
    finally:
        torch.set_num_threads(threads)


def _kv_budget_check(tiny_model_dir: Path) -> None:
    from engine.core.config import EngineConfig
    from engine.core.loading import load_core
    from engine.host.loop import EngineLoop

    budget = 320 * 1024  # a few documents' prompt caches, far fewer than 48
    core = load_core(tiny_model_dir, config=EngineConfig(kv_budget_bytes=budget, default_steps=2))
    rng = random.Random(3)
    peak_bytes, peak_entries, done = 0, 0, 0
    loop = EngineLoop(core)
    loop.start()
    try:
        outbox: list = []
        for wave in range(6):
            count = 8
            for i in range(count):
                doc = f"doc{wave * count + i}"
                prefix = "def f(x):\n    " + "".join(
                    rng.choice("abc xyz=+\n") for _ in range(rng.randint(50, 400))
                )
                loop.submit(
                    "load",
                    InfillRequest(wave * count + i, prefix, "\n", document_key=doc, max_steps=2),
                    outbox.append,
                )
            deadline = time.monotonic() + WAIT_S * 3
            while sum(isinstance(m, InfillResult | ErrorReply) for m in outbox) < (wave + 1) * count:
                assert time.monotonic() < deadline, "the tiny model did not answer in time"
                time.sleep(0.01)
                status = loop.status("0").result(WAIT_S)
                peak_bytes = max(peak_bytes, status.cache_bytes)
                peak_entries = max(peak_entries, status.cache_entries)
            status = loop.status("0").result(WAIT_S)
            assert status.cache_bytes <= budget, status
            assert status.active == 0 and status.queued == 0
        done = sum(isinstance(m, InfillResult) for m in outbox)
        assert not [m for m in outbox if isinstance(m, ErrorReply)]
    finally:
        loop.close()
    assert peak_bytes <= budget and core.kv_store.nbytes <= budget
    assert 1 < peak_entries < 48  # several kept, the older ones evicted
    record("KV cache budget under 48 documents (tiny model)", cases=48, answered=done, budget_bytes=budget,
           peak_cache_bytes=peak_bytes, peak_entries=peak_entries)  # fmt: skip


async def test_cancelled_work_is_freed_within_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of long requests cancelled at once: the engine's active count is 0 within a few steps."""
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)
    with short_socket_dir() as socket_path:
        engine = EngineProcess(socket_path).start()
        try:
            await engine.wait_listening()
            client = SocketEngineClient(socket_path, request_timeout=WAIT_S)
            await client.start()
            tasks = [asyncio.ensure_future(client.infill(InfillRequest(str(i), "x", "y", max_steps=100_000)))
                     for i in range(64)]  # fmt: skip
            await wait_until(lambda: True)
            for _ in range(100):
                if (await client.status()).active == 64:
                    break
                await asyncio.sleep(0.02)
            began = time.perf_counter()
            for i in range(64):
                await client.cancel(str(i))
            results = await asyncio.wait_for(asyncio.gather(*tasks), WAIT_S)
            assert all(r.finish_reason == FinishReason.CANCELLED for r in results)
            status = await client.status()
            freed_ms = (time.perf_counter() - began) * 1000
            assert status.active == 0
            await client.close()
        finally:
            engine.stop()
    record("cancel 64 long requests at once", cases=64, freed_ms=round(freed_ms, 1))
