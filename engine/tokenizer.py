"""The tokenizer of an infill model: a byte-level BPE in ``tokenizer.json`` plus the FIM special ids."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from engine.fim import SpecialIds


class InfillTokenizer:
    """Encode code to ids and canvases back to text, knowing the special tokens of the FIM layout."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.backend = tokenizer
        self.special = SpecialIds.from_vocab(tokenizer.token_to_id)
        self.vocab_size = tokenizer.get_vocab_size()

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

    def control_ids(self) -> list[int]:
        """Ids of the tokens whose text holds a control character other than tab and newline.

        A fill holding one is never shown (the fill layer refuses it), so the engine never samples them.
        """
        texts = self.backend.decode_batch([[i] for i in range(self.vocab_size)], skip_special_tokens=True)
        return [i for i, text in enumerate(texts) if any(_is_control(c) for c in text)]

    def decode_middle(self, canvas_ids: list[int]) -> tuple[str, int]:
        """Return the text of a canvas up to its first ``<eom>``, and how many tokens that is."""
        eom = self.special.eom
        length = canvas_ids.index(eom) if eom in canvas_ids else len(canvas_ids)
        return self.decode(canvas_ids[:length]), length


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 32 and char not in "\t\n\r") or 0x7F <= code < 0xA0
