"""A FakeCore that writes down every request it is given and how each one ended (tests only).

Select it with ``python -m engine --core-factory journal_core:make_core``; the journal is the file
``$FAKE_CORE_JOURNAL``, one JSON object a line: ``{"event": "add", "id", "warm", "prefix", "suffix",
"context", "canvas", "n"}`` when a request arrives, ``{"event": "end", "id", "reason", "text"}`` when it
ends. Like the real core, a warm-up request (``warm``) ends after one step with no candidates. A request
whose prefix holds ``HOLD_MARKER`` never ends on its own: it waits for a cancel.
"""

from __future__ import annotations

import json
import os
import threading

import msgspec
from fake_core import FakeCore

from engine.protocol import ErrorReply, FinishReason, InfillRequest, InfillResult, Partial

HOLD_MARKER = "<<hold>>"


class JournalCore(FakeCore):
    def __init__(self, journal: str, **options: float) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.journal = journal
        self._write_lock = threading.Lock()

    def _write(self, entry: dict[str, object]) -> None:
        with self._write_lock, open(self.journal, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    def add(self, request: InfillRequest) -> None:
        held = HOLD_MARKER in request.prefix
        super().add(
            msgspec.structs.replace(request, max_steps=1 if request.warm else (1 << 30 if held else 0))
        )
        self._write(
            {
                "event": "add",
                "id": request.request_id,
                "warm": request.warm,
                "prefix": request.prefix,
                "suffix": request.suffix,
                "context": request.context,
                "canvas": list(request.canvas_lengths),
                "n": request.num_candidates,
            }
        )

    def step(self) -> list[Partial | InfillResult | ErrorReply]:
        with self._lock:
            warm = {rid for rid, job in self._jobs.items() if job.request.warm and not job.cancelled}
        out: list[Partial | InfillResult | ErrorReply] = []
        for message in super().step():
            if isinstance(message, InfillResult) and message.request_id in warm:
                message = InfillResult(message.request_id, (), FinishReason.CONVERGED, steps=message.steps)
            if isinstance(message, InfillResult):
                self._write(
                    {
                        "event": "end",
                        "id": message.request_id,
                        "reason": FinishReason(message.finish_reason).name,
                        "text": message.candidates[0].text if message.candidates else None,
                    }
                )
            out.append(message)
        return out


def make_core(model_dir: str | None = None, **_: object) -> JournalCore:
    """Steps of 10 ms (a held request must not spin a core), 3 of them a fill; ``$FAKE_CORE_BRACKETS``
    (default ``[]``) encloses the answer's tag (``fake_core.fill_text``)."""
    core = JournalCore(os.environ["FAKE_CORE_JOURNAL"], steps=3, step_delay=0.01)
    core.brackets = os.environ.get("FAKE_CORE_BRACKETS", core.brackets)
    return core
