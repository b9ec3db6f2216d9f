"""Accepted fills become new file texts, unified diffs, and (with --write) atomic in-place replacements.

Writing never loses a file: the new text goes to a temporary file in the same folder, is fsynced, and
replaces the original with ``os.replace`` only if the original's hash still matches what was read and
its real path still lies inside the given roots. The mode of the original is kept. A run killed while
writing can leave its temporary file behind; the next write of the same file removes it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infill_lsp.batch.sources import inside, sha256_of

TEMP_SUFFIX = ".infill-tmp"


class WriteRefused(RuntimeError):
    """The file was not written (changed since read, outside the roots, or the write failed)."""


def apply_fills(text: str, fills: Iterable[tuple[int, int, str]]) -> str:
    """Return ``text`` with each (start, end, replacement) applied; spans must not overlap."""
    out, at = [], 0
    for start, end, replacement in sorted(fills):
        if start < at:
            raise ValueError(f"overlapping fills at offset {start}")
        out += [text[at:start], replacement]
        at = end
    out.append(text[at:])
    return "".join(out)


def unified_diff(display: str, before: str, after: str) -> str:
    """Return a git-style unified diff of one file (empty when nothing changed)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{display}",
        tofile=f"b/{display}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomically(
    path: Path, new_text: str, *, expected_sha256: str, mode: int, roots: list[Path]
) -> None:
    """Replace ``path`` by ``new_text`` atomically; raise WriteRefused without touching it otherwise."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise WriteRefused(f"{path} cannot be resolved now: {exc}") from None
    if real != path or not inside(real, roots):
        raise WriteRefused(f"{path} now resolves to {real}, outside the given paths")
    data = new_text.encode("utf-8")
    remove_stale_temps(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        try:
            current = sha256_of(path.read_bytes())
        except OSError as exc:
            raise WriteRefused(f"cannot re-read {path} before replacing it: {exc}") from None
        if current != expected_sha256:
            raise WriteRefused(f"{path} changed since it was read; not written (rerun to refill it)")
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def remove_stale_temps(path: Path) -> int:
    """Remove temporary files an interrupted write of ``path`` left beside it; return how many."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
