"""The typing benchmark at tiny scale: traces that type real code back, replays through a real server and
engine process (a tiny untrained model), and the cache-reuse measurement on cursor moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import ROOT

from engine.host.launch import EngineLaunch
from infill_tools.bench import engine_socket
from infill_tools.typing_bench import bench_anchor, replay
from infill_tools.typing_traces import DELETE, INVOKE, JUMP, TYPE, default_sources, make_trace

SOURCES = default_sources(ROOT)


def test_a_trace_types_the_cut_text_back_with_human_cadence():
    trace = make_trace(SOURCES, seed=3, files=2, holes_per_file=3)
    assert trace == make_trace(SOURCES, seed=3, files=2, holes_per_file=3)  # seeded
    lines = {uri: text.split("\n") for uri, text in trace.documents.items()}
    for event in trace.events:
        line = lines[event.uri][event.line] if event.kind in (TYPE, DELETE) else ""
        if event.kind == TYPE:
            lines[event.uri][event.line] = line[: event.column] + event.text + line[event.column :]
        elif event.kind == DELETE:
            lines[event.uri][event.line] = line[: event.column - 1] + line[event.column :]
    originals = {path.name: path.read_text(encoding="utf-8") for path in SOURCES}
    for uri, typed in lines.items():  # every hole typed back (trailing blanks are not typed)
        original = originals[uri.rsplit("/", 1)[1]].split("\n")
        assert [line.rstrip() for line in typed] == [line.rstrip() for line in original]
        assert trace.documents[uri] != "\n".join(original)
    kinds = {e.kind for e in trace.events}
    assert {TYPE, JUMP} <= kinds and len(trace.documents) == 2
    gaps = [b.at_ms - a.at_ms for a, b in zip(trace.events, trace.events[1:], strict=False) if b.kind == TYPE]
    assert min(gaps) >= 80 and any(g >= trace.pause_ms for g in gaps)  # human cadence, with pauses
    fast = make_trace(SOURCES, seed=3, files=2, holes_per_file=3, speed=4)
    assert fast.events[-1].at_ms == pytest.approx(trace.events[-1].at_ms / 4)


@pytest.fixture(scope="module")
def tiny_engine(tiny_model_dir: Path):
    with engine_socket(EngineLaunch(model_dir=tiny_model_dir, device="cpu")) as sock:
        yield str(sock)


@pytest.mark.parametrize(("kind", "policy"), [("vscode", "fixed"), ("neovim", "none")])
async def test_a_replay_reports_the_figures_and_invoked_requests_never_wait(tiny_engine: str, kind: str, policy: str):
    trace = make_trace(SOURCES, seed=10, files=1, holes_per_file=2, invoke_share=1.0, speed=4, root=f"file:///t/{kind}")
    assert any(event.kind == INVOKE for event in trace.events)
    report = await replay(tiny_engine, trace, kind=kind, policy=policy, debounce_ms=150, speed=4, timeout_s=30,
                          settings={"max_steps": 2, "invoked_steps": 4}, language_id="plaintext")
    assert report["client"] == kind and report["server_policy"] == policy
    assert report["pauses"] == len(trace.pauses()) > 0
    answered, shown = report["pause_to_answer_ms"], report["pause_to_suggestion_ms"]
    assert answered["count"] + report["unanswered_pauses"] == report["pauses"]
    assert shown["count"] <= answered["count"]  # how many arrive in time depends on the machine's load
    assert set(shown) == {"p50", "p95", "count"}
    for key in ("shown", "stale", "empty", "errors"):
        assert report[key] >= 0
    assert report["errors"] == 0
    engine = report["engine"]
    assert engine["requests"] > 0 and engine["forward_passes"] > 0 and engine["encoded_tokens"] > 0
    assert set(engine) >= {"forward_passes_per_shown", "encoded_tokens_per_shown", "cached_fraction"}
    waits = report["server_waits_ms"]
    assert waits["invoked"]["requests"] > 0 and waits["invoked"]["max_ms"] == 0  # the user asked: no wait
    invoked = report["invoked"]
    assert invoked["requests"] == waits["invoked"]["requests"] >= invoked["latency_ms"]["count"]
    assert waits["automatic"]["max_ms"] == (150 if policy == "fixed" else 0)


def test_cursor_moves_report_the_cache_share_with_and_without_the_grid(tiny_model_dir: Path):
    core = EngineLaunch(model_dir=tiny_model_dir, device="cpu").load_core()
    report = bench_anchor(core, SOURCES, samples=1, seed=0)
    for label in ("grid", "sliding"):
        rows = report[label]
        assert set(rows) == {"keystroke", "same_function", "same_document", "back_to_hole"}
        assert rows["keystroke"]["cached_fraction"] > 0.5  # typing at the hole reuses most of the prompt
        assert rows["same_document"]["cached_fraction"] < 0.1  # suffix first: a new hole re-encodes
        assert rows["back_to_hole"]["cached_fraction"] > 0.5  # the engine keeps the holes a document was at


async def test_jumps_report_the_first_fill_with_warming_off_and_on(tiny_engine: str):
    from infill_tools.typing_bench import jump_places, replay_jumps

    runs = []
    for warm in (False, True):  # a long rest, so the warm-up is done on a loaded machine too
        documents, places = jump_places(SOURCES, f"file:///jumps/{warm}", jumps=3, seed=1)
        runs.append(await replay_jumps(tiny_engine, documents, places, warm=warm, pause_ms=1000))
    cold, warmed = runs
    assert cold["first_fill_ms"]["count"] == warmed["first_fill_ms"]["count"] == 3
    assert cold["warm_ups"]["sent"] == 0 and warmed["warm_ups"]["warmed"] == 3
    assert warmed["fill_cached_fraction"] == 1.0 > cold["fill_cached_fraction"]
    assert warmed["fill_encoded_tokens_mean"] == 0 < cold["fill_encoded_tokens_mean"]
    for run in runs:  # a keystroke after each fill; one agreeing with the fill only where one was shown
        assert run["after_keystroke_ms"]["count"] == 3
        assert run["after_agreeing_keystroke_ms"]["count"] <= run["shown"]


def test_the_carry_bench_pairs_carried_and_encoded_keystrokes_on_the_same_holes(tiny_model_dir: Path):
    from infill_tools.carry_bench import bench_carry

    core = EngineLaunch(model_dir=tiny_model_dir, device="cpu").load_core()
    report = bench_carry(core, limit=3, stride=40, typed=(1, 2))
    assert report["holes"] == 3 and core.config.carry_chars == 16  # the setting is put back
    for k in (1, 2):
        row = report[f"typed_{k}"]
        carried, encoded = row["carried"], row["encoded"]
        assert carried["holes"] == encoded["holes"] == 3
        assert carried["encoded_tokens_mean"] == 0 < encoded["encoded_tokens_mean"]
        assert 0 <= row["same_fill"] <= 1 and row["carried_closer"] + row["carried_farther"] <= 3
