"""Typed text carried on the canvas: a keystroke's request reuses the document's encoded prompt whole.

A request whose prefix is its document's *anchor* (the prefix of the last request whose own prompt was
encoded) plus a few characters typed on the same line, with the anchor's suffix, context and language, is
given the anchor's prompt as it is; the typed text starts each canvas, fixed, where the denoiser reads it as
the beginning of the fill, as it reads the positions it decided itself. So the encoder has nothing to encode.
The typed text's last token is healed (``Carry``): it may end inside a word, which the model saw tokenized
whole in training, so the position after the fixed tokens takes any token beginning with that last piece.
No IO.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from engine.core.jobs import Carry
from engine.prompt.tokenizer import InfillTokenizer
from engine.protocol import InfillRequest

DOCUMENTS = 256  # documents whose anchor is kept


class Anchors:
    """Per document, the prefix, suffix, context and language of its last request whose prompt was encoded."""

    def __init__(self) -> None:
        self._anchors: OrderedDict[str, tuple[str, str, str, str]] = OrderedDict()

    def set(self, request: InfillRequest) -> None:
        """Make ``request``'s prompt the one its document's next requests may carry typed text after."""
        key = request.document_key
        self._anchors[key] = (request.prefix, request.suffix, request.context, request.language)
        self._anchors.move_to_end(key)
        while len(self._anchors) > DOCUMENTS:
            self._anchors.popitem(last=False)

    def typed(self, request: InfillRequest, limit: int) -> str:
        """The text typed after the document's anchor, when ``request`` may carry it ("" if not): the anchor's
        prefix plus at most ``limit`` characters of one line, with the anchor's suffix, context and language.
        A draft, a scoring, a warm-up, and a request pinning text of its own are encoded as sent."""
        if not limit or not request.document_key or request.draft or request.alternatives or request.warm \
                or request.score or request.pinned:
            return ""
        anchor = self._anchors.get(request.document_key)
        if anchor is None:
            return ""
        prefix, suffix, context, language = anchor
        if (len(request.prefix) <= len(prefix) or len(request.prefix) - len(prefix) > limit
                or (request.suffix, request.context, request.language) != (suffix, context, language)
                or not request.prefix.startswith(prefix)):
            return ""
        typed = request.prefix[len(prefix) :]
        return "" if "\n" in typed or "\r" in typed else typed


def carry_of(tokenizer: InfillTokenizer, typed: str) -> Carry | None:
    """How ``typed`` rides on a canvas: its tokens but the last fixed, the last healed; None where its tokens
    would not stand the same whatever follows (text that is not ASCII)."""
    if not typed or not typed.isascii():
        return None
    ids = tokenizer.encode(typed)
    healed = tokenizer.token_texts[ids[-1]] if ids else ""
    if not healed or not typed.endswith(healed):
        return None
    allowed = tokenizer.ids_starting_with(healed)
    if ids[-1] not in allowed:
        return None
    return Carry(ids[:-1], healed, torch.tensor(allowed, dtype=torch.long))
