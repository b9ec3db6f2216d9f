"""Accepted fills become new file texts, unified diffs, and (with --write) atomic in-place replacements.

Writing never loses a file: the new text goes to a temporary file in the same folder, is fsynced, and
replaces the original with ``os.replace`` only if the original's hash still matches what was read and
its real path still lies inside the given roots. The mode of the original is kept.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infill_lsp.batch.sources import inside, sha256_of


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
    real = path.resolve()
    if real != path or not inside(real, roots):
        raise WriteRefused(f"{path} now resolves to {real}, outside the given paths")
    data = new_text.encode("utf-8")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".infill-tmp", dir=path.parent)
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
