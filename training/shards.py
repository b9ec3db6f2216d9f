"""Corpus shards: write records as size-capped `shard-NNNNN.jsonl.gz` files and read them back.

A record is a JSON object {"text", "language", "package", "version", "license", "path", "sha256"},
one per line. `iter_records` / `load_texts` are what the tokenizer trainer and the training data
pipeline use, `iter_packages` reads a package's files together (the shards are shuffled); they need
nothing but the standard library.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

SHARD_GLOB = "shard-*.jsonl.gz"
RECORD_FIELDS = ("text", "language", "package", "version", "license", "path", "sha256")
GZIP_LEVEL = 6
MANIFEST = "manifest.tsv"
PACKAGE_PASS_BYTES = 256 * 1024 * 1024  # text held by one pass of iter_packages (a bigger package: alone)


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


def _package_sizes(corpus_dir: Path, wanted: set[str] | None) -> dict[tuple[str, str], tuple[int, int]]:
    """(package, version) -> (files, text bytes) of the wanted languages: from the manifest, or else from a
    counting pass over the shards."""
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    manifest = corpus_dir / MANIFEST
    if manifest.is_file():
        with open(manifest, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if wanted is None or row.get("language") in wanted:
                    key = (row["package"], row["version"])
                    files, size = sizes.get(key, (0, 0))
                    sizes[key] = (files + 1, size + int(row.get("bytes") or 0))
        return sizes
    for record in iter_records(corpus_dir, wanted):
        key = (record.get("package", ""), record.get("version", ""))
        files, size = sizes.get(key, (0, 0))
        sizes[key] = (files + 1, size + len(record["text"]))
    return sizes


def iter_packages(
    corpus_dir: str | Path, languages: Iterable[str] | None = None, *, max_bytes: int = PACKAGE_PASS_BYTES
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Each package's files together: ``(package, version, {path: text})``, optionally only files of the given
    languages.

    The shards are shuffled, so a package's files are spread over them. Memory stays bounded: the manifest
    gives each package's file count and bytes, the packages (in name order) are split into groups of at most
    ``max_bytes`` of text (a bigger package forms a group alone), and each group takes one pass over the
    shards, which yields a package as soon as its last file is read (so within a group, in the order the
    shards complete them). Without a manifest, one more pass counts the files.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    corpus_dir = Path(corpus_dir)
    wanted = set(languages) if languages is not None else None
    sizes = _package_sizes(corpus_dir, wanted)
    groups: list[set[tuple[str, str]]] = []
    used = max_bytes
    for key in sorted(sizes):
        if used + sizes[key][1] > max_bytes:
            groups.append(set())
            used = 0
        groups[-1].add(key)
        used += sizes[key][1]
    for group in groups:
        pending: dict[tuple[str, str], dict[str, str]] = {}
        seen: Counter[tuple[str, str]] = Counter()
        remaining = len(group)
        for record in iter_records(corpus_dir, wanted):
            if not remaining:
                break
            key = (record.get("package", ""), record.get("version", ""))
            if key not in group:
                continue
            files = pending.setdefault(key, {})
            files[record["path"]] = record["text"]
            seen[key] += 1
            if seen[key] == sizes[key][0]:
                remaining -= 1
                yield key[0], key[1], pending.pop(key)
        for key in sorted(pending):  # a manifest that counts more files than the shards hold
            yield key[0], key[1], pending.pop(key)
