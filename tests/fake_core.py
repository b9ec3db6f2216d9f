"""A deterministic stand-in for engine.core.engine_core.EngineCore, for tests only (no model, no torch).

A request finishes after ``max_steps`` steps (or the core's default) with the text ``fill_text(request)`` (a
request with a draft: the draft, kept);
with ``stream`` each earlier step yields a Partial holding a growing prefix of that text. Markers in a
request's prefix make the core misbehave on purpose: ``RAISE_MARKER`` makes ``step()`` raise, and
``DROP_MARKER`` makes the core forget the request without answering.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from msgspec.structs import replace

from engine.protocol import (
    PROTOCOL_VERSION,
    Candidate,
    ErrorCode,
    ErrorReply,
    FinishReason,
    InfillRequest,
    InfillResult,
    Partial,
    StatusReply,
    Welcome,
)

RAISE_MARKER = "<<fake-core:raise>>"
DROP_MARKER = "<<fake-core:drop>>"


def fill_text(request: InfillRequest, brackets: str = "[]") -> str:
    """The fake core's answer: the pinned text, then a tag naming the end of the prefix and start of the suffix.

    ``brackets`` enclose the tag: ``[]`` (the default) makes a Python list; ``<>`` makes a tag whose first
    line no bracket check refuses, for holes without a grammar (``FakeCore.brackets``).
    """
    return f"{request.pinned}{brackets[0]}{request.prefix[-6:]}|{request.suffix[:6]}{brackets[1]}"


@dataclass(slots=True)
class _Job:
    request: InfillRequest
    budget: int
    steps: int = 0
    cancelled: bool = False


class FakeCore:
    """Duck-types EngineCore; only the engine loop thread calls it, but counters are safe to read."""

    brackets = "[]"  # what encloses the answer's tag (``fill_text``)

    def __init__(
        self,
        *,
        steps: int = 3,
        step_delay: float = 0.0,
        max_queued: int = 10_000,
        model_name: str = "fake-model",
    ) -> None:
        self.welcome = Welcome(PROTOCOL_VERSION, model_name, "cpu", "fake", trained=False)
        self.default_steps = steps
        self.max_queued = max_queued
        self.step_delay = step_delay
        self.steps_run = 0
        self.has_work_calls = 0
        self.completed = 0
        self.warmed = 0
        self.cancelled_ids: list[int] = []
        self.added_ids: list[int] = []
        self.added_clients: list[str] = []  # each added request's ``client``, in order
        self._jobs: dict[int, _Job] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._jobs)

    def add(self, request: InfillRequest) -> None:
        if request.num_candidates < 1:
            raise ValueError(f"num_candidates must be at least 1, got {request.num_candidates}")
        if request.max_steps < 0:
            raise ValueError(f"max_steps must not be negative, got {request.max_steps}")
        with self._lock:
            if request.request_id in self._jobs:
                raise ValueError(f"request id {request.request_id} is already active")
            if len(self._jobs) >= self.max_queued:
                raise OverflowError("engine queue is full")
            self._jobs[request.request_id] = _Job(request, request.max_steps or self.default_steps)
            self.added_ids.append(request.request_id)
            self.added_clients.append(request.client)

    def cancel(self, request_id: int) -> None:
        with self._lock:
            job = self._jobs.get(request_id)
            if job is not None:
                job.cancelled = True

    def has_work(self) -> bool:
        self.has_work_calls += 1
        with self._lock:
            return bool(self._jobs)

    def step(self) -> list[Partial | InfillResult | ErrorReply]:
        if self.step_delay:
            time.sleep(self.step_delay)
        self.steps_run += 1
        out: list[Partial | InfillResult | ErrorReply] = []
        with self._lock:
            for request_id, job in list(self._jobs.items()):
                request = job.request
                if job.cancelled:
                    del self._jobs[request_id]
                    self.cancelled_ids.append(request_id)
                    out.append(InfillResult(request_id, (), FinishReason.CANCELLED, steps=job.steps))
                    continue
                if RAISE_MARKER in request.prefix:
                    raise RuntimeError("fake step failure")
                if DROP_MARKER in request.prefix:
                    del self._jobs[request_id]
                    continue
                if request.warm:  # a warm-up only encodes its prompt: no candidates
                    del self._jobs[request_id]
                    self.warmed += 1
                    out.append(InfillResult(request_id, (), FinishReason.CONVERGED))
                    continue
                job.steps += 1
                text = request.draft or fill_text(request, self.brackets)  # a draft is kept as it is
                if job.steps >= job.budget:
                    del self._jobs[request_id]
                    self.completed += 1
                    candidates = tuple(
                        Candidate(
                            text if i == 0 else f"{text}#{i}", confidence=1.0 - 0.1 * i, tokens=len(text)
                        )
                        for i in range(request.num_candidates)
                    )
                    out.append(
                        InfillResult(
                            request_id,
                            candidates,
                            FinishReason.CONVERGED,
                            steps=job.steps,
                            forward_passes=job.steps,
                        )
                    )
                elif request.stream:
                    shown = max(len(request.pinned), len(text) * job.steps // job.budget)
                    out.append(Partial(request_id, text[:shown], job.steps))
        return out

    def fail_all(self, message: str) -> list[Partial | InfillResult | ErrorReply]:
        with self._lock:
            out: list[Partial | InfillResult | ErrorReply] = [
                ErrorReply(rid, ErrorCode.INTERNAL, message) for rid in self._jobs
            ]
            self._jobs.clear()
        return out

    def status(self, request_id: int) -> StatusReply:
        with self._lock:
            active = len(self._jobs)
        return StatusReply(
            request_id,
            self.welcome.model_name,
            self.welcome.device,
            self.welcome.backend,
            active=active,
            completed=self.completed,
        )


# ---- factories for `python -m engine --core-factory fake_core:NAME` (test-only) ----------------


def make_core(model_dir: str | None = None, **_: object) -> FakeCore:
    return FakeCore(steps=int(os.environ.get("FAKE_CORE_STEPS", "3")))


def slow_core(model_dir: str | None = None, **_: object) -> FakeCore:
    """A core whose steps take 20 ms, so a test can act while a long request runs."""
    return FakeCore(steps=int(os.environ.get("FAKE_CORE_STEPS", "3")), step_delay=0.02)


def broken_core(model_dir: str | None = None, **_: object) -> FakeCore:
    raise RuntimeError("fake core failed to load: no such model")


class PidCore(FakeCore):
    """A FakeCore whose fills end with ``@PID``: which process (which Ray Serve replica) answered."""

    def step(self) -> list[Partial | InfillResult | ErrorReply]:
        out = super().step()
        tag = f"@{os.getpid()}"
        return [
            replace(m, candidates=tuple(replace(c, text=c.text + tag) for c in m.candidates))
            if isinstance(m, InfillResult)
            else m
            for m in out
        ]


def pid_core(model_dir: str | None = None, **_: object) -> FakeCore:
    """PidCore with 20 ms steps (``FAKE_CORE_STEPS`` of them): long enough to be caught in flight."""
    return PidCore(steps=int(os.environ.get("FAKE_CORE_STEPS", "3")), step_delay=0.02)
