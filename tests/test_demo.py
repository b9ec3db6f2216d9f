"""`infill demo` says plainly what the embedded model's fills are worth, fits a screen, and ends with the
editor setup of this clone."""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest
from fake_core import FakeCore
from lsp_helpers import ROOT

from engine.protocol import Welcome
from infill_lsp import complete
from infill_lsp.complete import model_note
from infill_lsp.editor_setup import clone_root, connect_lines, server_command


def test_the_note_names_the_embedded_model_and_an_untrained_one_only():
    embedded = model_note(Welcome(1, "infill-small", "cpu", "torch", trained=True))
    assert embedded is not None and "rarely right" in embedded and "--model DIR --device cuda" in embedded
    assert "UNTRAINED" in (model_note(Welcome(1, "infill-small", "cpu", "torch", trained=False)) or "")
    assert model_note(Welcome(1, "diffusiongemma-26b", "cuda:0", "torch", trained=True)) is None


def test_demo_prints_the_note_for_the_embedded_model(monkeypatch, capsys):
    loading = pytest.importorskip("engine.core.loading")

    def embedded_core(model_dir, **options):
        core = FakeCore(model_name="infill-small")
        core.welcome = msgspec.structs.replace(core.welcome, trained=True)
        return core

    monkeypatch.setattr(loading, "load_core", embedded_core)
    assert complete.demo([]) == 0
    out = capsys.readouterr().out
    assert "NOTE: these fills come from infill-small, the small model embedded" in out
    assert out.index("== result") < out.index("NOTE: these fills") < out.index("== connect an editor")


def _demo_output(monkeypatch, capsys) -> str:
    loading = pytest.importorskip("engine.core.loading")
    monkeypatch.setattr(loading, "load_core", lambda model_dir, **options: FakeCore(model_name="infill-small"))
    assert complete.demo([]) == 0
    return capsys.readouterr().out


def test_demo_fits_a_screen_and_ends_with_this_clones_editor_setup(monkeypatch, capsys):
    out = _demo_output(monkeypatch, capsys)
    lines = out.splitlines()
    # `make demo` on a fresh clone: scripts/setup.sh says three lines before this; 40 in all at most
    assert len(lines) <= 37, out
    holes = [line for line in lines if " | " in line]
    assert [h.split("|")[0].strip() for h in holes] == ["8", "16", "27"], out
    assert "return <FILL>" in holes[0]
    assert out.count("denoising steps") == 3
    connect = out[out.index("== connect an editor ==") :]
    server = server_command()
    assert f"vim.opt.runtimepath:append('{ROOT / 'editors' / 'neovim'}')" in connect, connect
    assert f"require('infill').setup({{ cmd = {{ '{server}', 'serve' }} }})" in connect
    assert f"cd {ROOT / 'editors' / 'vscode'} && npm ci && npm run package" in connect
    assert f'"infill.serverPath": "{server}"' in connect
    assert "\r" not in out


def test_demo_turns_the_weights_progress_bar_off(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    _demo_output(monkeypatch, capsys)
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    # and transformers, imported after it is set (as the demo's engine imports it), draws no bar
    code = "import transformers.utils.logging as l; print(l.is_progress_bar_enabled())"
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    answer = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert answer.stdout.strip() == "False", answer.stderr


def test_hole_lines_name_the_line_of_each_marker():
    two_holes = "b <FILL> <FILL>"
    assert complete.hole_lines(f"a\n{two_holes}\n<FILL>") == [(2, two_holes), (2, two_holes), (3, "<FILL>")]
    assert complete.hole_lines("no holes") == []


def test_the_editor_lines_outside_a_clone_and_with_odd_paths():
    assert clone_root(ROOT) == ROOT and clone_root(ROOT / "docs") is None
    lines = "\n".join(connect_lines(None, "/opt/it's/infill"))
    assert "editors/neovim of the repository" in lines and "npm run package" in lines
    assert "cmd = { '/opt/it\\'s/infill', 'serve' }" in lines
    assert '"infill.serverPath": "/opt/it\'s/infill"' in lines
    assert "'/opt/it'\"'\"'s/infill' serve" in lines  # the shell command, quoted
