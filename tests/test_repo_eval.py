"""The repository benchmark: cases built from a repository made here (imports resolved to the defining
file), the metrics, the context sources, and the runner on the tiny model."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from infill_lsp import cli
from infill_tools import repo_eval as re_
from infill_tools.git_history import Repository
from infill_tools.repo_data import DEFAULT_DATA, Needed, RepoCase, load_benchmark, read_workspace, repository_cases
from infill_tools.repo_data import main as build_main

MIT = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software\n"
FILES = {
    "LICENSE": MIT,
    "src/shop/__init__.py": "from .models import User\n\n__all__ = ['User']\n",
    "src/shop/models.py": (
        "class User:\n    def __init__(self, name):\n        self.name = name\n\n\n"
        "def make_user(name: str) -> User:\n    return User(name)\n\n\nDEFAULT_NAME = 'guest'\n"
    ),
    "src/shop/cart.py": (
        "from shop import User\nfrom shop.models import make_user\nfrom . import models\n\n\n"
        "def checkout(name):\n    user = make_user(name)\n    guest = models.DEFAULT_NAME\n"
        "    if isinstance(user, User):\n        return user.name\n    total = len(name)\n    return guest\n"
    ),
    "README.md": "# shop\n",
}


def git(repo, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "HOME": str(repo)}  # fmt: skip
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    repo = tmp_path_factory.mktemp("shop")
    git(repo, "init", "-q", "-b", "main")
    for name, text in FILES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop")
    return repo


def test_lines_using_another_files_definitions_become_cases(shop):
    workspace = read_workspace(Repository(shop / ".git"), "t/shop", 64 * 1024)
    assert set(workspace.files) == {"src/shop/__init__.py", "src/shop/models.py", "src/shop/cart.py"}
    assert workspace.license == "MIT" and len(workspace.commit) == 40
    cases = {case.expected_line: case for case in repository_cases("t/shop", workspace.commit, workspace.files, 50)}
    # Import lines, lines using nothing of another file and the file's own names are not cases.
    assert set(cases) == {"user = make_user(name)", "guest = models.DEFAULT_NAME"}
    make = cases["user = make_user(name)"]
    assert make.needed == (MAKE_USER,)
    assert cases["guest = models.DEFAULT_NAME"].needed[0].name == "DEFAULT_NAME"
    for case in cases.values():
        assert case.prefix + case.expected_line + case.suffix == FILES["src/shop/cart.py"]
        assert case.prefix.endswith("\n    ") and case.suffix.startswith("\n") and case.path == "src/shop/cart.py"


def test_a_name_re_exported_by_a_package_resolves_to_its_definition(shop):
    workspace = read_workspace(Repository(shop / ".git"), "t/shop", 64 * 1024)
    files = {**workspace.files, "src/shop/cart.py": "from shop import User\n\n\nguest = User('guest')\n"}
    (case,) = repository_cases("t/shop", workspace.commit, files, 50)
    assert case.expected_line == "guest = User('guest')"
    assert case.needed == (Needed("src/shop/models.py", "User", 0, "class User:"),)


def test_the_builder_writes_what_load_benchmark_reads(shop, tmp_path, capsys):
    out = tmp_path / "repo.jsonl.xz"
    assert build_main(["build", "--git-dir", str(shop / ".git"), "--repo", "t/shop", "--out", str(out)]) == 0
    workspaces, cases = load_benchmark(out)
    assert set(workspaces) == {"t/shop"} and len(cases) == 2 and cases[0].repo == "t/shop"
    assert load_benchmark(out, limit=1)[1] == cases[:1]
    orphan = {"kind": "case", "id": "x", "repo": "t/other", "commit": "0", "path": "a.py", "language": "python",
              "prefix": "", "suffix": "", "expected_line": "x", "needed": []}  # fmt: skip
    (tmp_path / "orphan.jsonl").write_text(json.dumps(orphan) + "\n")
    with pytest.raises(ValueError, match="without their workspace"):
        load_benchmark(tmp_path / "orphan.jsonl")
    unlicensed = tmp_path / "unlicensed"
    unlicensed.mkdir()
    git(unlicensed, "init", "-q", "-b", "main")
    (unlicensed / "a.py").write_text("x = 1\n")
    git(unlicensed, "add", "-A")
    git(unlicensed, "commit", "-q", "-m", "a")
    assert build_main(["build", "--git-dir", str(unlicensed / ".git"), "--out", str(out)]) == 1
    assert "license" in capsys.readouterr().err


# ---- metrics and context sources ------------------------------------------------------------------------

MAKE_USER = Needed("src/shop/models.py", "make_user", 5, "def make_user(name: str) -> User:")
CASE = RepoCase(id="c", repo="t/shop", commit="0", path="src/shop/cart.py", language="python",
                prefix="def f():\n    ", suffix="\n", expected_line="user = make_user(name)", needed=(MAKE_USER,))


def test_context_recall_and_exact_match():
    assert re_.definitions_in(CASE, "") == [False]
    assert re_.definitions_in(CASE, "# file: models.py\ndef make_user(name: str) -> User:\n    ...\n") == [True]
    assert re_.definitions_in(CASE, "make_user = 1\n") == [False]  # the name alone is not the definition
    assert re_.exact_match(CASE, "  user = make_user(name) \n    more")
    assert not re_.exact_match(CASE, "user = make_user(nam)") and not re_.exact_match(CASE, "")
    assert re_.cut_to("a\nbb\nccc\n", 5) == "a\nbb\n" and re_.cut_to("abc", 2) == "" and re_.cut_to("ab", 9) == "ab"


@pytest.mark.parametrize("config", ["imports", "all"])
def test_repository_context_shows_the_needed_definition(shop, tmp_path, config):
    workspace = read_workspace(Repository(shop / ".git"), "t/shop", 64 * 1024)
    workspace.write(tmp_path)
    cart = FILES["src/shop/cart.py"]
    at = cart.index("user = make_user")
    prefix, suffix = cart[:at], cart[at + len(CASE.expected_line) :]
    (tmp_path / "src/shop/cart.py").write_text(prefix + suffix)  # as the runner leaves it: the line blanked
    block = re_.CONTEXT_PROVIDERS[config]()(tmp_path, "src/shop/cart.py", prefix, suffix)
    assert "# file: src/shop/models.py" in block and "def make_user(name: str) -> User:" in block
    assert re_.definitions_in(CASE, block) == [True]
    assert re_.no_context(tmp_path, "src/shop/cart.py", "", "") == ""


def test_the_runner_fills_each_case_per_config_on_the_tiny_model(shop, tmp_path, tiny_model_dir, monkeypatch):
    from engine.clients.connect import open_client
    from engine.host.launch import EngineLaunch

    out = tmp_path / "repo.jsonl"
    assert build_main(["build", "--git-dir", str(shop / ".git"), "--repo", "t/shop", "--out", str(out)]) == 0
    workspaces, cases = load_benchmark(out)

    def leaky(workspace_dir, path, prefix, suffix):  # a source sees the case's line blanked in its file
        text = (workspace_dir / path).read_text()
        assert text == prefix + suffix
        return "# file: models.py\n" + "".join(f"{n.signature}\n    ...\n" for c in cases for n in c.needed)

    monkeypatch.setitem(re_.CONTEXT_PROVIDERS, "leaky", lambda: leaky)
    launch = EngineLaunch(model_dir=tiny_model_dir, device="cpu", dtype="float32")
    client = open_client(launch, inproc=True)
    report = asyncio.run(re_.evaluate(workspaces, cases, ["none", "leaky", "all"], client, steps=2))
    configs = report["configs"]
    assert report["trained"] is False and set(configs) == {"none", "leaky", "all"}
    assert configs["none"]["context_recall"]["rate"] == 0.0 and configs["none"]["cases"] == 2
    assert configs["leaky"]["context_recall"]["rate"] == 1.0 and configs["leaky"]["errors"] == 0
    assert configs["all"]["context_recall"]["hits"] >= 1
    assert configs["none"]["retrieval"]["p95_ms"] >= 0 and len(configs["none"]["outcomes"]) == 2
    assert workspaces["t/shop"].files["src/shop/cart.py"] == FILES["src/shop/cart.py"]
    lines = re_.table_lines({"data": "x", **report}, "x")
    assert "context recall" in "\n".join(lines) and "UNTRAINED" in lines[0]


def test_the_vendored_data_is_whole():
    workspaces, cases = load_benchmark(DEFAULT_DATA)
    assert len(workspaces) >= 2 and 100 <= len(cases) <= 200
    for case in cases:
        assert workspaces[case.repo].files[case.path] == case.prefix + case.expected_line + case.suffix
        for need in case.needed:
            assert need.path != case.path and need.signature in workspaces[case.repo].files[need.path]


def test_infill_eval_repo_runs_the_vendored_data_and_refuses_bad_input(tiny_model_dir, tmp_path, capfd):
    assert cli.main(["eval", "repo", "--limit", "1", "--steps", "1", "--model", str(tiny_model_dir), "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["configs"]["none"]["cases"] == 1 and report["data"] == DEFAULT_DATA.name
    assert cli.main(["eval", "repo", "--data", str(tmp_path / "missing.jsonl")]) == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["eval", "repo", "--config", "telepathy"])
    assert exited.value.code == 2
