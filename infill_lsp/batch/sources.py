"""The files a batch run may read and write: found under the given roots, read once, checked, hashed.

Symlinks are resolved and any file whose real path leaves the given roots is refused. Binary,
undecodable, huge or unsupported files become a ``Skipped`` entry with the reason, never an exception.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "target", "vendor"})
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # resolved, inside one of the roots
    display: str  # as the user would name it (relative to the working directory when possible)
    text: str
    sha256: str
    mode: int
    language: str


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_path(path: Path, cwd: Path | None = None) -> str:
    base = cwd or Path.cwd()
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)


def resolve_roots(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Skipped]]:
    """Resolve the given paths (symlinks followed); a path that does not exist is skipped."""
    roots, skipped = [], []
    for raw in paths:
        try:
            roots.append(Path(raw).resolve(strict=True))
        except (OSError, RuntimeError) as exc:
            skipped.append(Skipped(str(raw), f"cannot resolve: {exc}"))
    return roots, skipped


def inside(path: Path, roots: Iterable[Path]) -> bool:
    """True when resolved ``path`` is one of ``roots`` or lies under one of them."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def find_files(roots: list[Path], language_of) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """Return (resolved file, language) pairs under ``roots`` in a stable order, and what was refused.

    ``language_of(path)`` returns a language name or None. Hidden folders and dependency folders are
    not entered. A file named directly is reported when its language is unsupported; files found by
    walking are ignored silently then.
    """
    found: dict[Path, str] = {}
    skipped: list[Skipped] = []
    for root in roots:
        if root.is_file():
            candidates: Iterable[tuple[Path, bool]] = [(root, True)]
        elif root.is_dir():
            candidates = ((p, False) for p in _walk(root))
        else:
            skipped.append(Skipped(str(root), "not a regular file or folder"))
            continue
        for path, named in candidates:
            try:
                real = path.resolve(strict=True)
            except FileNotFoundError:  # a dangling link, or a file gone meanwhile
                continue
            except (OSError, RuntimeError) as exc:
                loop = isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP
                why = "a symlink loop" if loop else f"cannot resolve: {exc.strerror or exc}"
                skipped.append(Skipped(str(path), why))
                continue
            if not inside(real, roots):
                skipped.append(Skipped(str(path), f"resolves to {real}, outside the given paths"))
                continue
            if not real.is_file():
                continue
            language = language_of(real)
            if language is None:
                if named:
                    skipped.append(Skipped(str(path), "no supported language for this file extension"))
                continue
            found.setdefault(real, language)
    return sorted(found.items()), skipped


def _walk(root: Path) -> Iterable[Path]:
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            yield Path(folder) / name


def read_source(
    path: Path, language: str, *, max_bytes: int, cwd: Path | None = None
) -> SourceFile | Skipped:
    """Read ``path`` as UTF-8 text, or say why it cannot be processed."""
    shown = display_path(path, cwd)
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            return Skipped(shown, f"too large ({stat.st_size} bytes > --max-file-bytes {max_bytes})")
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(shown, f"cannot read: {exc.strerror or exc}")
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return Skipped(shown, "binary file (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(shown, f"not valid UTF-8 (byte {exc.start})")
    return SourceFile(path, shown, text, sha256_of(data), stat.st_mode & 0o7777, language)
