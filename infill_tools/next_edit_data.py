"""The next-edit benchmark's cases, built from a repository's commits, and read back.

A commit that changes one code file with 2 to 6 hunks (``git diff -U0``) gives an *edit case*: its hunks
are applied top to bottom, the first k are the history and the next one, within ``NEAR_LINES`` of the last
edited place, is the expected edit. (The order is the file's, not necessarily the order the author typed
them: a known limit of benchmarks built from commits.) A commit that changes one code file with a single
small hunk gives a *noise case*: the history is that hunk and nothing more is expected. Whitespace-only
hunks are applied silently (never history, never expected); commits with a large hunk are skipped.

Offsets are ``str`` indices into ``Case.text`` (the file with the history applied); lines are 0-based.

Build the data from a bare git directory (the vendored data's commands are in its README)::

    python -m infill_tools.next_edit_data build --git-dir DIR [--repo OWNER/NAME] [--rev COMMIT] --out FILE \
        [--max-cases N]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from infill_tools.git_history import GitError, Hunk, Repository, code_language, license_id, source_text

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "next-edit" / "next-edit.jsonl.xz"
NEAR_LINES = 30  # the expected edit starts within this many lines of the end of the last history hunk
MIN_HUNKS, MAX_HUNKS = 2, 6
MAX_HUNK_LINES = 12  # old or new lines of one hunk; larger changes are rewrites, not next edits
MAX_NOISE_LINES = 4


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` with ``new_text`` (offsets into the case's current text)."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class HistoryEdit:
    """One past edit: lines ``old`` became ``new`` at line ``start_line`` of the text as it was then (which is
    also where ``new`` lies in the case's text); ``diff`` is the same as a unified diff hunk."""

    old: str
    new: str
    start_line: int
    diff: str


@dataclass(frozen=True, slots=True)
class Case:
    """A file after its recent edits, the cursor at the end of the last one, and the edit expected next
    (None for a noise case: no edit is expected)."""

    id: str
    repo: str
    commit: str
    path: str
    language: str
    text: str
    cursor: int
    history: tuple[HistoryEdit, ...]
    expected: Edit | None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> Case:
        expected = row.get("expected")
        return cls(id=row["id"], repo=row["repo"], commit=row["commit"], path=row["path"], language=row["language"],
                   text=row["text"], cursor=row["cursor"], history=tuple(HistoryEdit(**h) for h in row["history"]),
                   expected=Edit(**expected) if expected else None)  # fmt: skip


def open_text(path: Path):
    """``path`` opened for reading text: xz-compressed when it ends in .xz, gzip'd in .gz, plain otherwise."""
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(Path(path).suffix, open)
    return opener(path, "rt", encoding="utf-8")


def write_jsonl(rows: list[dict], out: Path) -> None:
    """Write ``rows`` as JSON lines, compressed by the name's suffix (.xz, .gz) the same way each time."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode("utf-8")
    if out.suffix == ".xz":
        data = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    elif out.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    out.write_bytes(data)


def load_cases(path: Path, limit: int = 0) -> list[Case]:
    """The cases of a JSON-lines file (see ``open_text``); the first ``limit`` (0: all)."""
    cases = []
    with open_text(path) as handle:
        for line in handle:
            if line.strip():
                cases.append(Case.from_json(json.loads(line)))
                if limit and len(cases) >= limit:
                    break
    return cases


# ---- applying hunks -------------------------------------------------------------------------------------


def apply_hunks(old: list[str], new: list[str], hunks: list[Hunk]) -> list[str]:
    """``old`` (lines with their ends) with ``hunks`` applied, bottom to top so earlier positions hold."""
    lines = list(old)
    for hunk in sorted(hunks, key=lambda h: h.old_start, reverse=True):
        lines[hunk.old_start : hunk.old_start + hunk.old_count] = new[hunk.new_start : hunk.new_start + hunk.new_count]
    return lines


def position_in(hunk: Hunk, applied: list[Hunk]) -> int:
    """The line where ``hunk`` starts once the ``applied`` hunks (all above it) are in."""
    return hunk.old_start + sum(h.new_count - h.old_count for h in applied)


def is_whitespace_only(hunk: Hunk, old: list[str], new: list[str]) -> bool:
    before = "".join(old[hunk.old_start : hunk.old_start + hunk.old_count])
    after = "".join(new[hunk.new_start : hunk.new_start + hunk.new_count])
    return "".join(before.split()) == "".join(after.split())


def unified_hunk(path: str, old_lines: list[str], new_lines: list[str], old_at: int, new_at: int) -> str:
    """A zero-context unified diff of one change (1-based numbers, ``git diff -U0``'s convention)."""

    def span(at: int, count: int) -> str:
        return f"{at + 1 if count else at},{count}"

    body = [f"-{line.rstrip(chr(10))}" for line in old_lines] + [f"+{line.rstrip(chr(10))}" for line in new_lines]
    header = f"@@ -{span(old_at, len(old_lines))} +{span(new_at, len(new_lines))} @@"
    return "\n".join([f"--- a/{path}", f"+++ b/{path}", header, *body]) + "\n"


def history_edit(path: str, hunk: Hunk, old: list[str], new: list[str], applied: list[Hunk]) -> HistoryEdit:
    at = position_in(hunk, applied)
    old_lines = old[hunk.old_start : hunk.old_start + hunk.old_count]
    new_lines = new[hunk.new_start : hunk.new_start + hunk.new_count]
    return HistoryEdit("".join(old_lines), "".join(new_lines), at, unified_hunk(path, old_lines, new_lines, at, at))


def line_offset(lines: list[str], line: int) -> int:
    return sum(len(text) for text in lines[:line])


def end_of(edit: HistoryEdit, lines: list[str]) -> int:
    """The offset just after the new text of ``edit`` (before its last newline): where the cursor is left."""
    start = line_offset(lines, edit.start_line)
    return start + len(edit.new.removesuffix("\n"))


def file_cases(repo: str, commit: str, path: str, old_text: str, new_text: str, hunks: list[Hunk]) -> list[Case]:
    """The cases one file's change in one commit gives: an edit case, a noise case, or none."""
    entry = code_language(path)
    if entry is None:
        return []
    old, new = old_text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    if "".join(apply_hunks(old, new, hunks)) != new_text:
        return []  # hunk headers that do not describe the change (should not happen): skip, never guess
    quiet = [h for h in hunks if is_whitespace_only(h, old, new)]
    real = [h for h in hunks if h not in quiet]
    if any(max(h.old_count, h.new_count) > MAX_HUNK_LINES for h in real):
        return []
    key = hashlib.blake2b(f"{commit}:{path}".encode(), digest_size=6).hexdigest()
    if len(real) == 1 and max(real[0].old_count, real[0].new_count) <= MAX_NOISE_LINES:
        lines = apply_hunks(old, new, hunks)
        edit = history_edit(path, real[0], old, new, [h for h in quiet if h.old_start < real[0].old_start])
        return [Case(id=f"noise-{key}", repo=repo, commit=commit, path=path, language=entry.name,
                     text="".join(lines), cursor=end_of(edit, lines), history=(edit,), expected=None)]  # fmt: skip
    if not MIN_HUNKS <= len(real) <= MAX_HUNKS:
        return []
    choices = []
    for k in range(1, len(real)):
        applied = [h for h in hunks if h.old_start < real[k].old_start and (h in quiet or h in real[:k])]
        last_end = position_in(real[k - 1], applied[: applied.index(real[k - 1])]) + real[k - 1].new_count
        if position_in(real[k], applied) - last_end <= NEAR_LINES:
            choices.append((k, applied))
    if not choices:
        return []
    k, applied = choices[int(key, 16) % len(choices)]  # one case per file change, picked by its key
    lines = apply_hunks(old, new, applied)
    history = [history_edit(path, h, old, new, [a for a in applied if a.old_start < h.old_start]) for h in real[:k]]
    target = real[k]
    start = line_offset(lines, position_in(target, applied))
    removed = "".join(old[target.old_start : target.old_start + target.old_count])
    added = "".join(new[target.new_start : target.new_start + target.new_count])
    return [Case(id=f"edit-{key}", repo=repo, commit=commit, path=path, language=entry.name, text="".join(lines),
                 cursor=end_of(history[-1], lines), history=tuple(history),
                 expected=Edit(start, start + len(removed), added))]  # fmt: skip


def build_cases(repository: Repository, repo: str, max_cases: int = 0, noise_share: float = 0.3) -> list[Case]:
    """Cases from every suitable commit with a permissive license file, newest first: at most ``max_cases``
    (0: all), of which about ``noise_share`` are noise cases."""
    edits: list[Case] = []
    noise: list[Case] = []
    for commit in repository.commits():
        changed = [(status, path) for status, path in repository.changed_files(commit) if code_language(path)]
        if len(changed) != 1 or changed[0][0] != "M":
            continue
        path = changed[0][1]
        old_text = source_text(repository.blob(f"{commit}^", path))
        new_text = source_text(repository.blob(commit, path))
        if old_text is None or new_text is None:
            continue
        found = file_cases(repo, commit, path, old_text, new_text, repository.hunks(commit, path))
        if found and not license_id(repository.license_text(commit)[1]):
            continue  # the history of a repository before (or without) a permissive license file is left out
        for case in found:
            (noise if case.expected is None else edits).append(case)
        if max_cases and len(edits) >= max_cases and len(noise) >= max_cases:
            break
    if not max_cases:
        return edits + noise
    wanted_noise = min(len(noise), round(max_cases * noise_share))
    chosen_edits = edits[: max_cases - wanted_noise]
    return chosen_edits + noise[: max_cases - len(chosen_edits)]


def write_cases(cases: list[Case], out: Path) -> None:
    """Write ``cases`` as JSON lines, by repository, path and commit (so versions of one file lie together
    and an .xz file stores their common text once)."""
    ordered = sorted(cases, key=lambda c: (c.repo, c.path, c.commit, c.id))
    write_jsonl([case.to_json() for case in ordered], out)


def checked_repository(git_dir: Path, rev: str = "HEAD") -> tuple[Repository, str]:
    """The repository at ``git_dir`` and its license (SPDX id) at ``rev``; GitError when it is not permissive."""
    repository = Repository(git_dir, rev)
    name, text = repository.license_text(repository.head())
    spdx = license_id(text)
    if not spdx:
        raise GitError(f"{git_dir}: no MIT, Apache-2.0 or BSD license file at {rev} ({name or 'none found'})")
    return repository, spdx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.next_edit_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build cases from bare git directories")
    build.add_argument("--git-dir", type=Path, required=True, action="append", metavar="DIR",
                       help="a (bare) git directory; repeat for several repositories")
    build.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME",
                       help="the name recorded for each --git-dir, in the same order (default: the folder's name)")
    build.add_argument("--rev", action="append", default=[], metavar="COMMIT",
                       help="the commit to read each --git-dir's history up to, in the same order (default: HEAD)")
    build.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help="write the cases here (.jsonl.xz, .jsonl.gz or .jsonl)")
    build.add_argument("--max-cases", type=int, default=0, metavar="N",
                       help="at most N cases per repository (0: all)")
    args = parser.parse_args(argv)
    if args.max_cases < 0:
        parser.error("--max-cases must be >= 0")
    if any(given and len(given) != len(args.git_dir) for given in (args.repo, args.rev)):
        parser.error("give one --repo (and one --rev) per --git-dir, or none")
    cases: list[Case] = []
    for number, git_dir in enumerate(args.git_dir):
        repo = args.repo[number] if args.repo else git_dir.resolve().name.removesuffix(".git")
        try:
            repository, spdx = checked_repository(git_dir, args.rev[number] if args.rev else "HEAD")
            found = build_cases(repository, repo, args.max_cases)
        except GitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        noise = sum(case.expected is None for case in found)
        print(f"{repo} ({spdx}) at {repository.head()}: {len(found) - noise} edit cases, {noise} noise cases",
              file=sys.stderr)
        cases += found
    write_cases(cases, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def line_start(text: str, line: int) -> int:
    """The offset where 0-based ``line`` starts (the text's end past the last line)."""
    at = 0
    for _ in range(line):
        found = text.find("\n", at)
        if found < 0:
            return len(text)
        at = found + 1
    return at
