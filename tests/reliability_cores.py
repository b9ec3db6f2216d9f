"""Engine cores for the reliability tests, for ``python -m engine --core-factory reliability_cores:NAME``.

``FillCore`` is FakeCore whose results carry a fill that parses in the request's language (so a batch
run over it writes files); its step time comes from ``RELIABILITY_STEP_MS`` (default 5 ms).
"""

from __future__ import annotations

import os

import msgspec
from fake_core import FakeCore

from engine.protocol import Candidate, InfillRequest, InfillResult

FILLS = {"python": "return 42", "rust": "42", "go": "return 42", "javascript": "return 42;"}


class FillCore(FakeCore):
    """A FakeCore whose results are parseable fills, chosen by the request's language."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._languages: dict[int, str] = {}

    def add(self, request: InfillRequest) -> None:
        super().add(request)
        self._languages[request.request_id] = request.language

    def step(self):
        out = []
        for message in super().step():
            if isinstance(message, InfillResult) and message.candidates:
                text = FILLS.get(self._languages.get(message.request_id, ""), "pass")
                message = msgspec.structs.replace(message, candidates=(Candidate(text, 0.9, 3, 64),))
            out.append(message)
            if isinstance(message, InfillResult):
                self._languages.pop(message.request_id, None)
        return out


def fill_core(model_dir: str | None = None, **_: object) -> FillCore:
    step_s = float(os.environ.get("RELIABILITY_STEP_MS", "5")) / 1000
    return FillCore(steps=int(os.environ.get("FAKE_CORE_STEPS", "3")), step_delay=step_s)
