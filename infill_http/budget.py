"""One in-flight budget per client (``key:NAME``, or ``addr:IP`` without keys), shared by every HTTP endpoint
and every WebSocket the client opens: past ``limit`` requests in flight, the next is refused (HTTP 429,
WebSocket OVERLOADED) until one of them ends."""

from __future__ import annotations

import threading


class Ticket:
    """One admitted request's place in its client's budget; ``release()`` gives it back (once: later calls
    do nothing, so every end of a request — result, error, cancel, disconnect, timeout — may call it)."""

    __slots__ = ("_budget", "client", "_released")

    def __init__(self, budget: InFlightBudget, client: str) -> None:
        self._budget = budget
        self.client = client
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def transfer(self) -> Ticket:
        """A new ticket holding this one's place (for work that outlives the request that admitted it);
        this one is spent: its ``release()`` then does nothing."""
        with self._budget._lock:
            if self._released:
                raise RuntimeError("this ticket was already released")
            self._released = True
        return Ticket(self._budget, self.client)

    def release(self) -> None:
        with self._budget._lock:
            if self._released:
                return
            self._released = True
            self._budget._give_back(self.client)


class InFlightBudget:
    """Requests in flight per client, capped at ``limit``; safe to use from any thread."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the in-flight limit must be >= 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # only clients with requests in flight

    def admit(self, client: str) -> Ticket | None:
        """A ticket for one more request of ``client``, or None when it has ``limit`` in flight."""
        with self._lock:
            held = self._in_flight.get(client, 0)
            if held >= self.limit:
                return None
            self._in_flight[client] = held + 1
        return Ticket(self, client)

    def in_flight(self, client: str) -> int:
        with self._lock:
            return self._in_flight.get(client, 0)

    def _give_back(self, client: str) -> None:  # under the lock
        left = self._in_flight.get(client, 0) - 1
        if left > 0:
            self._in_flight[client] = left
        else:
            self._in_flight.pop(client, None)
