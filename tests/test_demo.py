"""`infill demo` says plainly what the embedded model's fills are worth."""

from __future__ import annotations

import msgspec
import pytest
from fake_core import FakeCore

from engine.protocol import Welcome
from infill_lsp import complete
from infill_lsp.complete import model_note


def test_the_note_names_the_embedded_model_and_an_untrained_one_only():
    embedded = model_note(Welcome(1, "infill-small", "cpu", "torch", trained=True))
    assert embedded is not None and "rarely right" in embedded and "--model DIR --device cuda" in embedded
    assert "UNTRAINED" in (model_note(Welcome(1, "infill-small", "cpu", "torch", trained=False)) or "")
    assert model_note(Welcome(1, "diffusiongemma-26b", "cuda:0", "torch", trained=True)) is None


def test_demo_prints_the_note_for_the_embedded_model(monkeypatch, capsys):
    engine_core = pytest.importorskip("engine.core.engine_core")

    def embedded_core(model_dir, **options):
        core = FakeCore(model_name="infill-small")
        core.welcome = msgspec.structs.replace(core.welcome, trained=True)
        return core

    monkeypatch.setattr(engine_core, "load_core", embedded_core)
    assert complete.demo([]) == 0
    out = capsys.readouterr().out
    assert "NOTE: these fills come from infill-small, the small model embedded" in out
    assert out.index("== result") < out.index("NOTE: these fills") < out.index("== connect an editor")
