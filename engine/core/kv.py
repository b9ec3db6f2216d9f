"""Encoder KV caches kept per document, so a request after a keystroke encodes only what changed.

A ``PromptKV`` holds the token ids of the last prompt encoded for a document and the full key/value
history of every layer (sliding-window layers included, so the cache can be rolled back to any common
prefix). ``to_hf_cache`` turns the first ``n`` tokens into the transformers cache the model reads, with
sliding layers trimmed to their window exactly as a fresh encode would leave them. ``KVStore`` is the LRU
of these, evicting by a byte budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import DynamicCache


def common_prefix_length(a: list[int], b: list[int]) -> int:
    """Return how many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass(slots=True)
class PromptKV:
    """Token ids and per-layer (keys, values) of shape (1, heads, len(ids), head_dim)."""

    ids: list[int] = field(default_factory=list)
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def truncated(self, length: int) -> PromptKV:
        """Return a view of the first ``length`` tokens (no copy)."""
        return PromptKV(
            self.ids[:length],
            [k[:, :, :length] for k in self.keys],
            [v[:, :, :length] for v in self.values],
        )

    def appended(self, ids: list[int], keys: list[torch.Tensor], values: list[torch.Tensor]) -> PromptKV:
        if not self.keys:
            return PromptKV(list(ids), list(keys), list(values))
        return PromptKV(
            self.ids + list(ids),
            [torch.cat([a, b], dim=2) for a, b in zip(self.keys, keys, strict=True)],
            [torch.cat([a, b], dim=2) for a, b in zip(self.values, values, strict=True)],
        )


ChunkEncoder = Callable[[PromptKV, int, int], tuple[list[torch.Tensor], list[torch.Tensor]]]


def encode_in_chunks(base: PromptKV, ids: list[int], budget: int | None, chunk: int, encode: ChunkEncoder) -> PromptKV:
    """Extend ``base`` (a prefix of ``ids``) by up to ``budget`` more tokens of ``ids``, at most ``chunk`` a
    pass: ``encode(kv, start, count)`` returns the keys and values of ``ids[start:start + count]`` after ``kv``."""
    done = len(base.ids)
    target = len(ids) if budget is None else min(len(ids), done + budget)
    kv = base
    while done < target:
        count = min(chunk, target - done)
        keys, values = encode(kv, done, count)
        kv = kv.appended(ids[done : done + count], keys, values)
        done += count
    return kv


def to_hf_cache(kv: PromptKV, text_config) -> DynamicCache:
    """Return a transformers cache equivalent to having encoded ``kv.ids`` from scratch."""
    cache = DynamicCache(config=text_config)
    length = len(kv.ids)
    if length == 0:
        return cache
    for layer, keys, values in zip(cache.layers, kv.keys, kv.values, strict=True):
        window = getattr(layer, "sliding_window", None)
        if window is not None:
            keys, values = keys[:, :, -(window - 1) :], values[:, :, -(window - 1) :]
            layer.lazy_initialization(keys, values)
            layer.cumulative_length = length
        else:
            layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
    return cache


def new_entries(cache: DynamicCache, count: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Return the last ``count`` key/value entries of every layer (``count`` <= the sliding window - 1)."""
    return (
        [layer.keys[:, :, -count:] for layer in cache.layers],
        [layer.values[:, :, -count:] for layer in cache.layers],
    )


class KVStore:
    """Per-document PromptKVs, least recently used evicted first once over ``budget_bytes``.

    A document keeps up to ``per_document`` prompts: the prompt is suffix first, so a hole elsewhere in
    the document shares only its first tokens with the last one; keeping the holes the user was at lets
    a return to one of them (or typing there again) reuse its cache. A prompt that continues a kept one
    (a keystroke at its hole) replaces it.
    """

    def __init__(self, budget_bytes: int, per_document: int = 4) -> None:
        if per_document < 1:
            raise ValueError(f"per_document must be >= 1, got {per_document}")
        self.budget_bytes = budget_bytes
        self.per_document = per_document
        self._entries: OrderedDict[tuple[str, int], PromptKV] = OrderedDict()
        self._serial = 0
        self.hit_tokens = 0
        self.lookup_tokens = 0

    def _closest(self, key: str, ids: list[int]) -> tuple[tuple[str, int] | None, int]:
        """The entry of document ``key`` that shares the most leading tokens with ``ids``, and how many."""
        best: tuple[tuple[str, int] | None, int] = (None, -1)
        for entry_key in [k for k in self._entries if k[0] == key]:
            shared = common_prefix_length(self._entries[entry_key].ids, ids)
            if shared > best[1]:
                best = (entry_key, shared)
        return best

    def lookup(self, key: str, ids: list[int]) -> PromptKV:
        """Return the longest cached prefix of ``ids`` for document ``key`` (possibly empty)."""
        self.lookup_tokens += len(ids)
        entry_key, shared = self._closest(key, ids) if key else (None, 0)
        if entry_key is None:
            return PromptKV()
        self._entries.move_to_end(entry_key)
        entry = self._entries[entry_key]
        self.hit_tokens += shared
        return entry.truncated(shared) if shared < len(entry.ids) else entry

    def store(self, key: str, kv: PromptKV) -> None:
        if not key:
            return
        entry_key, shared = self._closest(key, kv.ids)
        if entry_key is None or 2 * shared < len(self._entries[entry_key].ids):  # another hole
            self._serial += 1
            entry_key = (key, self._serial)
        self._entries[entry_key] = kv
        self._entries.move_to_end(entry_key)
        mine = [k for k in self._entries if k[0] == key]
        for old in mine[: max(0, len(mine) - self.per_document)]:
            del self._entries[old]
        while self._entries and self.nbytes > self.budget_bytes:
            self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        for entry_key in [k for k in self._entries if k[0] == key]:
            del self._entries[entry_key]

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
