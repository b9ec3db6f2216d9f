"""A scripted EngineClient for the language-server tests (test and development use only).

Select it with initializationOptions ``{"engine": {"mode": "factory", "factory":
"lsp_fake_engine:make_client"}}``. The fill is read from the request's prefix: the text after
the last ``FILL:`` marker up to the end of its line, with ``\\n`` standing for a newline (no marker:
``pass``). These fills make it misbehave on purpose instead:

- ``FILL: <<unavailable>>``: the request raises EngineUnavailable and the client dies;
- ``FILL: <<error>>``: the request raises EngineError (the request fails alone);
- ``FILL: <<hang>>``: the request waits until cancelled (then ends with a CANCELLED result) or timed out.

``FILL: a || b || c`` gives one candidate per alternative, up to the request's ``num_candidates``. A request
with a draft and no ``FILL:`` marker in its prefix gets its draft back (confidence 0.95): a model that keeps
every draft; one whose draft holds ``<<hang>>`` waits as ``FILL: <<hang>>`` does.
``status()`` reports ``active`` (requests waiting), ``completed`` (requests answered or cancelled), and
fixed cache counters (30 of 40 prompt tokens hit). With ``FAKE_ENGINE_LOG`` set, every request is
appended to that file as a JSON line. ``make_dead_client`` returns a client whose start always fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

from engine.clients.interface import EngineError, EngineUnavailable, OnPartial
from engine.protocol import (
    PROTOCOL_VERSION,
    Candidate,
    FinishReason,
    InfillRequest,
    InfillResult,
    StatusReply,
    Welcome,
    decode_client,
    encode,
)

FILL_MARKER = re.compile(r"FILL:(.*)$", re.MULTILINE)
UNAVAILABLE = "<<unavailable>>"
ERROR = "<<error>>"
HANG = "<<hang>>"


def scripted_fill(request: InfillRequest) -> str:
    """The fill for ``request``: its prefix's last ``FILL:`` text, ``\\n`` decoded."""
    matches = FILL_MARKER.findall(request.prefix)
    if not matches:
        return "pass"
    return matches[-1].strip().replace("\\n", "\n").replace("\\t", "\t")


def log_request(request: InfillRequest) -> None:
    path = os.environ.get("FAKE_ENGINE_LOG")
    if path:
        fields = (
            "prefix",
            "suffix",
            "max_steps",
            "num_candidates",
            "pinned",
            "single_line",
            "canvas_lengths",
            "context",
        )
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({k: getattr(request, k) for k in fields}) + "\n")


class FakeEngineClient:
    def __init__(self, *, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.started = False
        self.dead = False
        self.completed = 0
        self.requests: list[InfillRequest] = []
        self._waiting: dict[int, asyncio.Future[None]] = {}

    async def start(self) -> Welcome:
        if self.fail_start:
            raise EngineUnavailable("fake engine refuses to start")
        self.started = True
        return Welcome(PROTOCOL_VERSION, "fake-engine", "cpu", "fake", trained=False)

    @property
    def alive(self) -> bool:
        return self.started and not self.dead

    async def infill(
        self, request: InfillRequest, on_partial: OnPartial = None, timeout: float | None = None
    ) -> InfillResult:
        if not self.alive:
            raise EngineUnavailable("fake engine is not running")
        request = decode_client(encode(request)[4:])  # what crosses the socket to a real engine
        self.requests.append(request)
        log_request(request)
        script = scripted_fill(request)
        if request.draft and HANG in request.draft and not FILL_MARKER.search(request.prefix):
            script = HANG
        if script == UNAVAILABLE:
            self.dead = True
            raise EngineUnavailable("fake engine crashed")
        if script == ERROR:
            raise EngineError(1, "fake engine rejected the request")
        if script == HANG:
            waiter = self._waiting[request.request_id] = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                raise EngineUnavailable("fake engine timed out") from None
            finally:
                self._waiting.pop(request.request_id, None)
                self.completed += 1
            return InfillResult(request.request_id, (), FinishReason.CANCELLED)
        self.completed += 1
        if request.draft and not FILL_MARKER.search(request.prefix):  # a draft is kept, confidently
            return InfillResult(request.request_id, (Candidate(request.draft, confidence=0.95),),
                                FinishReason.CONVERGED, steps=3)
        candidates = []
        for text in script.split(" || ")[: max(1, request.num_candidates)]:
            text = text if text.startswith(request.pinned) else request.pinned + text
            candidates.append(Candidate(text, confidence=0.9))
        return InfillResult(request.request_id, tuple(candidates), FinishReason.CONVERGED, steps=3)

    async def cancel(self, request_id: int) -> None:
        waiter = self._waiting.get(request_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def status(self) -> StatusReply:
        return StatusReply(
            0,
            "fake-engine",
            "cpu",
            "fake",
            active=len(self._waiting),
            completed=self.completed,
            cache_hit_tokens=30,
            cache_lookup_tokens=40,
        )

    async def close(self) -> None:
        self.dead = True
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_result(None)


def make_client(settings: object) -> FakeEngineClient:
    return FakeEngineClient()


def make_dead_client(settings: object) -> FakeEngineClient:
    return FakeEngineClient(fail_start=True)
