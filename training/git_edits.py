"""Real edits from git histories: small one-hunk rewrites of a file, with the file around them, as edit cases.

For each commit of a bare git mirror (``git clone --mirror``, or the mirrors under ``/work/.mirror``), each
hunk that rewrites 1-3 lines of a source file into 1-3 others becomes an ``EditCase``: ``before`` and
``after`` are the hunk's old and new lines, and the prefix and suffix come from the file *after* the commit,
so the commit's other hunks are already made, as when a user has made some edits and one is still due.
A commit counts only where its repository's license, read at that commit, is MIT, Apache-2.0 or BSD; the
license of every commit used is recorded beside the edits.

``python -m training.git_edits build --git-dir DIR... --out FILE`` writes JSON lines (gzip) and a manifest
``FILE.manifest.json`` (repositories, head commits, licenses, counts); ``load_edit_cases`` reads them back.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
from pathlib import Path

from training.edit_examples import EditCase
from training.filters import language_of

# Repositories kept out of the edit data: another task benchmarks on them.
EXCLUDED = ("pallets/", "python-attrs/attrs", "psf/requests", "encode/httpx", "tiangolo/typer")
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE.rst", "COPYING", "LICENSE-MIT", "LICENSE-APACHE")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_LINES = 3
MAX_CHARS = 200
CONTEXT_CHARS = 3000
MAX_FILES_PER_COMMIT = 8  # larger commits are sweeping changes (reformatting, renames across the tree)
MAX_EDITS_PER_COMMIT = 8  # spread over the commit's hunks: one commit repeating an edit 50 times is one lesson


def license_of_text(text: str) -> str | None:
    """The SPDX id of a license text that is MIT, Apache-2.0, BSD-2-Clause or BSD-3-Clause; None otherwise."""
    flat = " ".join(text.split())
    if "GNU GENERAL PUBLIC" in flat.upper() or "Mozilla Public License" in flat:
        return None
    if "Apache License" in flat and "Version 2.0" in flat:
        return "Apache-2.0"
    if "Permission is hereby granted, free of charge" in flat:
        return "MIT"
    if "Redistribution and use in source and binary forms" in flat:
        return "BSD-3-Clause" if "endorse or promote" in flat else "BSD-2-Clause"  # the no-endorsement clause
    return None


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True,
                          text=True, errors="replace").stdout


def license_blob(git_dir: Path, commit: str) -> str | None:
    """The object id of the repository's top-level license file at ``commit``, or None."""
    blobs = {}
    for line in _git(git_dir, "ls-tree", commit).split("\n"):
        meta, _, name = line.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == "blob":
            blobs[name] = fields[2]
    return next((blobs[name] for name in LICENSE_FILES if name in blobs), None)


def license_at(git_dir: Path, commit: str, cache: dict[str, str | None] | None = None) -> str | None:
    """The license of the repository at ``commit`` (its top-level license file), or None; ``cache`` maps the
    license files already read to their licenses."""
    blob = license_blob(git_dir, commit)
    if blob is None:
        return None
    cache = {} if cache is None else cache
    if blob not in cache:
        cache[blob] = license_of_text(_git(git_dir, "cat-file", "blob", blob))
    return cache[blob]


def hunk_edits(old_text: str, new_text: str, diff: str) -> list[EditCase]:
    """The edit cases of a ``git diff -U0`` of one file: hunks that rewrite 1-3 lines into 1-3 lines."""
    new_lines = new_text.split("\n")
    old_lines = old_text.split("\n")
    out = []
    for line in diff.split("\n"):
        match = _HUNK.match(line)
        if not match:
            continue
        old_start, old_count = int(match[1]), int(match[2] if match[2] is not None else 1)
        new_start, new_count = int(match[3]), int(match[4] if match[4] is not None else 1)
        if not (1 <= old_count <= MAX_LINES and 1 <= new_count <= MAX_LINES):
            continue  # pure insertions and deletions have no draft or no answer; long hunks are not follow-ups
        before = "\n".join(old_lines[old_start - 1 : old_start - 1 + old_count])
        after = "\n".join(new_lines[new_start - 1 : new_start - 1 + new_count])
        if before.split() == after.split() or not before.strip() or not after.strip():
            continue  # whitespace only, or a blank side
        if len(before) > MAX_CHARS or len(after) > MAX_CHARS:
            continue
        prefix = "\n".join(new_lines[: new_start - 1])
        prefix = prefix + "\n" if new_start > 1 else ""
        suffix = "\n" + "\n".join(new_lines[new_start - 1 + new_count :])
        out.append(EditCase(prefix[-CONTEXT_CHARS:], before, after, suffix[:CONTEXT_CHARS], "git"))
    return out


