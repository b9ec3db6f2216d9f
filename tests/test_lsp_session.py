"""The pure helpers of a completion session: cross-file context, fill cache, typing tempo, events, settings."""

from __future__ import annotations

import json

import pytest

from infill_lsp.config import Settings, parse_settings
from infill_lsp.context import build_context, stable_anchor
from infill_lsp.crossfile import definitions, imported
from infill_lsp.documents import Document, TextChange
from infill_lsp.events import EventLog, SessionStats, state_dir
from infill_lsp.fill import Fill
from infill_lsp.fill_cache import AUTOMATIC, INVOKED, FillCache, forward_fill
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import Position
from infill_lsp.retrieval.gather import context_block
from infill_lsp.tempo import TypingTempo

REGISTRY = LanguageRegistry()
MODELS = (
    "# models\nimport os\n\nclass User:\n    # the user\n    name: str  # display name\n\n"
    "    def greet(self):\n        return 'hi'\n\n\ndef helper(x):\n    # a comment\n    return x\n\nLIMIT = 3\n"
)


def doc(uri: str, text: str, language: str | None = "python") -> Document:
    return Document(uri, text, language=REGISTRY.get(language))


# ---- cross-file context -------------------------------------------------------------------------


def test_definitions_are_top_level_and_comment_free():
    found = definitions(doc("file:///w/app/models.py", MODELS))
    assert [name for name, _ in found] == ["User", "helper", "LIMIT"]
    assert found[0][1] == "class User:\n    name: str\n\n    def greet(self):\n        return 'hi'"
    assert found[1][1] == "def helper(x):\n    return x"


@pytest.mark.parametrize(
    ("language", "text", "names", "modules"),
    [
        ("python", "from app.models import User, helper as h\nimport util\n", {"User", "helper"}, {"util"}),
        (
            "javascript",
            "import { add } from './math.js';\nimport lib from 'lib';\n",
            {"add", "lib"},
            {"math", "lib"},
        ),
        ("go", 'package main\nimport (\n\t"fmt"\n\t"example.com/m/geo"\n)\n', set(), {"fmt", "geo"}),
        ("rust", "mod shapes;\nuse crate::shapes::{Circle, area};\n", {"Circle", "area"}, {"shapes"}),
    ],
)
def test_imports_per_language(language, text, names, modules):
    assert imported(doc(f"file:///w/main.{language}", text, language)) == (names, modules)


OPEN_ONLY = Settings(context_similar=False)  # the open-document sources of these tests (similar: test_retrieval)


def block_for(target, others, budget=1500, settings=OPEN_ONLY):
    offset = len(target.text)
    packed, _ = context_block(target, offset, others, settings, budget=budget, prefix_chars=4000, suffix_chars=1500)
    return packed.block


def test_the_block_holds_imported_definitions_and_recent_edits_under_file_markers():
    models = doc("file:///w/app/models.py", MODELS)
    util = doc("file:///w/app/util.py", "def tool():\n    return 1\n")
    notes = doc("file:///w/app/notes.py", "a = 1\nb = 2\n")
    target = doc("file:///w/app/main.py", "from app.models import User\nimport util\n\nu = User()\n")
    notes.apply([TextChange("c = 3\n", (Position(2, 0), Position(2, 0)))], 2)
    block = block_for(target, [notes, util, models])
    assert block == (
        "# file: models.py\nclass User:\n    name: str\n\n    def greet(self):\n        return 'hi'\n\n"
        "# file: notes.py\na = 1\nb = 2\nc = 3\n\n"
        "# file: util.py\ndef tool():\n    return 1\n\n"
    )
    assert "helper" not in block  # not imported
    # byte-identical when nothing changed, whatever order the documents come in
    assert block_for(target, [models, util, notes]) == block


