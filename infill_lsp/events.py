"""What the user did with fills: a local JSON-lines log (never sent anywhere) and session statistics.

The log lives under the user's state folder (``$XDG_STATE_HOME/infill/events.jsonl``, by default
``~/.local/state/infill/events.jsonl``); when it grows past its cap it is rotated to ``events.jsonl.1``,
so it never holds more than twice the cap. It records sizes, never the text of a fill.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG_NAME = "events.jsonl"
DEFAULT_MAX_BYTES = 1_000_000
EVENT_KINDS = ("shown", "accepted", "dismissed")


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder infill keeps its state in, per the XDG base directory specification."""
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".local" / "state"
    return root / "infill"


class EventLog:
    """Appends events as JSON lines to a size-capped file; a log that cannot be written is turned off."""

    def __init__(self, path: Path | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.written = 0

    def write(self, kind: str, **fields: Any) -> None:
        if self.path is None:
            return
        line = json.dumps({"time": round(time.time(), 3), "event": kind, **fields}, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
            self.written += 1
        except OSError as exc:
            log.warning("event log %s turned off: %s", self.path, exc)
            self.path = None


@dataclass(slots=True)
class SessionStats:
    """Counts of this session's fills: shown, accepted (whole or in part), dismissed."""

    shown: int = 0
    accepted: int = 0
    partial: int = 0
    dismissed: int = 0
    accepted_chars: int = 0

    def record(self, kind: str, *, partial: bool = False, chars: int = 0) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"event must be one of {EVENT_KINDS}, got {kind!r}")
        if kind == "shown":
            self.shown += 1
        elif kind == "dismissed":
            self.dismissed += 1
        else:
            self.accepted += 1
            self.partial += partial
            self.accepted_chars += chars

    def summary(self) -> dict[str, Any]:
        decided = self.accepted + self.dismissed
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "partial_accepts": self.partial,
            "dismissed": self.dismissed,
            "accepted_chars": self.accepted_chars,
            "acceptance_rate": round(self.accepted / self.shown, 4) if self.shown else None,
            "accepted_of_decided": round(self.accepted / decided, 4) if decided else None,
        }
