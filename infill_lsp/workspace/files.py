"""The files of a workspace folder worth indexing: known languages, not ignored, not excluded, within the caps.

A walk never leaves its root (a symbolic link is followed only to a place inside it, each folder once, so
link loops end), never reads a file the exclusion list names (secrets: ``.env*``, keys), and skips what git
ignores, files over the size cap and files that are not text (a NUL byte or invalid UTF-8 under a code
extension). It stops at the file and byte caps.
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grammars import LanguageEntry, entry_for_path
from infill_lsp.workspace.gitignore import GitIgnore

SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__"})
DEFAULT_EXCLUDE = (".env*", "*.pem", "*.key", "id_*")
BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexLimits:
    """What a walk may read: caps and the exclusion list (glob patterns over names or relative paths)."""

    max_files: int = 20_000
    max_file_bytes: int = 1_000_000
    max_total_bytes: int = 200_000_000
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE

    def __post_init__(self) -> None:
        for name in ("max_files", "max_file_bytes", "max_total_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file to index: where it is, its path relative to its root, and its language."""

    path: Path
    relative: str
    language: LanguageEntry
    size: int
    mtime_ns: int = 0


@dataclass(slots=True)
class WalkReport:
    """What a walk skipped, by reason, and whether a cap stopped it."""

    skipped: Counter[str] = field(default_factory=Counter)
    capped: str = ""  # "max_files" or "max_total_bytes" when a cap ended the walk


def excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    """Whether the exclusion list names ``relative`` (by its name, or its whole relative path)."""
    name = PurePosixPath(relative).name
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relative, p) for p in patterns)


def is_inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def admit(root: Path, path: Path, limits: IndexLimits, ignore: GitIgnore | None = None) -> str:
    """Why ``path`` is not indexed ("" when it is): outside, excluded, ignored, language, too-large, missing."""
    root = root.resolve()
    try:
        real = path.resolve()
    except OSError:
        return "missing"
    if not is_inside(real, root) or not is_inside(path.absolute(), root):
        return "outside"
    relative = path.absolute().relative_to(root).as_posix()
    parts = PurePosixPath(relative).parts
    if any(part in SKIPPED_FOLDERS for part in parts[:-1]):
        return "ignored"
    if any(excluded("/".join(parts[: i + 1]), limits.exclude) for i in range(len(parts))):
        return "excluded"
    if ignore is not None and ignore.ignored(relative):
        return "ignored"
    if entry_for_path(relative) is None:
        return "language"
    try:
        size = real.stat().st_size
    except OSError:
        return "missing"
    return "too-large" if size > limits.max_file_bytes else ""


def walk(root: Path, limits: IndexLimits, report: WalkReport | None = None) -> Iterator[FoundFile]:
    """The files of ``root`` to index, folder by folder in name order."""
    report = report if report is not None else WalkReport()
    root = root.resolve()
    ignore = GitIgnore(root)
    seen_folders: set[tuple[int, int]] = set()
    files = total = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            report.skipped["unreadable"] += 1
            continue
        if (info.st_dev, info.st_ino) in seen_folders:
            report.skipped["link-loop"] += 1
            continue
        seen_folders.add((info.st_dev, info.st_ino))
        below: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix() if folder != root else entry.name
            try:
                is_dir = entry.is_dir()
                is_link = entry.is_symlink()
            except OSError:
                report.skipped["unreadable"] += 1
                continue
            if is_link:
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):  # a dangling link or a loop of links
                    report.skipped["link-loop"] += 1
                    continue
                if not is_inside(target, root):
                    report.skipped["outside"] += 1
                    continue
            if is_dir:
                if entry.name in SKIPPED_FOLDERS or excluded(relative, limits.exclude):
                    report.skipped["excluded" if entry.name not in SKIPPED_FOLDERS else "ignored"] += 1
                elif ignore.ignored_here(relative, True):
                    report.skipped["ignored"] += 1
                else:
                    below.append(path)
                continue
            if excluded(relative, limits.exclude):
                report.skipped["excluded"] += 1
                continue
            language = entry_for_path(entry.name)
            if language is None:
                continue
            if ignore.ignored_here(relative, False):
                report.skipped["ignored"] += 1
                continue
            try:
                stat = entry.stat()
            except OSError:
                report.skipped["unreadable"] += 1
                continue
            size = stat.st_size
            if size > limits.max_file_bytes:
                report.skipped["too-large"] += 1
                continue
            if files >= limits.max_files:
                report.capped = "max_files"
                return
            if total + size > limits.max_total_bytes:
                report.capped = "max_total_bytes"
                return
            files, total = files + 1, total + size
            yield FoundFile(path, relative, language, size, stat.st_mtime_ns)
        stack.extend(reversed(below))


def read_code(path: Path, max_bytes: int) -> str | None:
    """The text of a code file; None when it is unreadable, over ``max_bytes``, or not text."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\x00" in data[:BINARY_PROBE_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
