"""The tokenizer of a model directory (``tokenizer.json``): code to ids, canvases back to text.

Code is encoded with special tokens taken as plain text, so a file that contains ``<fim_middle>`` or
``<|turn>`` cannot inject a control token into the prompt; prompt templates (``engine.prompt.formats``) are
encoded with them recognised.
"""

from __future__ import annotations

import bisect
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from engine.prompt.fim import SpecialIds


class InfillTokenizer:
    """Encode code to ids and canvases back to text."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.template_backend = tokenizer
        self.backend = Tokenizer.from_str(tokenizer.to_str())
        self.backend.encode_special_tokens = True
        self.vocab_size = tokenizer.get_vocab_size()

    @cached_property
    def special(self) -> SpecialIds:
        """The fill-in-the-middle special ids (the embedded model's layout); ValueError if it lacks them."""
        return SpecialIds.from_vocab(self.template_backend.token_to_id)

    def token_id(self, token: str) -> int | None:
        """The id of the single token ``token``, or None when the vocabulary lacks it."""
        return self.template_backend.token_to_id(token)

    def special_ids(self) -> set[int]:
        """Ids of the tokenizer's special (added, control) tokens."""
        return {i for i, added in self.template_backend.get_added_tokens_decoder().items() if added.special}

    def encode_template(self, text: str) -> list[int]:
        """The ids of template text, special tokens written in it recognised."""
        return self.template_backend.encode(text, add_special_tokens=False).ids if text else []

    @classmethod
    def from_file(cls, path: str | Path) -> InfillTokenizer:
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer at {path}")
        return cls(Tokenizer.from_file(str(path)))

    def encode(self, text: str) -> list[int]:
        """Return the ids of ``text`` with no special tokens added."""
        if not text:
            return []
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids for enc in self.backend.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        """Return the text of ``ids``, dropping special tokens."""
        return self.backend.decode(ids, skip_special_tokens=True)

    def chars_per_token(self, samples: list[str], chunk_chars: int = 1000, quantile: float = 0.1) -> float:
        """A low quantile of characters per token over ``chunk_chars`` pieces of ``samples``.

        Dense code has fewer characters per token than the average, so a budget in tokens converted to
        characters with this figure fits most code; the engine's trim catches the rest.
        """
        chunks = [s[i : i + chunk_chars] for s in samples for i in range(0, len(s) - chunk_chars + 1, chunk_chars)]
        if not chunks:
            return 0.0
        ratios = sorted(len(c) / max(1, len(ids)) for c, ids in zip(chunks, self.encode_batch(chunks), strict=True))
        return round(ratios[int(quantile * (len(ratios) - 1))], 3)

    @cached_property
    def token_texts(self) -> list[str]:
        """The text of every id alone (special tokens as empty text)."""
        return self.backend.decode_batch([[i] for i in range(self.vocab_size)], skip_special_tokens=True)

    @cached_property
    def _by_text(self) -> tuple[list[str], list[int]]:
        pairs = sorted((text, i) for i, text in enumerate(self.token_texts) if text)
        return [text for text, _ in pairs], [i for _, i in pairs]

    def ids_starting_with(self, text: str) -> list[int]:
        """Ids of the tokens whose text begins with ``text`` (not empty)."""
        texts, ids = self._by_text
        start = bisect.bisect_left(texts, text)
        end = start
        while end < len(texts) and texts[end].startswith(text):
            end += 1
        return ids[start:end]

    def control_ids(self) -> list[int]:
        """Ids of the tokens whose text holds a control character other than tab and newline.

        A fill holding one is never shown (the fill layer refuses it), so the engine never samples them.
        """
        return [i for i, text in enumerate(self.token_texts) if any(_is_control(c) for c in text)]

    def newline_ids(self) -> list[int]:
        """Ids of the tokens whose text holds a line break (where a single-line fill ends)."""
        return [i for i, text in enumerate(self.token_texts) if "\n" in text]



def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 32 and char not in "\t\n\r") or 0x7F <= code < 0xA0
