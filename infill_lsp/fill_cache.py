"""Recent fills by context, and forwarding: typing the start of a shown fill serves the rest at once.

Pure (no IO, no clock). An entry remembers the text around the cursor its fills were made for; a
lookup at a later cursor matches when the text before the old cursor and after the new one is
unchanged and what was typed in between is the start of a fill: the rest of that fill is served
without asking the engine again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from infill_lsp.fill import Fill

AUTOMATIC = "automatic"
INVOKED = "invoked"


def forward_fill(fill: Fill, typed: str) -> Fill | None:
    """The rest of ``fill`` once ``typed`` was typed; None when ``typed`` does not start it or ends it."""
    if not fill.text.startswith(typed) or len(typed) >= len(fill.text.rstrip()):
        return None
    return Fill(fill.text[len(typed) :], fill.replaces)


@dataclass(frozen=True, slots=True)
class _Entry:
    mode: str
    head_start: int  # document offset where ``head`` starts
    head: str  # the text before the cursor the fills were made at
    tail: str  # the text after that cursor
    fills: tuple[Fill, ...]

    @property
    def cursor(self) -> int:
        return self.head_start + len(self.head)


class FillCache:
    """Fills of recent requests, a few per document, the least recently used dropped first."""

    def __init__(self, capacity: int = 64, per_document: int = 8) -> None:
        self.capacity = capacity
        self.per_document = per_document
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._serial = 0
        self.hits = 0  # exact context hits
        self.forwarded = 0  # served by forwarding

    def store(
        self,
        uri: str,
        text: str,
        cursor: int,
        *,
        head_start: int,
        tail_end: int,
        mode: str,
        fills: list[Fill],
    ) -> None:
        """Remember ``fills`` for the cursor ``cursor`` of ``text`` (the context ``head_start:tail_end``)."""
        entry = _Entry(mode, head_start, text[head_start:cursor], text[cursor:tail_end], tuple(fills))
        self._serial += 1
        self._entries[(uri, self._serial)] = entry
        mine = [k for k in self._entries if k[0] == uri]
        for key in mine[: max(0, len(mine) - self.per_document)]:
            del self._entries[key]
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def lookup(self, uri: str, text: str, cursor: int, mode: str) -> list[Fill] | None:
        """Fills for ``cursor`` from an earlier request, forwarded past what was typed; None: a miss.

        An automatic request may be served by an invoked one's fills, not the other way round.
        """
        for key in reversed([k for k in self._entries if k[0] == uri]):
            entry = self._entries[key]
            if mode == INVOKED and entry.mode != INVOKED:
                continue
            old = entry.cursor
            if cursor < old or text[entry.head_start : old] != entry.head:
                continue
            if text[cursor : cursor + len(entry.tail)] != entry.tail:
                continue
            typed = text[old:cursor]
            if not typed:
                self.hits += 1
                self._entries.move_to_end(key)
                return list(entry.fills)
            forwarded = [f for fill in entry.fills if (f := forward_fill(fill, typed)) is not None]
            if forwarded:
                self.forwarded += 1
                self._entries.move_to_end(key)
                return forwarded
        return None

    def forget(self, uri: str) -> None:
        for key in [k for k in self._entries if k[0] == uri]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
