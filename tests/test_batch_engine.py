"""infill batch through the real engine on the tiny model: resume equality, CLI, bench, Ray equality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infill_lsp.batch import cli

FILES = {
    "a.py": "def add(a, b):\n    pass\n\n\nclass K:\n    def m(self):\n        raise NotImplementedError\n\n\n"
    'def sub(a, b):\n    """Subtract."""\n    ...\n',
    "b.rs": "fn f() -> i32 {\n    todo!()\n}\n\nfn g() {\n    unimplemented!();\n}\n",
    "c.go": 'package p\n\nfunc F() int {\n\tpanic("TODO")\n}\n',
    "d.js": 'function f() {\n  throw new Error("TODO");\n}\n',
    "e.ts": "class A {\n  m(): void {\n    // TODO\n  }\n}\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name, text in FILES.items():
        (root / name).write_text(text)
    return root


def _json_run(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--json", "--no-progress"])
    return code, json.loads(capsys.readouterr().out)


def _fills(report: dict) -> dict[tuple[str, int], tuple[str, str]]:
    return {
        (Path(f["path"]).name, h["line"]): (h["status"], h.get("fill", ""))
        for f in report["files"]
        for h in f["holes"]
    }


def _args(repo: Path, model: Path, *extra: str) -> list[str]:
    return [str(repo), "--model", str(model), "--steps", "3", "--wave-size", "3", "--recipe", "all", *extra]


def test_resume_after_a_stop_ends_where_an_uninterrupted_run_does(repo, tiny_model_dir, tmp_path, capsys):
    code, whole = _json_run(capsys, *_args(repo, tiny_model_dir, "--no-journal"))
    assert code == 0 and whole["holes"] == 8 and whole["pending"] == 0
    journal = tmp_path / "journal.jsonl"
    # A run killed after 3 holes (one wave): the journal holds exactly those.
    _, first = _json_run(capsys, *_args(repo, tiny_model_dir, "--journal", str(journal), "--limit", "3"))
    assert first["pending"] == 5 and len(journal.read_text().splitlines()) == 3
    _, second = _json_run(capsys, *_args(repo, tiny_model_dir, "--journal", str(journal)))
    assert second["reused"] == 3 and second["pending"] == 0
    assert _fills(second) == _fills(whole)
    assert [f["diff"] for f in second["files"]] == [f["diff"] for f in whole["files"]]
    assert all(s in ("filled", "rejected", "empty") for s, _ in _fills(whole).values())


def test_bench_prints_both_figures_and_the_ratio(repo, tiny_model_dir, capsys):
    assert cli.main([str(repo), "--model", str(tiny_model_dir), "--steps", "2", "--bench"]) == 0
    out = capsys.readouterr().out
    assert "holes/s" in out and "batch:" in out and "serial:" in out and "ratio:" in out


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ray==2.60.0')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_actors_give_the_single_process_result(repo, tiny_model_dir, ray_cluster, capsys):
    _, local = _json_run(capsys, *_args(repo, tiny_model_dir, "--no-journal"))
    code, spread = _json_run(
        capsys, *_args(repo, tiny_model_dir, "--no-journal", "--ray", "auto", "--ray-actors", "2")
    )
    assert code == 0 and "2 Ray actors" in spread["model"]
    assert spread["holes"] == local["holes"] == 8
    assert _fills(spread) == _fills(local)
