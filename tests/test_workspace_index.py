"""The workspace index: which files it reads (git's ignore rules, exclusions, caps, links, binaries), their
definitions, and how it follows changes; and git's ignore rules on their own."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infill_lsp.workspace import IndexLimits, WorkspaceIndex
from infill_lsp.workspace.files import admit, walk
from infill_lsp.workspace.gitignore import GitIgnore, parse_rule


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path, ".gitignore", "build/\n*.gen.py\n!keep.gen.py\n/top_only.py\n")
    write(tmp_path, ".git/info/exclude", "local_*.py\n")
    write(tmp_path, "app/models.py", "class User:\n    name: str\n\n\ndef make_user(name):\n    return User()\n")
    write(tmp_path, "app/.gitignore", "secret_dir/\n")
    write(tmp_path, "app/secret_dir/hidden.py", "def hidden():\n    pass\n")
    write(tmp_path, "app/util.go", "package app\n\nfunc Tool() int { return 1 }\n")
    write(tmp_path, "build/out.py", "def built():\n    pass\n")
    write(tmp_path, "x.gen.py", "def generated():\n    pass\n")
    write(tmp_path, "keep.gen.py", "def kept():\n    pass\n")
    write(tmp_path, "top_only.py", "def top():\n    pass\n")
    write(tmp_path, "sub/top_only.py", "def not_top():\n    pass\n")
    write(tmp_path, "local_notes.py", "def local():\n    pass\n")
    write(tmp_path, ".env", "API_KEY=abc\n")
    write(tmp_path, ".env.py", "API_KEY = 'abc'\n")  # a code extension, still excluded by name
    write(tmp_path, "id_rsa.py", "KEY = 1\n")
    write(tmp_path, "huge.py", 'DATA = "' + "a" * 1_100_000 + '"\n')  # over the default cap too
    write(tmp_path, "binary.py", b"\x00\x01\x02def x(): pass\n")
    write(tmp_path, "latin.py", "s = '\xe9'\n".encode("latin-1"))
    write(tmp_path, "notes.txt", "not code\n")
    return tmp_path


def indexed(index: WorkspaceIndex) -> set[str]:
    return {f.relative for _, f in index.files()}


def test_the_index_reads_code_and_skips_what_git_ignores_excludes_or_caps(repo: Path):
    index = WorkspaceIndex([repo], IndexLimits(max_file_bytes=100_000))
    index.build_now()
    assert indexed(index) == {"app/models.py", "app/util.go", "keep.gen.py", "sub/top_only.py"}
    status = index.status()
    assert status["state"] == "ready" and status["files"] == 4 and status["definitions"] == 5
    assert status["skipped"]["too-large"] == 1 and status["skipped"]["excluded"] >= 3
    assert status["skipped"]["binary-or-unreadable"] == 2  # binary.py, latin.py
    user = index.lookup("User")
    assert [(d.kind, d.signature, d.line) for d in user] == [("class", "class User:", 0)]
    assert index.lookup("User", "go") == [] and [d.name for d in index.lookup("Tool", "go")] == ["Tool"]
    assert index.lookup("hidden") == index.lookup("built") == index.lookup("local") == []


def test_excluded_files_are_never_opened(repo: Path, monkeypatch: pytest.MonkeyPatch):
    opened: list[str] = []
    real_open = Path.open

    def spy(self: Path, *args, **kwargs):
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    WorkspaceIndex([repo]).build_now()
    assert opened and not {".env", ".env.py", "id_rsa.py"} & set(opened)


def test_caps_on_files_and_bytes_stop_the_walk(repo: Path):
    index = WorkspaceIndex([repo], IndexLimits(max_files=2))
    index.build_now()
    assert len(index) <= 2 and index.status()["capped"] == "max_files"
    index = WorkspaceIndex([repo], IndexLimits(max_total_bytes=120))
    index.build_now()
    assert index.status()["capped"] == "max_total_bytes" and len(index) <= 2


def test_symbolic_link_loops_and_links_out_of_the_root_are_skipped(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root, "a/mod.py", "def inside():\n    pass\n")
    write(outside, "far.py", "def far():\n    pass\n")
    os.symlink(root / "a", root / "a" / "loop")  # a folder that holds itself
    os.symlink(root, root / "a" / "up")
    os.symlink(outside, root / "out")
    os.symlink(outside / "far.py", root / "far_link.py")
    os.symlink(root / "self1", root / "self2")
    os.symlink(root / "self2", root / "self1")
    started = time.monotonic()
    index = WorkspaceIndex([root])
    index.build_now()
    assert time.monotonic() - started < 10
    assert indexed(index) == {"a/mod.py"} and index.lookup("far") == []
    assert index.status()["skipped"]["outside"] == 2


def test_a_workspace_without_folders_has_an_empty_index(tmp_path: Path):
    index = WorkspaceIndex([])
    index.build_now()
    assert len(index) == 0 and index.status()["state"] == "ready"
    assert list(walk(tmp_path / "missing", IndexLimits())) == []


def test_files_deleted_or_renamed_leave_the_index(repo: Path):
    index = WorkspaceIndex([repo])
    index.build_now()
    old = repo / "app" / "models.py"
    new = repo / "app" / "people.py"
    old.rename(new)
    index.refresh_now(old)  # reported as changed, but gone: it leaves
    index.refresh_now(new)
    assert [Path(d.path).name for d in index.lookup("User")] == ["people.py"]
    new.unlink()
    index.remove(new).result(timeout=10)
    assert index.lookup("User") == [] and "app/people.py" not in indexed(index)
    index.remove(repo / "app").result(timeout=10)  # a folder removed: everything under it leaves
    assert not any(r.startswith("app/") for r in indexed(index))
    index.close()


def test_a_file_deleted_while_the_index_is_built_is_not_kept(repo: Path, monkeypatch: pytest.MonkeyPatch):
    import infill_lsp.workspace.index as module

    real = module.read_code

    def deleting(path: Path, max_bytes: int):
        if path.name == "models.py" and path.exists():
            path.unlink()  # deleted between the walk listing it and the index reading it
        return real(path, max_bytes)

    monkeypatch.setattr(module, "read_code", deleting)
    index = WorkspaceIndex([repo])
    index.build_now()
    assert index.lookup("User") == [] and "app/models.py" not in indexed(index)


def test_refresh_follows_changes_and_the_ignore_rules(repo: Path):
    index = WorkspaceIndex([repo])
    index.start().result(timeout=30)
    write(repo, "app/models.py", "class Person:\n    pass\n")
    write(repo, "build/new.py", "def ignored_new():\n    pass\n")
    for path in ("app/models.py", "build/new.py", "../elsewhere.py"):
        index.refresh(repo / path)
    index.refresh(repo / "app" / "models.py").result(timeout=30)
    assert index.lookup("User") == [] and len(index.lookup("Person")) == 1
    assert index.lookup("ignored_new") == []
    write(repo, ".gitignore", "")  # the rules changed: build/ is indexed now
    index.refresh(repo / ".gitignore").result(timeout=30)
    assert len(index.lookup("built")) == 1
    index.close()
    assert index.refresh(repo / "app" / "models.py") is None


def test_admit_says_why_a_file_is_not_indexed(repo: Path):
    limits = IndexLimits(max_file_bytes=100_000)
    ignore = GitIgnore(repo.resolve())
    assert admit(repo, repo / "app/models.py", limits, ignore) == ""
    assert admit(repo, repo / ".env.py", limits, ignore) == "excluded"
    assert admit(repo, repo / "build/out.py", limits, ignore) == "ignored"
    assert admit(repo, repo / "huge.py", limits, ignore) == "too-large"
    assert admit(repo, repo / "notes.txt", limits, ignore) == "language"
    assert admit(repo, repo.parent / "x.py", limits, ignore) == "outside"


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "matches"),
    [
        ("*.py", "a/b/c.py", False, True),
        ("/top.py", "top.py", False, True),
        ("/top.py", "a/top.py", False, False),
        ("a/*.py", "a/x.py", False, True),
        ("a/*.py", "a/b/x.py", False, False),
        ("**/gen", "x/y/gen", True, True),
        ("a/**/z.py", "a/z.py", False, True),
        ("a/**/z.py", "a/b/c/z.py", False, True),
        ("a/**", "a/b/c", False, True),
        ("build/", "build", False, False),
        ("build/", "x/build", True, True),
        ("fo?.py", "foo.py", False, True),
        ("fo?.py", "fo/.py", False, False),
        ("[a-c]x.py", "bx.py", False, True),
        ("[!a-c]x.py", "bx.py", False, False),
        ("\\#hash.py", "#hash.py", False, True),
        ("trailing.py   ", "trailing.py", False, True),
    ],
)
def test_gitignore_patterns(pattern: str, path: str, is_dir: bool, matches: bool):
    rule = parse_rule(pattern)
    assert rule is not None
    hit = bool(rule.regex.fullmatch(path)) and (is_dir or not rule.directories_only)
    assert hit == matches


def test_gitignore_negation_depth_and_comments(tmp_path: Path):
    write(tmp_path, ".gitignore", "# comment\n*.log\n!important.log\nlogs/\n")
    write(tmp_path, "sub/.gitignore", "important.log\n")
    ignore = GitIgnore(tmp_path)
    assert parse_rule("# comment") is None and parse_rule("   ") is None
    assert ignore.ignored("a.log") and not ignore.ignored("important.log")
    assert ignore.ignored("sub/important.log")  # the deeper file has the last word
    assert ignore.ignored("logs/x.py") and ignore.ignored("logs", is_dir=True)
    assert not ignore.ignored("src/x.py")


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread priorities are a POSIX feature")
def test_the_background_build_runs_at_the_lowest_cpu_priority(repo: Path):
    """Indexing takes the cores only when fills and the engine leave them idle: its thread's nice is raised
    (Linux gives each thread its own), the server's own threads keep theirs."""
    import threading

    index = WorkspaceIndex([repo])
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        index.start().result(timeout=30)
        worker = index._worker.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        assert worker.result(timeout=30) == 19
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    finally:
        index.close()
