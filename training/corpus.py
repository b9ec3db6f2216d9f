"""Training corpus builder: permissively licensed, filtered, deduplicated, decontaminated code shards.

    python -m training.corpus fetch                   # sources into .cache/corpus-sources
    python -m training.corpus build --out corpus      # shards + manifest.tsv + corpus.json

The build reads packages (sources.py), keeps those whose own metadata names an allowed license
(licenses.py), drops vendored/generated/minified/binary/odd-sized files (filters.py), files that
share a 10-word n-gram with a HumanEval problem (decontam.py), exact and near duplicates (dedup.py),
and fills a compressed-size budget split by language weights. The order is shuffled with a seed, so
the same sources and options give byte-identical output. See CORPUS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import sysconfig
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from training import decontam, dedup, filters, shards, sources
from training.shards import iter_records, load_texts

__all__ = ["BuildConfig", "BuildResult", "build_corpus", "iter_records", "load_texts", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES_DIR = REPO_ROOT / ".cache" / "corpus-sources"
DEFAULT_BENCHMARK_DIR = REPO_ROOT / "infill_tools" / "data" / "humaneval-infilling"  # vendored, MIT
DEFAULT_WEIGHTS = {"python": 0.60, "javascript": 0.08, "typescript": 0.07, "go": 0.13, "rust": 0.12}
MIB = 1024 * 1024
_CHUNK = 1024
_BUDGET_SLACK = 16 * 1024


@dataclass(slots=True, kw_only=True)
class BuildConfig:
    """Every option of a corpus build; recorded verbatim in corpus.json as the recipe."""

    out: Path
    sources_dir: Path | None = None
    site_packages: list[Path] = field(default_factory=list)
    benchmark_dir: Path = DEFAULT_BENCHMARK_DIR
    max_compressed_mb: float = 56.0
    max_shard_mb: float = 16.0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    max_package_share: float = 0.04
    near_threshold: float = dedup.THRESHOLD
    seed: int = 0
    jobs: int = 0
    command: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_compressed_mb <= 0:
            raise ValueError(f"max_compressed_mb must be positive, got {self.max_compressed_mb}")
        if not 0 < self.max_shard_mb <= self.max_compressed_mb:
            raise ValueError(f"max_shard_mb must be in (0, max_compressed_mb], got {self.max_shard_mb}")
        if not 0 < self.max_package_share <= 1:
            raise ValueError(f"max_package_share must be in (0, 1], got {self.max_package_share}")
        unknown = set(self.weights) - set(filters.LANGUAGE_BY_SUFFIX.values())
        if (
            unknown
            or not self.weights
            or any(w < 0 for w in self.weights.values())
            or not sum(self.weights.values())
        ):
            raise ValueError(
                f"weights must be non-negative per known language with a positive sum, got {self.weights}"
            )
        if self.sources_dir is None and not self.site_packages:
            raise ValueError("sources_dir or site_packages: at least one source is needed")

    @property
    def budget_bytes(self) -> int:
        return int(self.max_compressed_mb * MIB)


@dataclass(frozen=True, slots=True)
class Candidate:
    package: int
    path: str
    language: str
    license: str
    data: bytes


@dataclass(slots=True)
class BuildResult:
    summary: dict
    shard_paths: list[Path]


def _log(message: str) -> None:
    print(f"corpus: {message}", file=sys.stderr, flush=True)


def iter_packages(config: BuildConfig) -> Iterator[sources.PackageFiles]:
    for root in config.site_packages:
        if not root.is_dir():
            raise FileNotFoundError(f"site-packages directory not found: {root}")
        yield from sources.scan_site_packages(root)
    if config.sources_dir is not None:
        if not config.sources_dir.is_dir():
            raise FileNotFoundError(f"sources directory not found: {config.sources_dir} (run `fetch` first)")
        yield from sources.scan_sources_dir(config.sources_dir)


def collect_candidates(
    config: BuildConfig, dropped: Counter[str], license_drops: dict[str, str], blocked: list[str]
) -> tuple[list[sources.Package], list[Candidate]]:
    """Packages kept and their files passing the cheap checks (license, name, path, size)."""
    packages: list[sources.Package] = []
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for package, files in iter_packages(config):
        if package.key in seen:
            dropped["duplicate_package"] += len(files)
            continue
        seen.add(package.key)
        if decontam.is_benchmark_package(package.name):
            blocked.append(package.name)
            dropped["contaminated_package"] += len(files)
            continue
        if not package.license.allowed and not any(
            f.license is not None and f.license.allowed for f in files
        ):
            license_drops[f"{package.name} {package.version}"] = package.license.label
            dropped["license"] += len(files)
            continue
        index = len(packages)
        packages.append(package)
        for file in files:
            license = file.license or package.license
            if not license.allowed:
                dropped["license"] += 1
                continue
            language = filters.language_of(file.path)
            reason = filters.path_reason(file.path) or filters.size_reason(file.size)
            if reason is None and language not in config.weights:
                reason = "language"
            if reason or language is None or file.data is None:
                dropped[reason or "too_large"] += 1
                continue
            candidates.append(Candidate(index, file.path, language, license.label, file.data))
        if len(packages) % 50 == 0:
            _log(f"scanned {len(packages)} packages, {len(candidates)} candidate files")
    _log(f"scanned {len(packages)} packages with allowed licenses, {len(candidates)} candidate files")
    return packages, candidates


# Worker side: the contamination index is set once per process by the pool initializer.
_CONTAMINATION: decontam.ContaminationIndex | None = None


def _init_worker(index: decontam.ContaminationIndex) -> None:
    global _CONTAMINATION
    _CONTAMINATION = index


def analyze(task: tuple[dict, bytes]) -> tuple[str | None, bytes, np.ndarray | None, bytes, int]:
    """(drop reason, exact key, MinHash signature, record line, compressed size) of one file."""
    meta, data = task
    reason, text = filters.content_reason(data)
    if reason is not None or text is None:
        return reason, b"", None, b"", 0
    if _CONTAMINATION is not None and _CONTAMINATION.contains(text):
        return "contaminated", b"", None, b"", 0
    record = {"text": text, **meta, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    line = shards.record_line(record)
    return None, dedup.exact_key(text), dedup.minhash_signature(text), line, shards.compressed_size(line)


class _Selector:
    """Consumes analysed files in a fixed order and decides keep/drop against dedup and budgets."""

    def __init__(self, config: BuildConfig, packages: list[sources.Package], dropped: Counter[str]) -> None:
        self.config = config
        self.packages = packages
        self.dropped = dropped
        total = sum(config.weights.values())
        self.budget = {lang: config.budget_bytes * w / total for lang, w in config.weights.items()}
        self.package_cap = {lang: b * config.max_package_share for lang, b in self.budget.items()}
        self.used: Counter[str] = Counter()
        self.package_used: Counter[tuple[str, int]] = Counter()
        self.exact: set[bytes] = set()
        self.near = dedup.NearDuplicateIndex(config.near_threshold)
        self.kept: list[tuple[bytes, int, str]] = []
        self.contaminated: list[str] = []

    def full(self, language: str) -> bool:
        return self.used[language] >= self.budget[language] - _BUDGET_SLACK

    def offer(self, candidate: Candidate, result: tuple) -> None:
        reason, key, signature, line, size = result
        language = candidate.language
        if reason is None and key in self.exact:
            reason = "exact_duplicate"
        if reason is None and self.near.find(signature) is not None:
            reason = "near_duplicate"
        if (
            reason is None
            and self.package_used[language, candidate.package] + size > self.package_cap[language]
        ):
            reason = "package_cap"
        if reason is None and self.used[language] + size > self.budget[language]:
            reason = "over_budget"
        if reason is not None:
            self.dropped[reason] += 1
            if reason == "contaminated":
                self.contaminated.append(f"{self.packages[candidate.package].name}:{candidate.path}")
            return
        self.exact.add(key)
        self.near.add(signature)
        self.used[language] += size
        self.package_used[language, candidate.package] += size
        self.kept.append((line, size, language))


def _select(
    config: BuildConfig, packages: list[sources.Package], candidates: list[Candidate], dropped: Counter[str]
) -> _Selector:
    rng = random.Random(config.seed)
    queues: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        queues[candidate.language].append(candidate)
    for language in sorted(queues):
        rng.shuffle(queues[language])
        # Hand-written source first; declarations and compiled bundles only fill what is left.
        queues[language].sort(key=lambda c: filters.priority(c.path))
    selector = _Selector(config, packages, dropped)
    cursor: Counter[str] = Counter()
    index = decontam.ContaminationIndex.from_directory(config.benchmark_dir)
    _log(f"decontamination index: {len(index)} {index.n}-grams from {config.benchmark_dir}")
    jobs = config.jobs or os.cpu_count() or 1
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(jobs, initializer=_init_worker, initargs=(index,)) as pool:
        while True:
            for language in sorted(config.weights, key=lambda lang: -config.weights[lang]):
                queue = queues.get(language, [])
                while cursor[language] < len(queue) and not selector.full(language):
                    chunk = queue[cursor[language] : cursor[language] + _CHUNK]
                    tasks = [(_meta(packages, c), c.data) for c in chunk]
                    for candidate, result in zip(chunk, pool.imap(analyze, tasks, chunksize=16), strict=True):
                        cursor[language] += 1
                        selector.offer(candidate, result)
                        if selector.full(language):
                            break
                    _log(
                        f"[{language}] examined {cursor[language]}/{len(queue)}, kept "
                        f"{sum(1 for k in selector.kept if k[2] == language)}, "
                        f"{selector.used[language] / MIB:.1f}/{selector.budget[language] / MIB:.1f} MiB compressed"
                    )
            leftover = config.budget_bytes - sum(selector.used.values())
            open_languages = [
                lang
                for lang in config.weights
                if cursor[lang] < len(queues.get(lang, [])) and config.weights[lang] > 0
            ]
            if leftover <= 4 * _BUDGET_SLACK or not open_languages:
                break
            weight = sum(config.weights[lang] for lang in open_languages)
            for language in open_languages:
                selector.budget[language] += leftover * config.weights[language] / weight
            _log(f"redistributing {leftover / MIB:.1f} MiB of unused budget to {', '.join(open_languages)}")
    for language, queue in queues.items():
        dropped["over_budget"] += len(queue) - cursor[language]
    return selector


def _meta(packages: list[sources.Package], candidate: Candidate) -> dict:
    package = packages[candidate.package]
    return {
        "language": candidate.language,
        "package": package.name,
        "version": package.version,
        "license": candidate.license,
        "path": candidate.path,
    }


def build_corpus(config: BuildConfig) -> BuildResult:
    """Build the corpus described by config into config.out; returns the summary written to corpus.json."""
    dropped: Counter[str] = Counter()
    license_drops: dict[str, str] = {}
    blocked: list[str] = []
    packages, candidates = collect_candidates(config, dropped, license_drops, blocked)
    selector = _select(config, packages, candidates, dropped)
    kept = selector.kept
    order = list(range(len(kept)))
    random.Random(config.seed + 1).shuffle(order)
    lines = [kept[i][0] for i in order]
    plan = shards.plan_shards((kept[i][1] for i in order), int(config.max_shard_mb * MIB * 0.97))
    _log(f"writing {len(lines)} records into {max(plan, default=-1) + 1} shards under {config.out}")
    staging = config.out / ".staging"
    paths = shards.write_shards(staging, lines, plan)
    compressed = sum(p.stat().st_size for p in paths)
    if compressed > config.budget_bytes:
        raise RuntimeError(
            f"shards take {compressed / MIB:.1f} MiB, over the {config.max_compressed_mb} MiB budget"
        )
    summary = _summarize(config, staging, lines, paths, dropped, license_drops, blocked, len(packages))
    summary["contamination"]["files"] = sorted(selector.contaminated)
    (staging / "corpus.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    paths = _publish(staging, config.out)
    _log(
        f"done: {summary['files']} files, {summary['bytes'] / MIB:.1f} MiB text, {compressed / MIB:.1f} MiB compressed"
    )
    return BuildResult(summary, paths)


def _publish(staging: Path, out: Path) -> list[Path]:
    """Replace the previous corpus in out by the staged one (renames only, so readers see a short gap)."""
    for old in [*out.glob(shards.SHARD_GLOB), out / "manifest.tsv", out / "corpus.json"]:
        old.unlink(missing_ok=True)
    for new in sorted(staging.iterdir()):
        new.rename(out / new.name)
    staging.rmdir()
    return sorted(out.glob(shards.SHARD_GLOB))


def _summarize(
    config: BuildConfig,
    out: Path,
    lines: list[bytes],
    paths: list[Path],
    dropped: Counter[str],
    license_drops: dict[str, str],
    blocked: list[str],
    package_count: int,
) -> dict:
    languages: dict[str, Counter[str]] = defaultdict(Counter)
    license_stats: dict[str, Counter[str]] = defaultdict(Counter)
    rows: list[tuple[str, ...]] = []
    kept_packages: set[str] = set()
    for line in lines:
        record = json.loads(line)
        size = len(record["text"].encode("utf-8"))
        languages[record["language"]].update(files=1, bytes=size)
        license_stats[record["license"]].update(files=1, bytes=size)
        kept_packages.add(record["package"])
        rows.append(
            (
                record["package"],
                record["version"],
                record["license"],
                record["path"],
                record["sha256"],
                str(size),
                record["language"],
            )
        )
    rows.sort()
    manifest = "package\tversion\tlicense\tpath\tsha256\tbytes\tlanguage\n" + "".join(
        "\t".join(r) + "\n" for r in rows
    )
    (out / "manifest.tsv").write_text(manifest, encoding="utf-8")
    recipe = asdict(config)
    recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in recipe.items()}
    recipe["site_packages"] = [str(p) for p in config.site_packages]
    return {
        "files": len(rows),
        "bytes": sum(int(r[5]) for r in rows),
        "compressed_bytes": sum(p.stat().st_size for p in paths),
        "shards": [
            {"name": p.name, "bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in paths
        ],
        "languages": {k: dict(v) for k, v in sorted(languages.items())},
        "licenses": {k: dict(v) for k, v in sorted(license_stats.items())},
        "dropped": dict(sorted(dropped.items())),
        "packages": {
            "kept": len(kept_packages),
            "allowed": package_count,
            "dropped_for_license": dict(sorted(license_drops.items())),
        },
        "contamination": {
            "benchmark_dir": str(config.benchmark_dir),
            "ngram_words": decontam.NGRAM,
            "min_informative_words": decontam.MIN_INFORMATIVE,
            "files_dropped": dropped.get("contaminated", 0),
            "packages_dropped": sorted(blocked),
        },
        "dedup": {
            "method": "blake2b of whitespace-normalised text; MinHash LSH",
            "num_perm": dedup.NUM_PERM,
            "bands": dedup.BANDS,
            "shingle_tokens": dedup.SHINGLE,
            "threshold": config.near_threshold,
        },
        "manifest_sha256": hashlib.sha256(manifest.encode("utf-8")).hexdigest(),
        "recipe": recipe,
    }


def _parse_weights(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"weight {item!r} is not LANGUAGE=NUMBER")
        try:
            weights[name.strip()] = float(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"weight {item!r} is not LANGUAGE=NUMBER") from error
    return weights


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infill train corpus", description="Fetch sources for and build the training corpus."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download source packages listed in training/sources_*.txt")
    fetch.add_argument("--sources-dir", type=Path, default=DEFAULT_SOURCES_DIR)
    fetch.add_argument(
        "--kinds", nargs="+", choices=["python", "npm", "debian"], default=["python", "npm", "debian"]
    )
    build = sub.add_parser("build", help="build shards, manifest.tsv and corpus.json")
    build.add_argument(
        "--sources-dir", type=Path, default=DEFAULT_SOURCES_DIR, help="fetched sources ('' to skip)"
    )
    build.add_argument(
        "--site-packages",
        type=Path,
        action="append",
        default=None,
        help="site-packages dir to scan (repeatable; default: this interpreter's)",
    )
    build.add_argument("--no-site-packages", action="store_true", help="do not scan any site-packages")
    build.add_argument("--out", type=Path, default=REPO_ROOT / "corpus")
    build.add_argument("--benchmark-dir", type=Path, default=DEFAULT_BENCHMARK_DIR)
    build.add_argument("--max-compressed-mb", type=float, default=56.0)
    build.add_argument("--max-shard-mb", type=float, default=16.0)
    build.add_argument(
        "--weights",
        type=_parse_weights,
        default=dict(DEFAULT_WEIGHTS),
        help="LANG=W,... share of the budget per language (unused shares are redistributed)",
    )
    build.add_argument(
        "--max-package-share", type=float, default=0.04, help="cap of one package within its language"
    )
    build.add_argument("--near-threshold", type=float, default=dedup.THRESHOLD)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fetch":
        script = Path(__file__).with_name("fetch_sources.sh")
        return subprocess.call(["bash", str(script), str(args.sources_dir), *args.kinds])
    site_packages = (
        [] if args.no_site_packages else (args.site_packages or [Path(sysconfig.get_paths()["purelib"])])
    )
    sources_dir = args.sources_dir if str(args.sources_dir) not in {"", "."} else None
    try:
        config = BuildConfig(
            out=args.out,
            sources_dir=sources_dir,
            site_packages=site_packages,
            benchmark_dir=args.benchmark_dir,
            max_compressed_mb=args.max_compressed_mb,
            max_shard_mb=args.max_shard_mb,
            weights=args.weights,
            max_package_share=args.max_package_share,
            near_threshold=args.near_threshold,
            seed=args.seed,
            jobs=args.jobs,
            command=list(argv if argv is not None else sys.argv[1:]),
        )
        build_corpus(config)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"corpus: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
