"""Typing tempo per document and the waiting policy that turns it into a debounce before asking the engine.

Pure (the clock is passed in). The tempo is an EWMA of the intervals between the user's own edits: an
interval counts only when no answer of ours went out between its two edits, so a client that sends its
next edit when our answer arrives (making that interval our latency) never feeds the tempo. Pauses
longer than ``PAUSE_S`` are not typing either.

Policies (``debounce_wait_ms``): ``none`` asks at once and relies on the next keystroke cancelling the
request (the engine frees its slot within one step and keeps the document's cache); ``fixed`` waits a
set time; ``adaptive`` waits a share of the user's typing interval, within bounds. Invoked requests
(the user asked) never wait, whatever the policy.
"""

from __future__ import annotations

PAUSE_S = 1.0
ALPHA = 0.3  # weight of the newest interval
FACTOR = 0.8  # debounce as a share of the typical interval: wait about as long as the next key takes
POLICIES = ("none", "fixed", "adaptive")


class TypingTempo:
    """Edit times and answer times in, the typical interval between the user's edits out."""

    def __init__(self, *, alpha: float = ALPHA, pause_s: float = PAUSE_S) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        self.alpha = alpha
        self.pause_s = pause_s
        self._last: dict[str, float] = {}
        self._interval: dict[str, float] = {}  # seconds
        self._answered: set[str] = set()  # documents answered since their last edit

    def keystroke(self, uri: str, now: float) -> None:
        """Record a change to ``uri`` at time ``now`` (seconds)."""
        last = self._last.get(uri)
        self._last[uri] = now
        if uri in self._answered:  # the user may have waited for our answer: not their tempo
            self._answered.discard(uri)
            return
        if last is None or not 0 <= now - last <= self.pause_s:
            return
        gap = now - last
        previous = self._interval.get(uri)
        self._interval[uri] = gap if previous is None else self.alpha * gap + (1 - self.alpha) * previous

    def answered(self, uri: str) -> None:
        """Record that an answer for ``uri`` went out: the interval up to the next edit is not counted."""
        self._answered.add(uri)

    def interval_ms(self, uri: str) -> float | None:
        """The typical interval between the user's edits of ``uri``; None until one was seen."""
        interval = self._interval.get(uri)
        return None if interval is None else interval * 1000

    def debounce_ms(self, uri: str, *, initial: int, low: int, high: int) -> float:
        """The adaptive delay: ``initial`` until the tempo is known, then a share of it within [low, high]."""
        if initial == 0:
            return 0.0
        interval = self.interval_ms(uri)
        if interval is None:
            return float(initial)
        return min(float(high), max(float(low), interval * FACTOR))

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)
        self._interval.pop(uri, None)
        self._answered.discard(uri)


def debounce_wait_ms(
    tempo: TypingTempo, uri: str, *, policy: str, invoked: bool, wait_ms: int, low: int, high: int
) -> float:
    """How long to wait before asking the engine; ``wait_ms`` 0 turns waiting off in every policy."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if invoked or policy == "none" or wait_ms == 0:
        return 0.0
    if policy == "fixed":
        return float(wait_ms)
    return tempo.debounce_ms(uri, initial=wait_ms, low=low, high=high)
