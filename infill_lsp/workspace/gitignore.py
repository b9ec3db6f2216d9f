"""Git's ignore rules: ``.gitignore`` files at any depth and ``.git/info/exclude``, as git reads them.

Written here rather than taken from a library: the well-kept one (``pathspec``) is MPL-2.0, and this project
depends on permissively licensed packages only. What it implements (git's ``gitignore(5)``): comments and
blank lines, ``\\`` escapes, trailing spaces, ``!`` negation, a trailing ``/`` for directories only, a
pattern with a ``/`` before its end anchored at its file's folder (else matched at any depth), ``*``, ``?``,
``[...]`` classes, and ``**`` as a leading, middle or trailing path element. The last matching rule wins,
deeper files after shallower ones; a path inside an ignored folder is ignored (git never looks inside).
Not read: the user's global ``core.excludesFile``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IGNORE_FILE = ".gitignore"
EXCLUDE_FILE = Path(".git") / "info" / "exclude"
MAX_IGNORE_FILE_BYTES = 1_000_000  # a larger .gitignore is read up to here


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern line: its regex over paths relative to the rule file's folder."""

    regex: re.Pattern[str]
    negated: bool
    directories_only: bool


def _segment(part: str) -> str:
    """The regex of one path element's glob (``*``, ``?``, ``[...]``, ``\\`` escapes)."""
    out: list[str] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "\\" and i + 1 < len(part):
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if c == "*":
            while i + 1 < len(part) and part[i + 1] == "*":  # "**" inside an element is one "*"
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = part.find("]", i + 2 if part[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = part[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
                out.append(f"[^/{body}]" if negate else f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_rule(line: str) -> Rule | None:
    """The rule of one ``.gitignore`` line; None for blank lines and comments."""
    line = line.rstrip("\r\n")
    if not line or line.startswith("#"):
        return None
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(line) > len(stripped):  # "\ " keeps one trailing space
        stripped += " "
    line = stripped
    negated = line.startswith("!")
    if negated or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    directories_only = line.endswith("/") and not line.endswith("\\/")
    line = line.rstrip("/") if directories_only else line
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    parts = line.split("/")
    regex = "" if anchored else "(?:.*/)?"
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".+" if last else "(?:[^/]+/)*"
        else:
            regex += _segment(part) + ("" if last else "/")
    try:
        return Rule(re.compile(regex, re.DOTALL), negated, directories_only)
    except re.error:
        return None


def parse_rules(text: str) -> list[Rule]:
    return [rule for line in text.splitlines() if (rule := parse_rule(line)) is not None]


def _decide(rules: list[Rule], relative: str, is_dir: bool, current: bool | None) -> bool | None:
    """The verdict of ``rules`` on ``relative`` (None: no rule matched), starting from ``current``."""
    for rule in rules:
        if rule.directories_only and not is_dir:
            continue
        if rule.regex.fullmatch(relative):
            current = not rule.negated
    return current


class GitIgnore:
    """The ignore rules of one workspace folder; each folder's ``.gitignore`` is read once, on first need."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._rules: dict[str, list[Rule]] = {}  # folder (relative, "" for the root) -> its .gitignore's rules
        self._exclude = parse_rules(_read(root / EXCLUDE_FILE))

    def rules_of(self, folder: str) -> list[Rule]:
        rules = self._rules.get(folder)
        if rules is None:
            rules = self._rules[folder] = parse_rules(_read(self.root / folder / IGNORE_FILE))
        return rules

    def forget(self, folder: str | None = None) -> None:
        """Read the ``.gitignore`` of ``folder`` (every folder: None) again when next needed."""
        if folder is None:
            self._rules.clear()
            self._exclude = parse_rules(_read(self.root / EXCLUDE_FILE))
        else:
            self._rules.pop(folder, None)

    def ignored_here(self, relative: str, is_dir: bool) -> bool:
        """Whether ``relative`` itself is ignored by the rules of its folders (its parents not considered)."""
        path = PurePosixPath(relative)
        verdict = _decide(self._exclude, relative, is_dir, None)
        folders = [""] + [str(p) for p in reversed(path.parents) if str(p) != "."]
        for folder in folders:
            if folder == relative:
                continue
            below = relative if not folder else relative[len(folder) + 1 :]
            verdict = _decide(self.rules_of(folder), below, is_dir, verdict)
        return bool(verdict)

    def ignored(self, relative: str, is_dir: bool = False) -> bool:
        """Whether ``relative`` (a path under the root, ``/``-separated) is ignored, or lies in an ignored folder."""
        path = PurePosixPath(relative)
        for parent in reversed(path.parents):
            if str(parent) != "." and self.ignored_here(str(parent), True):
                return True
        return self.ignored_here(relative, is_dir)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_IGNORE_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