def test_the_block_stays_within_its_budget_and_needs_comment_syntax():
    models = doc("file:///w/app/models.py", MODELS)
    target = doc("file:///w/app/main.py", "import models\n")
    block = block_for(target, [models], budget=60)
    assert 0 < len(block) <= 60 and block.startswith("# file: models.py\nclass User:")
    assert block_for(target, [models], budget=0) == ""
    plain = doc("file:///w/app/notes.txt", "import models\n", None)
    assert block_for(plain, [models]) == ""  # no comment syntax to write file markers in


def test_documents_of_another_language_are_not_offered():
    js = doc("file:///w/models.js", "export function User() {}\n", "javascript")
    target = doc("file:///w/main.py", "from models import User\n")
    assert block_for(target, [js]) == ""


def test_prefix_anchor_is_kept_while_it_is_a_line_start_within_the_budget():
    text = "a = 1\n" * 100 + "x = "
    cursor = len(text)
    assert stable_anchor(text, cursor, 300, 400)
    assert not stable_anchor(text, cursor, 301, 400)  # not a line start
    assert not stable_anchor(text, cursor, 0, 400)  # out of budget
    assert not stable_anchor(text, cursor, cursor - 6, 400)  # far less than half the budget
    ctx = build_context(text, cursor, anchor=300)
    assert ctx.prefix_start == 300 or ctx.prefix_start == 0  # default budget covers all: start of text
    from infill_lsp.context import Budgets

    anchored = build_context(text, cursor, budgets=Budgets(prefix_chars=400), anchor=300)
    assert anchored.prefix_start == 300
    assert (
        build_context(text + "1", cursor + 1, budgets=Budgets(prefix_chars=400), anchor=300).prefix_start
        == 300
    )


# ---- fill cache and forwarding ------------------------------------------------------------------


def test_forward_fill():
    assert forward_fill(Fill("a, b)", 1), "a, ") == Fill("b)", 1)
    assert forward_fill(Fill("abc"), "x") is None
    assert forward_fill(Fill("abc"), "abc") is None


def test_cache_serves_exact_hits_and_forwards_what_was_typed():
    cache = FillCache()
    text = "x = foo()\n"
    cursor = text.index(")")
    cache.store("u", text, cursor, head_start=0, tail_end=len(text), mode=AUTOMATIC, fills=[Fill("a, b)", 1)])
    assert cache.lookup("u", text, cursor, AUTOMATIC) == [Fill("a, b)", 1)]
    typed = text[:cursor] + "a," + text[cursor:]
    assert cache.lookup("u", typed, cursor + 2, AUTOMATIC) == [Fill(" b)", 1)]
    assert cache.hits == 1 and cache.forwarded == 1
    wrong = text[:cursor] + "z" + text[cursor:]
    assert cache.lookup("u", wrong, cursor + 1, AUTOMATIC) is None  # typed off the fill
    changed_suffix = text[:cursor] + "a" + ")  # more\n"
    assert cache.lookup("u", changed_suffix, cursor + 1, AUTOMATIC) is None
    assert cache.lookup("u", text, cursor, INVOKED) is None  # an invoked request wants its own candidates
    assert cache.lookup("other", text, cursor, AUTOMATIC) is None


def test_cache_evicts_per_document_and_overall():
    cache = FillCache(capacity=4, per_document=2)
    for i in range(3):
        cache.store("u", f"{i}", 1, head_start=0, tail_end=1, mode=AUTOMATIC, fills=[Fill("x")])
    assert len(cache) == 2 and cache.lookup("u", "0", 1, AUTOMATIC) is None
    for uri in "abc":
        cache.store(uri, "t", 1, head_start=0, tail_end=1, mode=AUTOMATIC, fills=[])
    assert len(cache) == 4
    assert cache.lookup("c", "t", 1, AUTOMATIC) == []  # an empty answer is a hit too
    cache.forget("c")
    assert cache.lookup("c", "t", 1, AUTOMATIC) is None


# ---- typing tempo ---------------------------------------------------------------------------------


