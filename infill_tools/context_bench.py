"""Indicative figures for repository context: index build time and memory per 10k lines, a restart from the
index's on-disk cache, retrieval time.

``python -m infill_tools.context_bench [DIR] [--requests N]`` indexes DIR (default: a generated repository
of ``--files`` Python files), then asks for the context at ``--requests`` random lines of its files as the
language server would (every source on, the file itself open) and prints one JSON object. A measure, not a
test: run it alone on the machine for figures worth comparing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from infill_lsp.config import Settings
from infill_lsp.documents import Document
from infill_lsp.languages import LanguageRegistry
from infill_lsp.retrieval.gather import SourceCache, context_block
from infill_lsp.workspace import WorkspaceIndex
from infill_lsp.workspace.cache import IndexCache


def generate(root: Path, files: int, seed: int = 0) -> None:
    """``files`` Python modules in a package tree, each defining functions and classes that others import."""
    rng = random.Random(seed)
    for number in range(files):
        folder = root / f"pkg{number % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        others = [rng.randrange(files) for _ in range(3)]
        lines = [f"from pkg{o % 20}.mod{o} import helper_{o}_0, Model{o}" for o in others if o != number]
        for k in range(8):
            lines += ["", "", f"def helper_{number}_{k}(value, scale=2):", f"    total = value * scale + {k}",
                      f"    return helper_{others[0]}_0(total) if total > {k * 10} else total"]
        lines += ["", "", f"class Model{number}:", "    def __init__(self, name):", "        self.name = name",
                  "", "    def describe(self):", f"        return helper_{number}_1(len(self.name))"]
        (folder / f"mod{number}.py").write_text("\n".join(lines) + "\n")


def measure(root: Path, requests: int, seed: int = 0) -> dict[str, object]:
    registry = LanguageRegistry()
    registry.get("python")  # the grammar compiled before the clock starts
    tracemalloc.start()
    index = WorkspaceIndex([root], Settings().index_limits(), registry)
    started = time.perf_counter()
    index.build_now()
    build = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    info = index.status()
    restart = restarted(root, registry)
    lines = max(1, int(info["lines"]))  # type: ignore[call-overload]
    rng = random.Random(seed)
    files = [path for path, _ in index.files()]
    cache, settings, timings = SourceCache(), Settings(), []
    for _ in range(requests if files else 0):
        path = rng.choice(files)
        text = path.read_text(encoding="utf-8", errors="replace")
        document = Document(path.as_uri(), text, language=registry.for_document("", path.as_uri()))
        offset = document.index.starts[rng.randrange(document.index.line_count)]
        started = time.perf_counter()
        context_block(document, offset, [], settings, budget=settings.cross_file_chars,
                      prefix_chars=settings.prefix_chars, suffix_chars=settings.suffix_chars,
                      index=index, display=index.relative, cache=cache)  # fmt: skip
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "files": info["files"],
        "lines": lines,
        "definitions": info["definitions"],
        "build_s": round(build, 3),
        "build_s_per_10k_lines": round(build * 10_000 / lines, 3),
        "index_mib_per_10k_lines": round(memory / 2**20 * 10_000 / lines, 2),
        **restart,
        "retrieval_ms_p50": round(statistics.median(timings), 2) if timings else None,
        "retrieval_ms_p95": round(timings[int(0.95 * (len(timings) - 1))], 2) if timings else None,
        "requests": len(timings),
    }


def restarted(root: Path, registry: LanguageRegistry) -> dict[str, object]:
    """A build that writes the on-disk cache, then a new index's build from it (a restarted server): its time,
    the files it took from the cache unread, the cache's size."""
    with tempfile.TemporaryDirectory(prefix="infill-context-bench-cache-") as folder:
        started = time.perf_counter()
        WorkspaceIndex([root], Settings().index_limits(), registry, cache=IndexCache(Path(folder))).build_now()
        writing = time.perf_counter() - started
        again = WorkspaceIndex([root], Settings().index_limits(), registry, cache=IndexCache(Path(folder)))
        started = time.perf_counter()
        again.build_now()
        seconds = time.perf_counter() - started
        size = sum(path.stat().st_size for path in Path(folder).iterdir())
    return {"build_s_writing_cache": round(writing, 3), "restart_s_from_cache": round(seconds, 3),
            "restart_files_from_cache": again.from_cache, "cache_mib": round(size / 2**20, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.context_bench", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=None, help="a repository (default: a generated one)")
    parser.add_argument("--files", type=int, default=500, help="files of the generated repository")
    parser.add_argument("--requests", type=int, default=200, help="context requests timed")
    args = parser.parse_args(argv)
    if args.folder is not None:
        print(json.dumps(measure(args.folder, args.requests), indent=2))
        return 0
    with tempfile.TemporaryDirectory(prefix="infill-context-bench-") as folder:
        generate(Path(folder), args.files)
        print(json.dumps(measure(Path(folder), args.requests), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