def repo_name(git_dir: Path) -> str:
    """``owner/name`` of a mirror at ``.../owner+name/repo`` (or ``owner+name``); else the folder's name."""
    for part in (git_dir.name, git_dir.parent.name):
        if "+" in part:
            return part.replace("+", "/", 1)
    return git_dir.name


def build(git_dirs: list[Path], out: Path, max_commits: int = 2000, max_edits: int = 5000) -> dict:
    """Write the edits of ``git_dirs`` to ``out`` (JSON lines, gzip) and its manifest; return the manifest."""
    repos = []
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as sink:
        for git_dir in git_dirs:
            name = repo_name(git_dir)
            if any(name == e or (e.endswith("/") and name.startswith(e)) for e in EXCLUDED):
                raise ValueError(f"{name} is kept out of the edit data (another task benchmarks on it)")
            head = _git(git_dir, "rev-parse", "HEAD").strip()
            commits = _git(git_dir, "rev-list", "--no-merges", f"--max-count={max_commits}", "HEAD").split()
            record = {"repo": name, "head": head, "commits_scanned": len(commits), "commits_used": 0,
                      "edits": 0, "licenses": {}, "skipped_license": 0}
            license_cache: dict[str, str | None] = {}
            for commit in commits:
                if written >= max_edits:
                    break
                spdx = license_at(git_dir, commit, license_cache)
                if spdx is None:
                    record["skipped_license"] += 1
                    continue
                parents = _git(git_dir, "rev-list", "--parents", "-n", "1", commit).split()
                if len(parents) != 2:
                    continue  # the root commit
                changed = _git(git_dir, "diff", "--name-only", "--diff-filter=M", parents[1], commit).split("\n")
                changed = [p for p in changed if p and language_of(p)]
                if not changed or len(changed) > MAX_FILES_PER_COMMIT:
                    continue
                found = []
                for path in changed:
                    diff = _git(git_dir, "diff", "-U0", parents[1], commit, "--", path)
                    old_text = _git(git_dir, "show", f"{parents[1]}:{path}")
                    new_text = _git(git_dir, "show", f"{commit}:{path}")
                    found += [(path, case) for case in hunk_edits(old_text, new_text, diff)]
                stride = max(1, -(-len(found) // MAX_EDITS_PER_COMMIT))
                used = 0
                for path, case in found[::stride]:
                    row = {"repo": name, "commit": commit, "license": spdx, "path": path,
                           "language": language_of(path), "prefix": case.prefix, "before": case.before,
                           "after": case.after, "suffix": case.suffix}
                    sink.write(json.dumps(row) + "\n")
                    used += 1
                if used:
                    written += used
                    record["commits_used"] += 1
                    record["edits"] += used
                    record["licenses"][spdx] = record["licenses"].get(spdx, 0) + 1
            repos.append(record)
    manifest = {"out": out.name, "edits": written, "repos": repos,
                "limits": {"max_lines": MAX_LINES, "max_chars": MAX_CHARS, "max_files_per_commit": MAX_FILES_PER_COMMIT,
                           "max_edits_per_commit": MAX_EDITS_PER_COMMIT}}
    Path(f"{out}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_edit_cases(path: Path) -> list[tuple[EditCase, str]]:
    """(EditCase, language) pairs of a file written by ``build``; ValueError when it holds none."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as source:
        for line in source:
            row = json.loads(line)
            out.append((EditCase(row["prefix"], row["before"], row["after"], row["suffix"], "git"), row["language"]))
    if not out:
        raise ValueError(f"{path} holds no edits")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.git_edits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("build", help="extract edits from bare git mirrors")
    cmd.add_argument("--git-dir", type=Path, action="append", required=True, help="a bare repository (repeatable)")
    cmd.add_argument("--out", type=Path, required=True, help="the edits file to write (.jsonl.gz)")
    cmd.add_argument("--max-commits", type=int, default=2000, help="newest commits scanned per repository")
    cmd.add_argument("--max-edits", type=int, default=5000, help="stop after this many edits in all")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.git_dir, args.out, args.max_commits, args.max_edits)
    except (ValueError, subprocess.CalledProcessError) as exc:
        parser.error(str(exc))
    for repo in manifest["repos"]:
        print(f"{repo['repo']} @ {repo['head'][:12]}: {repo['edits']} edits from {repo['commits_used']} of "
              f"{repo['commits_scanned']} commits, licenses {repo['licenses']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