def test_debounce_follows_the_typing_tempo_within_bounds():
    tempo = TypingTempo()
    assert tempo.debounce_ms("u", initial=30, low=10, high=250) == 30  # unknown tempo
    for step in range(6):
        tempo.keystroke("u", step * 0.1)  # 100 ms apart
    assert tempo.debounce_ms("u", initial=30, low=10, high=250) == pytest.approx(80)
    for step in range(20):
        tempo.keystroke("u", 1 + step * 0.005)  # very fast: clamped up
    assert tempo.debounce_ms("u", initial=30, low=10, high=250) == 10
    tempo.keystroke("u", 50.0)  # a pause is not typing
    assert tempo.interval_ms("u") == pytest.approx(5, rel=0.5)
    assert tempo.debounce_ms("u", initial=0, low=10, high=250) == 0  # off
    tempo.forget("u")
    assert tempo.interval_ms("u") is None


# ---- events ----------------------------------------------------------------------------------------


def test_state_dir_follows_xdg():
    assert str(state_dir({"XDG_STATE_HOME": "/s", "HOME": "/h"})) == "/s/infill"
    assert str(state_dir({"XDG_STATE_HOME": "relative", "HOME": "/h"})) == "/h/.local/state/infill"


def test_event_log_appends_json_lines_and_rotates(tmp_path):
    path = tmp_path / "infill" / "events.jsonl"
    events = EventLog(path, max_bytes=300)
    for _ in range(10):
        events.write("accepted", chars=5, partial=False)
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "accepted" and path.stat().st_size <= 300
    assert (tmp_path / "infill" / "events.jsonl.1").exists()
    broken = EventLog(tmp_path / "file-not-folder" / "x.jsonl")
    (tmp_path / "file-not-folder").write_text("")
    broken.write("dismissed")
    assert broken.path is None  # turned off, no exception


def test_session_stats():
    stats = SessionStats()
    assert stats.summary()["acceptance_rate"] is None
    for kind in ("shown", "shown", "shown", "shown"):
        stats.record(kind)
    stats.record("accepted", chars=10)
    stats.record("accepted", partial=True, chars=3)
    stats.record("dismissed")
    summary = stats.summary()
    assert summary["acceptance_rate"] == 0.5 and summary["partial_accepts"] == 1
    assert summary["accepted_chars"] == 13 and summary["accepted_of_decided"] == round(2 / 3, 4)
    with pytest.raises(ValueError, match="event"):
        stats.record("clicked")


# ---- settings ---------------------------------------------------------------------------------------


def test_flat_aliases_reach_their_fields():
    settings, warnings = parse_settings(
        {"model": "/m", "device": "cuda:1", "backend": "onnx", "engineSocket": "/tmp/s", "automaticSteps": 4}
    )
    assert warnings == []
    assert settings.engine.model_dir == "/m" and settings.engine.device == "cuda:1"
    assert settings.engine.backend == "onnx" and settings.engine.socket == "/tmp/s"
    assert settings.max_steps == 4


def test_explicit_engine_fields_win_over_aliases_and_bad_aliases_are_reported():
    settings, _ = parse_settings({"device": "cpu", "engine": {"device": "cuda"}})
    assert settings.engine.device == "cuda"
    settings, warnings = parse_settings({"device": "tpu"})
    assert settings.engine.device == "auto" and "engine.device" in warnings[0]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"invoked_candidates": 0}, "invoked_candidates"),
        ({"debounce_max_ms": 1, "debounce_min_ms": 10}, "debounce_max_ms"),
        ({"cross_file_chars": 10**7}, "cross_file_chars"),
        ({"completionFallback": "yes"}, "completion_fallback"),
        ({"speculative": 1}, "speculative"),
    ],
)
def test_new_settings_are_validated(raw, field):
    settings, warnings = parse_settings(raw)
    assert any(field in w for w in warnings), warnings
    assert getattr(settings, field) == getattr(Settings(), field)
