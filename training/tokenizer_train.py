"""Training the byte-level BPE tokenizer of an infill model on a corpus."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from engine.prompt.fim import SPECIAL_TOKENS


def train_tokenizer(texts: Iterable[str], vocab_size: int = 16384, min_frequency: int = 2) -> Tokenizer:
    """Return a byte-level BPE trained on ``texts`` whose first ids are the FIM special tokens."""
    if vocab_size < len(SPECIAL_TOKENS) + 256 + 1:
        raise ValueError(f"vocab_size must exceed {len(SPECIAL_TOKENS) + 256}, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    # Digits split one by one (numbers generalise better); then GPT-2 style byte-level pieces.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=sys.stderr.isatty(),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    for index, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != index:
            raise RuntimeError(f"special token {token} did not get id {index}")
    return tokenizer


def _sample_texts(corpus_dir: Path, max_bytes: int) -> Iterator[str]:
    from training.shards import iter_records

    used = 0
    for record in iter_records(corpus_dir):
        text = record["text"]
        used += len(text)
        if used > max_bytes:
            return
        yield text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infill train tokenizer", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, required=True, help="file to write (tokenizer.json)")
    parser.add_argument("--vocab-size", type=int, default=16384)
    parser.add_argument("--max-mb", type=float, default=120.0, help="corpus text to train on")
    args = parser.parse_args(argv)
    tokenizer = train_tokenizer(_sample_texts(args.corpus, int(args.max_mb * 1e6)), args.vocab_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.out))
    print(f"wrote {args.out} ({tokenizer.get_vocab_size()} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
