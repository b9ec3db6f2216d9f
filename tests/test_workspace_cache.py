"""The workspace index kept on disk between runs: what a restarted index takes from it unread, what it reads
again (changed, new, just-written files), what it drops, and a cache that is broken, foreign or unwritable."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from infill_lsp.workspace import WorkspaceIndex
from infill_lsp.workspace import cache as cache_module
from infill_lsp.workspace import index as index_module
from infill_lsp.workspace.cache import IndexCache, default_cache_dir

OLD = time.time() - 3600  # files last written an hour ago: settled long before any cache is written


def write(root: Path, relative: str, text: str, *, settled: bool = True) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if settled:
        os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, "app/models.py", "class User:\n    name: str\n\n\ndef make_user(name):\n    return User()\n")
    write(root, "app/util.go", "package app\n\nfunc Tool() int { return 1 }\n")
    write(root, "lib/money.py", "def normalize_amount(value):\n    return round(value, 2)\n")
    write(root, ".env", "API_TOKEN=never-cached\n")
    return root


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """The files the index reads from disk."""
    seen: list[Path] = []
    real = index_module.read_code

    def counting(path, max_bytes):
        seen.append(path)
        return real(path, max_bytes)

    monkeypatch.setattr(index_module, "read_code", counting)
    return seen


def built(root: Path, cache: IndexCache | None) -> WorkspaceIndex:
    index = WorkspaceIndex([root], cache=cache)
    index.build_now()
    return index


def names(index: WorkspaceIndex) -> dict[str, list[tuple[str, int, str]]]:
    out = {}
    for name in ("User", "make_user", "Tool", "normalize_amount", "format_amount"):
        out[name] = [(d.path, d.line, d.text) for d in index.lookup(name)]
    return out


def test_a_restarted_index_reads_no_unchanged_file_and_finds_the_same_definitions(repo, tmp_path, reads):
    cache = IndexCache(tmp_path / "cache")
    first = built(repo, cache)
    assert len(reads) == 3 and first.from_cache == 0
    (written,) = (tmp_path / "cache").iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600 and stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert b"never-cached" not in written.read_bytes()  # excluded files never enter the index, nor its cache
    reads.clear()
    again = built(repo, IndexCache(tmp_path / "cache"))
    assert reads == [] and again.from_cache == 3 and again.status()["from_cache"] == 3
    assert names(again) == names(first) and names(again)["User"]
    assert again.module_files("money") == first.module_files("money")
    mtime = written.stat().st_mtime_ns
    built(repo, IndexCache(tmp_path / "cache"))
    assert written.stat().st_mtime_ns == mtime  # nothing changed: not written again


def test_changed_new_and_deleted_files_are_read_or_dropped_and_the_cache_follows(repo, tmp_path, reads):
    cache_dir = tmp_path / "cache"
    built(repo, IndexCache(cache_dir))
    write(repo, "lib/money.py", "def format_amount(value):\n    return f'{value:.2f}'\n")  # another size
    write(repo, "lib/tax.py", "def vat(value):\n    return value * 0.2\n")
    (repo / "app" / "util.go").unlink()
    reads.clear()
    index = built(repo, IndexCache(cache_dir))
    assert sorted(p.name for p in reads) == ["money.py", "tax.py"] and index.from_cache == 1
    assert index.lookup("normalize_amount") == [] and index.lookup("Tool") == []
    assert [d.name for d in index.lookup("format_amount")] == ["format_amount"]
    reads.clear()
    index = built(repo, IndexCache(cache_dir))
    assert reads == [] and index.from_cache == 3 and [d.name for d in index.lookup("vat")] == ["vat"]


def test_a_file_written_just_before_the_cache_is_read_again(repo, tmp_path, reads):
    """A file can change again within its timestamp's tick after it was read: one modified within seconds of
    the cache's writing is never taken from it."""
    write(repo, "lib/fresh.py", "def fresh():\n    pass\n", settled=False)
    built(repo, IndexCache(tmp_path / "cache"))
    reads.clear()
    index = built(repo, IndexCache(tmp_path / "cache"))
    assert [p.name for p in reads] == ["fresh.py"] and index.from_cache == 3


def test_the_first_build_answers_from_the_cache_before_its_walk_ends(repo, tmp_path, monkeypatch):
    built(repo, IndexCache(tmp_path / "cache"))
    index = WorkspaceIndex([repo], cache=IndexCache(tmp_path / "cache"))
    during: list[list[str]] = []

    def walk_slowly(root, limits, report):
        during.append([d.name for d in index.lookup("normalize_amount")])
        yield from real_walk(root, limits, report)

    real_walk = index_module.walk
    monkeypatch.setattr(index_module, "walk", walk_slowly)
    index.build_now()
    assert during == [["normalize_amount"]]


def test_a_broken_foreign_or_stale_cache_is_ignored_and_replaced(repo, tmp_path, reads, monkeypatch):
    cache = IndexCache(tmp_path / "cache")
    path = cache.path_for(repo.resolve())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93not a cache")
    index = built(repo, cache)
    assert len(reads) == 3 and index.from_cache == 0 and len(index) == 3
    reads.clear()
    assert built(repo, IndexCache(tmp_path / "cache")).from_cache == 3  # rewritten, whole
    monkeypatch.setattr(cache_module, "fingerprint", lambda: "other queries")
    reads.clear()
    assert built(repo, IndexCache(tmp_path / "cache")).from_cache == 0 and len(reads) == 3
    other = tmp_path / "other"
    write(other, "a.py", "def a():\n    pass\n")
    path.replace(IndexCache(tmp_path / "cache").path_for(other.resolve()))  # another folder's name on it
    assert built(other, IndexCache(tmp_path / "cache")).from_cache == 0


def test_a_cache_file_over_the_size_cap_is_not_read(repo, tmp_path, monkeypatch):
    built(repo, IndexCache(tmp_path / "cache"))
    monkeypatch.setattr(cache_module, "MAX_CACHE_BYTES", 100)
    assert IndexCache(tmp_path / "cache").load(repo.resolve()) == {}


def test_an_unwritable_cache_folder_leaves_the_index_whole(repo, tmp_path, caplog):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    index = built(repo, IndexCache(blocked / "cache"))
    again = built(repo, IndexCache(blocked / "cache"))
    assert len(index) == len(again) == 3 and again.from_cache == 0
    assert "cannot write the index cache" in caplog.text


def test_the_cache_folder_follows_xdg_and_is_never_relative():
    assert default_cache_dir({"XDG_CACHE_HOME": "/var/cache/u"}) == Path("/var/cache/u/infill/index")
    assert default_cache_dir({"XDG_CACHE_HOME": "relative"}) == Path.home() / ".cache" / "infill" / "index"
    assert default_cache_dir({}) == Path.home() / ".cache" / "infill" / "index"


def test_without_a_cache_nothing_is_written(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    built(repo, cache_module.cache_if(False))
    assert not (tmp_path / "xdg").exists()
    built(repo, cache_module.cache_if(True))
    assert len(list((tmp_path / "xdg" / "infill" / "index").iterdir())) == 1
