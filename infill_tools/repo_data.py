"""The repository benchmark's cases: lines that use a name defined in another file of the repository, blanked.

At one commit of a Python repository, each file's imports are resolved to the repository's own files
(``from pkg.mod import Name``, ``from . import mod`` then ``mod.Name``, ``import pkg.mod as m`` then
``m.Name``, re-exports through ``__init__.py`` followed), the top-level definitions of each file are
found with the grammar's ``definitions.scm``, and a line that is one whole statement using such a name is
a case: the line is blanked (its indentation stays in the prefix), and the case records the definitions
it needs. The repository's source files travel with the cases, so a context source can be run over the
same workspace (with the case's line blanked in its file).

Build the data from bare git directories (the vendored data's command is in its README)::

    python -m infill_tools.repo_data build --git-dir DIR [--repo OWNER/NAME] [--rev COMMIT] --out FILE
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from infill_tools.git_history import GitError, Repository, code_language, license_id, source_text
from infill_tools.next_edit_data import open_text, write_jsonl

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "repo" / "repo.jsonl.xz"
SOURCE_ROOTS = ("", "src/")  # where a repository's top-level packages live
MAX_CASES_PER_FILE = 10
MIN_LINE_CHARS, MAX_LINE_CHARS = 8, 120
RE_EXPORT_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Needed:
    """A definition a blanked line uses: where it is (``line`` 0-based) and its first line (``signature``)."""

    path: str
    name: str
    line: int
    signature: str


@dataclass(frozen=True, slots=True)
class RepoCase:
    """A file of a repository with one line blanked: ``prefix + expected_line + suffix`` is the file."""

    id: str
    repo: str
    commit: str
    path: str
    language: str
    prefix: str
    suffix: str
    expected_line: str
    needed: tuple[Needed, ...]


@dataclass(frozen=True, slots=True)
class Workspace:
    """The source files of a repository at a commit, by path."""

    repo: str
    commit: str
    license: str
    files: dict[str, str] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        """Write every file under ``root``."""
        for path, text in self.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def load_benchmark(path: Path, limit: int = 0) -> tuple[dict[str, Workspace], list[RepoCase]]:
    """The workspaces (by repository) and the cases (the first ``limit``; 0: all) of a data file."""
    workspaces: dict[str, Workspace] = {}
    cases: list[RepoCase] = []
    with open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("kind") == "workspace":
                workspaces[row["repo"]] = Workspace(row["repo"], row["commit"], row["license"], row["files"])
            elif not limit or len(cases) < limit:
                needed = tuple(Needed(**n) for n in row.pop("needed"))
                row.pop("kind", None)
                cases.append(RepoCase(**row, needed=needed))
    missing = {case.repo for case in cases} - set(workspaces)
    if missing:
        raise ValueError(f"cases of {', '.join(sorted(missing))} come without their workspace")
    return workspaces, cases


# ---- Python: modules, definitions, imports --------------------------------------------------------------


def module_names(paths: list[str]) -> dict[str, str]:
    """Dotted module name → path, for each Python file under a source root (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for path in sorted(paths):
        for root in SOURCE_ROOTS:
            if path.startswith(root):
                parts = list(PurePosixPath(path[len(root) :]).with_suffix("").parts)
                if parts and parts[-1] == "__init__":
                    parts.pop()
                if parts and all(part.isidentifier() for part in parts):
                    modules.setdefault(".".join(parts), path)
    return modules


def _text(node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def top_definitions(support, tree, text: str) -> dict[str, tuple[int, str]]:
    """Top-level name → (0-based line, the first line of its definition), from ``definitions.scm``."""
    from infill_lsp.syntax import matches

    lines = text.splitlines()
    found: dict[str, tuple[int, str]] = {}
    for match in matches(support.definitions, tree.root_node):
        names = match.get("name", [])
        if names and _text(names[0]) not in found:
            line = names[0].start_point[0]
            found[_text(names[0])] = (line, lines[line].strip() if line < len(lines) else "")
    return found


@dataclass(slots=True)
class FileFacts:
    """What one file defines and imports: ``names`` local name → (module path, name), ``modules`` local
    name → module path, and the lines of its import statements."""

    definitions: dict[str, tuple[int, str]]
    imports: list[tuple[str, int, list[tuple[str, str]]]]  # (module, leading dots, [(name, local name)])
    module_imports: list[tuple[str, str]]  # (module, local name)
    import_lines: set[int]


def file_facts(support, tree, text: str) -> FileFacts:
    imports, module_imports, import_lines = [], [], set()
    for node in tree.root_node.children:
        if node.type not in ("import_from_statement", "import_statement"):
            continue
        import_lines.update(range(node.start_point[0], node.end_point[0] + 1))
        if node.type == "import_from_statement":
            target = node.child_by_field_name("module_name")
            if target is None:
                continue
            raw = _text(target)
            dots = len(raw) - len(raw.lstrip("."))
            names = []
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                    names.append((_text(name), _text(alias)))
                else:
                    names.append((_text(child), _text(child)))
            imports.append((raw.lstrip("."), dots, names))
        else:
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    module, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                    module_imports.append((_text(module), _text(alias)))
                elif "." not in _text(child):
                    module_imports.append((_text(child), _text(child)))
    return FileFacts(top_definitions(support, tree, text), imports, module_imports, import_lines)


def absolute_module(path: str, module: str, dots: int) -> str:
    """The dotted module an import in ``path`` names (relative imports resolved against its package)."""
    if not dots:
        return module
    package = list(PurePosixPath(path).parent.parts)
    for root in SOURCE_ROOTS:
        if root and package[:1] == [root.rstrip("/")]:
            package = package[1:]
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    return ".".join([*package, module] if module else package)


class Resolver:
    """Resolves a file's imported names to the repository file that defines them."""

    def __init__(self, facts: dict[str, FileFacts]) -> None:
        self.facts = facts
        self.modules = module_names(list(facts))

    def bindings(self, path: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
        """(local name → (defining path, name), local name → module path) of ``path``'s imports."""
        names: dict[str, tuple[str, str]] = {}
        modules: dict[str, str] = {}
        facts = self.facts[path]
        for module, dots, imported in facts.imports:
            dotted = absolute_module(path, module, dots)
            for name, local in imported:
                if (found := self.definition(dotted, name)) is not None:
                    names[local] = found
                elif f"{dotted}.{name}".strip(".") in self.modules:
                    modules[local] = self.modules[f"{dotted}.{name}".strip(".")]
        for module, local in facts.module_imports:
            if module in self.modules:
                modules[local] = self.modules[module]
        return names, modules

    def definition(self, dotted: str, name: str, depth: int = 0) -> tuple[str, str] | None:
        """The (path, name) defining ``name`` of module ``dotted``, following re-exports."""
        path = self.modules.get(dotted)
        if path is None or depth > RE_EXPORT_DEPTH:
            return None
        facts = self.facts[path]
        if name in facts.definitions:
            return path, name
        for module, dots, imported in facts.imports:
            for original, local in imported:
                if local == name:
                    return self.definition(absolute_module(path, module, dots), original, depth + 1)
        return None


# ---- cases ----------------------------------------------------------------------------------------------


def statement_lines(tree, text: str) -> dict[int, object]:
    """0-based line → the node of a statement that is that whole line (its text, indentation aside)."""
    lines = text.splitlines()
    found: dict[int, object] = {}
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        row = node.start_point[0]
        if (node.type.endswith("statement") and "import" not in node.type and node.end_point[0] == row
                and row < len(lines) and _text(node) == lines[row].strip()):  # fmt: skip
            found.setdefault(row, node)
    return found


def used_definitions(node, names, modules, facts: dict[str, FileFacts], path: str) -> list[tuple[str, str]]:
    """The (path, name) of other files' definitions that the identifiers under ``node`` use."""
    used = []
    stack = [node]
    while stack:
        current = stack.pop()
        stack.extend(current.children)
        if current.type == "identifier" and _text(current) in names:
            parent = current.parent
            if parent is not None and parent.type == "attribute" and parent.child_by_field_name("attribute") == current:
                continue  # ``x.Name`` is an attribute of x, not the imported Name
            used.append(names[_text(current)])
        elif current.type == "attribute":
            obj, attribute = current.child_by_field_name("object"), current.child_by_field_name("attribute")
            if obj is not None and obj.type == "identifier" and _text(obj) in modules and attribute is not None:
                module_path = modules[_text(obj)]
                if _text(attribute) in facts[module_path].definitions:
                    used.append((module_path, _text(attribute)))
    return [u for u in dict.fromkeys(used) if u[0] != path]


def repository_cases(repo: str, commit: str, files: dict[str, str], max_cases: int) -> list[RepoCase]:
    """Up to ``max_cases`` cases over ``files`` (Python sources by path), spread across the files."""
    from infill_lsp.languages import LanguageRegistry

    support = LanguageRegistry().get("python")
    if support is None or support.definitions is None:
        return []
    trees = {path: support.parse(text.encode("utf-8", "surrogatepass")) for path, text in files.items()}
    facts = {path: file_facts(support, trees[path], text) for path, text in files.items()}
    resolver = Resolver(facts)
    per_file: dict[str, list[RepoCase]] = {}
    for path in sorted(files):
        text, names_modules = files[path], resolver.bindings(path)
        if not any(names_modules):
            continue
        lines = text.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        found: list[tuple[str, RepoCase]] = []  # (a hash of the place, the case): a stable, spread-out order
        for row, node in sorted(statement_lines(trees[path], text).items()):
            content = lines[row].strip()
            if row in facts[path].import_lines or not MIN_LINE_CHARS <= len(content) <= MAX_LINE_CHARS:
                continue
            used = used_definitions(node, *names_modules, facts, path)
            if not used:
                continue
            indent = len(lines[row]) - len(lines[row].lstrip(" \t"))
            needed = tuple(Needed(p, n, *facts[p].definitions[n]) for p, n in used)
            key = hashlib.blake2b(f"{repo}:{commit}:{path}:{row}".encode(), digest_size=6).hexdigest()
            found.append((key, RepoCase(id=f"{repo}:{path}:{row + 1}", repo=repo, commit=commit, path=path,
                                  language="python", prefix=text[: starts[row] + indent],
                                  suffix=text[starts[row] + indent + len(content) :], expected_line=content,
                                  needed=needed)))  # fmt: skip
        per_file[path] = [case for _, case in sorted(found, key=lambda f: f[0])[:MAX_CASES_PER_FILE]]
    chosen: list[RepoCase] = []
    while len(chosen) < max_cases and any(per_file.values()):  # one case from each file in turn
        for path in sorted(per_file):
            if per_file[path] and len(chosen) < max_cases:
                chosen.append(per_file[path].pop(0))
    return sorted(chosen, key=lambda c: (c.path, c.id))


def read_workspace(repository: Repository, repo: str, max_file_bytes: int) -> Workspace:
    """The Python source files of ``repository`` at its ``rev``, with its license (GitError if none)."""
    commit = repository.head()
    _, license_text = repository.license_text(commit)
    spdx = license_id(license_text)
    if not spdx:
        raise GitError(f"{repository.git_dir}: no MIT, Apache-2.0 or BSD license file at {commit}")
    files = {}
    for path in repository.files(commit):
        entry = code_language(path)
        if entry is not None and entry.name == "python":
            text = source_text(repository.blob(commit, path), max_file_bytes, keep_small=True)
            if text is not None:
                files[path] = text
    return Workspace(repo, commit, spdx, files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.repo_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build cases from bare git directories")
    build.add_argument("--git-dir", type=Path, required=True, action="append", metavar="DIR",
                       help="a (bare) git directory of a Python repository; repeat for several")
    build.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME",
                       help="the name recorded for each --git-dir, in the same order (default: the folder's name)")
    build.add_argument("--rev", action="append", default=[], metavar="COMMIT",
                       help="the commit to read each --git-dir at, in the same order (default: HEAD)")
    build.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help="write the data here (.jsonl.xz, .jsonl.gz or .jsonl)")
    build.add_argument("--max-cases", type=int, default=100, metavar="N", help="at most N cases per repository")
    build.add_argument("--max-file-kb", type=int, default=64, metavar="KB", help="skip larger files (default 64)")
    args = parser.parse_args(argv)
    if args.max_cases < 1 or args.max_file_kb < 1:
        parser.error("--max-cases and --max-file-kb must be >= 1")
    if any(given and len(given) != len(args.git_dir) for given in (args.repo, args.rev)):
        parser.error("give one --repo (and one --rev) per --git-dir, or none")
    rows: list[dict] = []
    case_rows: list[dict] = []
    for number, git_dir in enumerate(args.git_dir):
        repo = args.repo[number] if args.repo else git_dir.resolve().name.removesuffix(".git")
        try:
            repository = Repository(git_dir, args.rev[number] if args.rev else "HEAD")
            workspace = read_workspace(repository, repo, args.max_file_kb * 1024)
        except GitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        cases = repository_cases(repo, workspace.commit, workspace.files, args.max_cases)
        rows.append({"kind": "workspace", **asdict(workspace)})
        case_rows += [{"kind": "case", **asdict(case)} for case in cases]
        print(f"{repo} ({workspace.license}) at {workspace.commit}: {len(workspace.files)} files, {len(cases)} cases",
              file=sys.stderr)
    write_jsonl(rows + case_rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
