"""Read a repository's history and files from a bare git directory, for the benchmark builders.

Plain ``git`` subprocesses (``--git-dir``, no work tree): commits, the files a commit changes, a file's
bytes at a commit, its zero-context hunks, and the license at the commit. Files are filtered as the
training corpus filters them (vendored, minified, generated, binary), so the benchmarks see hand-written
code only.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grammars import LanguageEntry, entry_for_path
from training.filters import MIN_BYTES, content_reason, decode_text, path_reason

NOT_CODE = frozenset({"markdown", "json", "yaml", "toml", "html", "css", "sql"})  # data and prose, not edits
MAX_FILE_BYTES = 48 * 1024
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE.rst", "LICENSE-MIT", "COPYING")


class GitError(RuntimeError):
    """A git command failed (not a git directory, an unknown commit)."""


@dataclass(frozen=True, slots=True)
class Hunk:
    """One zero-context hunk: ``old_count`` lines at 0-based ``old_start`` of the old text became
    ``new_count`` lines at ``new_start`` of the new text (a count of 0: a pure insertion or deletion, and
    the start is the line before which it happens)."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int


class Repository:
    """A bare git directory, read through ``git``."""

    def __init__(self, git_dir: Path | str, rev: str = "HEAD") -> None:
        self.git_dir = Path(git_dir)
        self.rev = rev  # the commit whose history and tree are read
        self.git(["rev-parse", "--git-dir"])  # fail early and clearly on a folder that is not git

    def git(self, args: list[str]) -> bytes:
        try:
            done = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True,
                                  timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {' '.join(args[:2])}: {exc}") from None
        if done.returncode != 0:
            raise GitError(f"git {' '.join(args[:3])} in {self.git_dir}: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def head(self) -> str:
        """The commit ``rev`` names."""
        return self.git(["rev-parse", "--verify", f"{self.rev}^{{commit}}"]).decode().strip()

    def commits(self, limit: int = 0) -> list[str]:
        """Non-merge commits with one parent up to ``rev``, newest first."""
        args = ["rev-list", "--no-merges", "--min-parents=1", "--max-parents=1", self.head()]
        return self.git(args + ([f"--max-count={limit}"] if limit else [])).decode().split()

    def changed_files(self, commit: str) -> list[tuple[str, str]]:
        """(status letter, path) of each file ``commit`` changes against its parent (renames not followed)."""
        out = self.git(["diff-tree", "-r", "--no-commit-id", "--no-renames", "-z", "--name-status", commit])
        parts = out.decode("utf-8", "replace").split("\0")
        return [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]

    def files(self, commit: str) -> list[str]:
        out = self.git(["ls-tree", "-r", "-z", "--name-only", commit])
        return [p for p in out.decode("utf-8", "replace").split("\0") if p]

    def blob(self, commit: str, path: str) -> bytes | None:
        try:
            return self.git(["show", f"{commit}:{path}"])
        except GitError:
            return None

    def hunks(self, commit: str, path: str) -> list[Hunk]:
        """The zero-context hunks of ``path`` in ``commit`` against its parent, top to bottom."""
        out = self.git(["diff", "-U0", "--no-color", "--no-ext-diff", f"{commit}^", commit, "--", path])
        found = []
        for line in out.decode("utf-8", "replace").splitlines():
            if match := HUNK_HEADER.match(line):
                old, old_n, new, new_n = (int(g) if g is not None else 1 for g in match.groups())
                # A count of 0 names the line *after which* the change happens (1-based); otherwise its first line.
                found.append(Hunk(old - 1 if old_n else old, old_n, new - 1 if new_n else new, new_n))
        return found

    def license_text(self, commit: str) -> tuple[str, str]:
        """(file name, text) of the license at ``commit``; ("", "") when none of the usual names exists."""
        for name in LICENSE_FILES:
            data = self.blob(commit, name)
            if data is not None:
                return name, data.decode("utf-8", "replace")
        return "", ""


def code_language(path: str) -> LanguageEntry | None:
    """The language of a hand-written code file at ``path``; None for unknown, data, prose or vendored."""
    entry = entry_for_path(path)
    if entry is None or entry.name in NOT_CODE or path_reason(path):
        return None
    return entry


def source_text(data: bytes | None, max_bytes: int = MAX_FILE_BYTES, keep_small: bool = False) -> str | None:
    """The text of a file fit for a benchmark: not huge, binary, generated or minified, and not tiny unless
    ``keep_small`` (a short ``__init__.py`` still re-exports names); else None."""
    if data is None or len(data) > max_bytes:
        return None
    if keep_small and len(data) < MIN_BYTES:
        return decode_text(data)
    reason, text = content_reason(data)
    return text if reason is None else None


SPDX_HINTS = (
    ("Apache-2.0", re.compile(r"Apache License\s+Version 2\.0", re.I)),
    ("MIT", re.compile(r"Permission is hereby granted, free of charge", re.I)),
    ("BSD-3-Clause", re.compile(r"Neither the name of .{0,200}? nor the names", re.I | re.S)),
    ("BSD-2-Clause", re.compile(r"Redistributions in binary form must reproduce", re.I)),
)


def license_id(text: str) -> str:
    """The permissive license a license text is (MIT, Apache-2.0, BSD-3-Clause, BSD-2-Clause); "" otherwise."""
    return next((spdx for spdx, pattern in SPDX_HINTS if pattern.search(text)), "")
