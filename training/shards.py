"""Corpus shards: write records as size-capped `shard-NNNNN.jsonl.gz` files and read them back.

A record is a JSON object {"text", "language", "package", "version", "license", "path", "sha256"},
one per line. `iter_records` / `load_texts` are what the tokenizer trainer and the training data
pipeline use; they need nothing but the standard library.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

SHARD_GLOB = "shard-*.jsonl.gz"
RECORD_FIELDS = ("text", "language", "package", "version", "license", "path", "sha256")
GZIP_LEVEL = 6


def record_line(record: dict) -> bytes:
    """The exact bytes one record takes in a shard (compact JSON, one line)."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def compressed_size(line: bytes) -> int:
    """Estimated bytes the line adds to a gzip stream (a little over, since the stream shares context)."""
    return len(zlib.compress(line, GZIP_LEVEL)) - 6


def plan_shards(sizes: Iterable[int], max_shard_bytes: int) -> list[int]:
    """Shard index of each record, in order, keeping each shard's estimated compressed size under the cap."""
    if max_shard_bytes <= 0:
        raise ValueError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
    plan: list[int] = []
    shard, used = 0, 0
    for size in sizes:
        if used and used + size > max_shard_bytes:
            shard, used = shard + 1, 0
        plan.append(shard)
        used += size
    return plan


def write_shards(out_dir: Path, lines: list[bytes], plan: list[int]) -> list[Path]:
    """Write the record lines into shard files following the plan; returns the shard paths."""
    if len(lines) != len(plan):
        raise ValueError(f"plan has {len(plan)} entries for {len(lines)} lines")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(SHARD_GLOB):
        stale.unlink()
    groups: dict[int, list[bytes]] = {}
    for line, shard in zip(lines, plan, strict=True):
        groups.setdefault(shard, []).append(line)
    paths: list[Path] = []
    for shard in sorted(groups):
        path = out_dir / f"shard-{shard:05d}.jsonl.gz"
        with open(path, "wb") as raw:
            # mtime=0 and no file name in the header keep the output byte-for-byte reproducible.
            with gzip.GzipFile(
                filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0
            ) as handle:
                handle.writelines(groups[shard])
        paths.append(path)
    return paths


def shard_paths(corpus_dir: str | Path) -> list[Path]:
    """The corpus's shard files in order; raises FileNotFoundError when there are none."""
    paths = sorted(Path(corpus_dir).glob(SHARD_GLOB))
    if not paths:
        raise FileNotFoundError(f"no {SHARD_GLOB} files in {corpus_dir}")
    return paths


def iter_records(corpus_dir: str | Path, languages: Iterable[str] | None = None) -> Iterator[dict]:
    """Every record of the corpus, shard by shard, optionally only those of the given languages."""
    wanted = set(languages) if languages is not None else None
    for path in shard_paths(corpus_dir):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if wanted is None or record.get("language") in wanted:
                    yield record


def load_texts(corpus_dir: str | Path, languages: Iterable[str] | None = None) -> list[str]:
    """The text of every record (optionally filtered by language), in shard order."""
    return [record["text"] for record in iter_records(corpus_dir, languages)]
