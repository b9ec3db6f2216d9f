"""The next edits a session offered: which were shown, accepted or let go, so one the user turned down is
not offered again.

A suggestion is known by what it changes (its document, the text it replaces with its line around it, and
the new text), not by where it stands, so the same suggestion a few lines further down after an edit above
is still the one the user turned down. One shown and then passed over (another request came for its
document before it was accepted) counts as dismissed, as does one an editor dismisses explicitly.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_OFFERS = 64  # offers remembered until accepted or let go
MAX_DISMISSED = 512  # suggestions the user turned down, remembered (oldest forgotten first)


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    uri: str
    key: tuple[str, str, str, str]
    shown: bool = False


def suggestion_key(uri: str, text: str, start: int, end: int, new_text: str) -> tuple[str, str, str, str]:
    """What a suggestion changes: its document, the replaced text with its line, and the new text."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return uri, text[line_start : line_end if line_end >= 0 else len(text)], text[start:end], new_text


@dataclass(slots=True)
class OfferBook:
    offers: OrderedDict[str, Offer] = field(default_factory=OrderedDict)
    dismissed: OrderedDict[tuple[str, str, str, str], None] = field(default_factory=OrderedDict)
    # "inline": offers made as inline completions (the rest went out as copilotInlineEdit answers)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("asked", "offered", "inline", "shown", "accepted", "dismissed", "quiet", "stale"), 0))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def was_dismissed(self, key: tuple[str, str, str, str]) -> bool:
        return key in self.dismissed

    def offer(self, uri: str, key: tuple[str, str, str, str]) -> Offer:
        offer = Offer(f"nes-{next(self._ids)}", uri, key)
        self.offers[offer.id] = offer
        while len(self.offers) > MAX_OFFERS:
            self.offers.popitem(last=False)
        self.counters["offered"] += 1
        return offer

    def shown(self, offer_id: str) -> None:
        offer = self.offers.get(offer_id)
        if offer is not None and not offer.shown:
            self.offers[offer_id] = Offer(offer.id, offer.uri, offer.key, shown=True)
            self.counters["shown"] += 1

    def accepted(self, offer_id: str) -> bool:
        if self.offers.pop(offer_id, None) is None:
            return False
        self.counters["accepted"] += 1
        return True

    def dismiss(self, offer_id: str) -> bool:
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return False
        self._forget(offer)
        return True

    def passed_over(self, uri: str) -> None:
        """A new request for ``uri``: its shown offers that were not accepted were turned down; its others
        were never seen and are simply dropped."""
        for offer in [o for o in self.offers.values() if o.uri == uri]:
            del self.offers[offer.id]
            if offer.shown:
                self._forget(offer)

    def _forget(self, offer: Offer) -> None:
        self.dismissed[offer.key] = None
        self.dismissed.move_to_end(offer.key)
        while len(self.dismissed) > MAX_DISMISSED:
            self.dismissed.popitem(last=False)
        self.counters["dismissed"] += 1
