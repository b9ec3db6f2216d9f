"""Typing tempo per document: an EWMA of inter-keystroke intervals, turned into a debounce delay.

Pure (the clock is passed in). A fast typist gets a short debounce, a slow one a longer one, always
within the configured bounds; pauses longer than ``PAUSE_S`` are not typing and are not averaged.
"""

from __future__ import annotations

PAUSE_S = 1.0
ALPHA = 0.3  # weight of the newest interval
FACTOR = 0.8  # debounce as a share of the typical interval: wait about as long as the next key takes


class TypingTempo:
    """Keystroke times in, debounce delays out."""

    def __init__(self, *, alpha: float = ALPHA, pause_s: float = PAUSE_S) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        self.alpha = alpha
        self.pause_s = pause_s
        self._last: dict[str, float] = {}
        self._interval: dict[str, float] = {}  # seconds

    def keystroke(self, uri: str, now: float) -> None:
        """Record a change to ``uri`` at time ``now`` (seconds)."""
        last = self._last.get(uri)
        self._last[uri] = now
        if last is None or not 0 <= now - last <= self.pause_s:
            return
        gap = now - last
        previous = self._interval.get(uri)
        self._interval[uri] = gap if previous is None else self.alpha * gap + (1 - self.alpha) * previous

    def interval_ms(self, uri: str) -> float | None:
        """The typical interval between keystrokes in ``uri``; None until two keystrokes were seen."""
        interval = self._interval.get(uri)
        return None if interval is None else interval * 1000

    def debounce_ms(self, uri: str, *, initial: int, low: int, high: int) -> float:
        """The delay before asking the engine: ``initial`` until the tempo is known, 0 when off."""
        if initial == 0:
            return 0.0
        interval = self.interval_ms(uri)
        if interval is None:
            return float(initial)
        return min(float(high), max(float(low), interval * FACTOR))

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)
        self._interval.pop(uri, None)
