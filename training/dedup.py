"""Deduplication: exact (hash of whitespace-normalised text) and near (MinHash + LSH over token shingles).

`exact_key` and `minhash_signature` are pure functions (safe to run in worker processes);
`NearDuplicateIndex` keeps the signatures of accepted files and answers "is this a near duplicate?".
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE = 5
THRESHOLD = 0.8

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MASK32 = np.uint64(0xFFFFFFFF)
_RNG = np.random.Generator(np.random.PCG64(0x1F1A))
_A = _RNG.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
_SHINGLE_MULT = np.array([0x9E3779B97F4A7C15 >> i for i in range(SHINGLE)], dtype=np.uint64) | np.uint64(1)


def exact_key(text: str) -> bytes:
    """A 16-byte digest of the text with every whitespace run collapsed to one space."""
    return hashlib.blake2b(" ".join(text.split()).encode(), digest_size=16).digest()


def shingle_hashes(text: str) -> np.ndarray:
    """64-bit hashes of every SHINGLE consecutive tokens (identifiers, numbers, punctuation)."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return np.zeros(1, dtype=np.uint64)
    ids = np.fromiter((zlib.crc32(t.encode()) for t in tokens), dtype=np.uint64, count=len(tokens))
    if len(ids) < SHINGLE:
        return ids
    with np.errstate(over="ignore"):
        acc = np.zeros(len(ids) - SHINGLE + 1, dtype=np.uint64)
        for i in range(SHINGLE):
            acc = acc * np.uint64(0x100000001B3) + ids[i : len(ids) - SHINGLE + 1 + i] * _SHINGLE_MULT[i]
    return np.unique(acc)


def minhash_signature(text: str) -> np.ndarray:
    """A NUM_PERM-long uint32 MinHash signature of the text's shingle set."""
    shingles = shingle_hashes(text)
    with np.errstate(over="ignore"):
        out = np.empty(NUM_PERM, dtype=np.uint32)
        step = max(1, 4_000_000 // max(1, len(shingles)))
        for start in range(0, NUM_PERM, step):
            a = _A[start : start + step, None]
            b = _B[start : start + step, None]
            mixed = (shingles[None, :] * a + b) >> np.uint64(32)
            out[start : start + step] = (mixed & _MASK32).min(axis=1)
    return out


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.count_nonzero(left == right)) / NUM_PERM


class NearDuplicateIndex:
    """LSH index (BANDS bands of ROWS rows) over the signatures of files kept so far."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._buckets: list[dict[bytes, int]] = [{} for _ in range(BANDS)]
        self._signatures: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._signatures)

    def find(self, signature: np.ndarray) -> int | None:
        """Index of a kept file whose estimated Jaccard similarity reaches the threshold, if any."""
        seen: set[int] = set()
        for band, bucket in enumerate(self._buckets):
            hit = bucket.get(signature[band * ROWS : (band + 1) * ROWS].tobytes())
            if hit is None or hit in seen:
                continue
            seen.add(hit)
            if estimated_jaccard(signature, self._signatures[hit]) >= self.threshold:
                return hit
        return None

    def add(self, signature: np.ndarray) -> int:
        index = len(self._signatures)
        self._signatures.append(signature)
        for band, bucket in enumerate(self._buckets):
            bucket.setdefault(signature[band * ROWS : (band + 1) * ROWS].tobytes(), index)
        return index
