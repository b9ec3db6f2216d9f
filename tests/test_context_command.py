"""``infill context``: what the model would be given at a position, as text and as JSON, on a small repository."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from infill_lsp import cli

MODELS = "class Invoice:\n    total: float\n\n\ndef unrelated():\n    pass\n"
MAIN = "from shop.models import Invoice\n\n\ndef pay(amount):\n    invoice = Invoice()\n    return \n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["context", *argv])
    return status, out.getvalue(), err.getvalue()


def small_repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("secret.py\n")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "models.py").write_text(MODELS)
    (tmp_path / "shop" / "main.py").write_text(MAIN)
    (tmp_path / "secret.py").write_text("class Invoice:\n    leaked = True\n")
    return tmp_path


def test_context_as_json_names_each_snippet_its_source_and_why(tmp_path: Path):
    repo = small_repo(tmp_path)
    status, out, _ = run(str(repo / "shop" / "main.py"), "--line", "6", "--character", "12", "--json")
    assert status == 0
    report = json.loads(out)  # stdout is the JSON alone
    assert report["file"] == "shop/main.py" and report["line"] == 5 and report["language"] == "python"
    assert report["index"]["files"] == 2 and report["index"]["state"] == "ready"
    [chosen] = report["chosen"]
    assert chosen["source"] == "definitions" and chosen["path"] == "shop/models.py"
    assert "'Invoice'" in chosen["why"] and chosen["text"].startswith("class Invoice:")
    assert report["context"].startswith("# file: shop/models.py\nclass Invoice:")
    assert "leaked" not in report["context"] and "unrelated" not in report["context"]
    assert report["prefix"].endswith("    return ") and report["suffix"] == "\n"
    assert set(report["timings_ms"]) >= {"definitions", "similar"}


def test_context_as_text_and_bad_input(tmp_path: Path):
    repo = small_repo(tmp_path)
    status, out, _ = run(str(repo / "shop" / "main.py"), "--line", "6", "--character", "12")
    assert status == 0
    assert "[definitions] shop/models.py:1:" in out and "== prefix" in out and "== context" in out
    status, out, _ = run(str(repo / "shop" / "main.py"), "--line", "99", "--json")
    assert status == 0 and "outside the file" in json.loads(out)["skipped"]
    status, _, err = run(str(repo / "missing.py"), "--line", "1")
    assert status == 2 and "cannot read" in err
    status, _, err = run(str(repo / "shop" / "main.py"), "--line", "0")
    assert status == 2 and "count from 1" in err
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    status, out, _ = run(str(repo / "shop" / "main.py"), "--line", "6", "--workspace", str(outside), "--json")
    assert status == 0 and json.loads(out)["chosen"] == []  # nothing indexed there
