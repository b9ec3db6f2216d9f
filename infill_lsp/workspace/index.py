"""The workspace index: every indexed file's symbols and the definitions by name, built in the background.

One worker thread does all the work in order (the first build, then each refresh or removal the editor
reports), so a request never waits for it: look-ups read what is indexed so far, under a lock held only
to read or swap one file's entry. ``build_now`` does the same work on the caller's thread (the CLI).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath

from infill_lsp.languages import LanguageRegistry
from infill_lsp.workspace.cache import CachedFile, IndexCache, symbols_from, to_cached
from infill_lsp.workspace.definitions import Definition, Symbols, module_names_of, symbols_of
from infill_lsp.workspace.files import IndexLimits, WalkReport, admit, read_code, walk
from infill_lsp.workspace.gitignore import IGNORE_FILE, GitIgnore

log = logging.getLogger(__name__)

IDLE, BUILDING, READY, CLOSED = "idle", "building", "ready", "closed"
BACKGROUND_NICE = 19


def lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: a thread has its own nice value), so indexing
    takes the cores only when fills and the engine leave them idle; elsewhere, nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (AttributeError, OSError):
        pass


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """One file of the index: its root, its path under that root, its language and symbols."""

    root: Path
    relative: str
    language: str  # the language table's name
    family: str  # the query folder's name: languages that share queries (tsx, typescript) share a family
    lines: int
    symbols: Symbols
    mtime_ns: int = 0  # the file's when it was read (0: not from a file on disk)
    size: int = 0


class WorkspaceIndex:
    """The symbols of the files under ``roots``; safe to read from any thread while the worker writes."""

    def __init__(
        self,
        roots: list[Path],
        limits: IndexLimits | None = None,
        registry: LanguageRegistry | None = None,
        clock: Callable[[], float] = time.time,
        cache: IndexCache | None = None,
    ) -> None:
        self.roots = [root.resolve() for root in roots]
        self.limits = limits or IndexLimits()
        self.registry = registry or LanguageRegistry()
        self.clock = clock
        self.state = IDLE
        self.report = WalkReport()
        self.built_at = 0.0  # clock() when the last build ended
        self.generation = 0  # how many times a file entered, changed in or left the index
        self.build_seconds = 0.0
        self.cache = cache  # the index kept on disk between runs (None: none)
        self.from_cache = 0  # files the last build took from it unread
        self._files: dict[Path, IndexedFile] = {}
        self._by_name: dict[str, list[Definition]] = {}
        self._by_module: dict[str, set[Path]] = {}  # a name an import may use for a file -> those files
        self._ignores = {root: GitIgnore(root) for root in self.roots}
        self._lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None
        self._closed = threading.Event()

    # ---- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._files)

    def lookup(self, name: str, family: str | None = None) -> list[Definition]:
        """The definitions named ``name`` (in files of the language ``family``, when given), in path order."""
        with self._lock:
            found = self._by_name.get(name, ())
            if family is not None:
                found = [d for d in found if (f := self._files.get(Path(d.path))) is not None and f.family == family]
            return sorted(found, key=lambda d: (d.path, d.line))

    def module_files(self, name: str, family: str | None = None) -> list[tuple[str, tuple[Definition, ...]]]:
        """The files an import naming ``name`` may mean (their stem or their folder is ``name``, or ``name``
        capitalized), in files of the language ``family`` when given: each path with its definitions, in path
        order."""
        with self._lock:
            found = [(path, self._files[path]) for path in self._by_module.get(name, ()) if path in self._files]
        return sorted((str(path), f.symbols.definitions) for path, f in found if family is None or f.family == family)

    def file(self, path: Path) -> IndexedFile | None:
        with self._lock:
            return self._files.get(path)

    def files(self) -> list[tuple[Path, IndexedFile]]:
        with self._lock:
            return sorted(self._files.items())

    def root_of(self, path: Path | str) -> Path | None:
        """The root ``path`` lies under (the deepest, for nested roots); None when it lies under none."""
        path = Path(path)
        found = [root for root in self.roots if path == root or root in path.parents]
        return max(found, key=lambda r: len(r.parts)) if found else None

    def relative(self, path: Path | str) -> str:
        """``path`` as the workspace shows it: relative to its root (with the root's name when there are several)."""
        path = Path(path)
        root = self.root_of(path)
        if root is None:
            return path.name
        relative = path.relative_to(root).as_posix()
        return f"{root.name}/{relative}" if len(self.roots) > 1 else relative

    def status(self) -> dict[str, object]:
        with self._lock:
            definitions = sum(len(f.symbols.definitions) for f in self._files.values())
            lines = sum(f.lines for f in self._files.values())
            files = len(self._files)
        age = round(self.clock() - self.built_at, 1) if self.built_at else None
        return {
            "state": self.state,
            "roots": [str(root) for root in self.roots],
            "files": files,
            "lines": lines,
            "definitions": definitions,
            "build_seconds": round(self.build_seconds, 3),
            "from_cache": self.from_cache,
            "age_seconds": age,
            "capped": self.report.capped,
            "skipped": dict(sorted(self.report.skipped.items())),
        }

    # ---- writing (the worker's) -----------------------------------------------------------------

    def _put(self, path: Path, indexed: IndexedFile | None) -> None:
        with self._lock:
            self.generation += 1
            old = self._files.pop(path, None)
            for name in module_keys(path):
                self._by_module.get(name, set()).discard(path)
            if old is not None:
                for name in {d.name for d in old.symbols.definitions}:
                    same = [d for d in self._by_name.get(name, []) if d.path != str(path)]
                    if same:
                        self._by_name[name] = same
                    else:
                        self._by_name.pop(name, None)
            if indexed is None:
                return
            self._files[path] = indexed
            for definition in indexed.symbols.definitions:
                self._by_name.setdefault(definition.name, []).append(definition)
            for name in module_keys(path):
                self._by_module.setdefault(name, set()).add(path)

    def _index_text(self, root: Path, path: Path, relative: str, text: str, mtime_ns: int = 0,
                    size: int = 0) -> IndexedFile | None:
        name = self.registry.name_for("", path.as_uri())
        support = self.registry.get(name)
        if support is None:
            return None
        symbols = symbols_of(text, support, str(path))
        return IndexedFile(root, relative, support.name, support.entry.query_dir.name, text.count("\n") + 1, symbols,
                           mtime_ns, size)  # fmt: skip

    def _index_file(self, root: Path, path: Path, relative: str, mtime_ns: int = 0, size: int = 0) -> None:
        text = read_code(path, self.limits.max_file_bytes)
        if text is None:
            self.report.skipped["binary-or-unreadable"] += 1
            self._put(path, None)
            return
        self._put(path, self._index_text(root, path, relative, text, mtime_ns, size))

    def _from_cache(self, root: Path, cached: CachedFile) -> IndexedFile:
        path = root / cached.relative
        return IndexedFile(root, cached.relative, cached.language, cached.family, cached.lines,
                           symbols_from(cached, str(path)), cached.mtime_ns, cached.size)  # fmt: skip

    def _save(self, root: Path) -> None:
        if self.cache is None:
            return
        entries = [to_cached(f.relative, f.mtime_ns, f.size, f.language, f.family, f.lines, f.symbols)
                   for _, f in self.files() if f.root == root and f.mtime_ns]  # fmt: skip
        self.cache.save(root, entries)

    def build_now(self) -> None:
        """Index every root from scratch, on this thread. With a cache, a first build puts the cached files in
        the index at once, then reads only the files whose size or modification time changed since, and
        writes the cache anew when anything changed."""
        self.state = BUILDING
        started = time.perf_counter()
        report = WalkReport()
        seen: set[Path] = set()
        taken = 0
        for root in self.roots:
            self._ignores[root] = GitIgnore(root)
            cached = self.cache.load(root) if self.cache is not None else {}
            first = cached and not any(f.root == root for _, f in self.files())
            if first:  # look-ups answer from the cache while the walk checks it
                for entry in cached.values():
                    self._put(root / entry.relative, self._from_cache(root, entry))
            before = self.generation
            for found in walk(root, self.limits, report):
                if self._closed.is_set():
                    return
                path = found.path.absolute()
                seen.add(path)
                self.report = report
                hit = cached.get(found.relative)
                if hit is not None and (hit.mtime_ns, hit.size) == (found.mtime_ns, found.size):
                    taken += 1
                    if not first:  # a first build put it in already
                        self._put(path, self._from_cache(root, hit))
                    if taken % 64:
                        continue
                else:
                    self._index_file(root, path, found.relative, found.mtime_ns, found.size)
                time.sleep(0)  # let the event loop's thread have the interpreter between files
            for gone in [path for path, f in self.files() if f.root == root and path not in seen]:
                self._put(gone, None)
            if self.generation != before or len(cached) != sum(f.root == root for _, f in self.files()):
                self._save(root)
        self.from_cache = taken
        self.report = report
        self.build_seconds = time.perf_counter() - started
        self.built_at = self.clock()
        self.state = READY

    def refresh_now(self, path: Path) -> None:
        """Index ``path`` again from disk (or drop it when it is gone or no longer admitted), on this thread."""
        path = path.absolute()
        root = self.root_of(path)
        if root is None:
            return
        if path.name == IGNORE_FILE:  # the rules changed: which files are indexed may have too
            self.build_now()
            return
        why = admit(root, path, self.limits, self._ignores.get(root))
        if why:
            self._put(path, None)
            return
        try:
            stat = path.stat()
        except OSError:
            self._put(path, None)
            return
        self._index_file(root, path, path.relative_to(root).as_posix(), stat.st_mtime_ns, stat.st_size)

    # ---- the background worker ------------------------------------------------------------------

    def _submit(self, work: Callable[..., None], *args: object) -> Future[None] | None:
        if self._closed.is_set():
            return None
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infill-index",
                                              initializer=lower_priority)
        return self._worker.submit(self._guarded, work, *args)

    def _guarded(self, work: Callable[..., None], *args: object) -> None:
        try:
            work(*args)
        except Exception:  # one bad file or folder must not end the index
            log.exception("indexing failed")
            if self.state == BUILDING:
                self.state = READY

    def start(self) -> Future[None] | None:
        """Build in the background; returns the build's future."""
        return self._submit(self.build_now)

    def refresh(self, path: Path) -> Future[None] | None:
        """Index ``path`` again in the background, after the work already asked for."""
        return self._submit(self.refresh_now, path)

    def remove(self, path: Path) -> Future[None] | None:
        """Drop ``path`` (a file or a folder) in the background, after the work already asked for."""
        return self._submit(self._remove_now, path.absolute())

    def _remove_now(self, path: Path) -> None:
        for known, _ in self.files():
            if known == path or path in known.parents:
                self._put(known, None)

    def close(self) -> None:
        self._closed.set()
        self.state = CLOSED
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)


def module_keys(path: PurePath) -> set[str]:
    """The names an import may use for the file at ``path``, whatever its language's convention: both of
    ``module_names_of``'s (its stem, and its folder's name for languages that import folders)."""
    return module_names_of(str(path), False) | module_names_of(str(path), True)
