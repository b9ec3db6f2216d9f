"""The engine's queue policy (engine/core/scheduler.py): classes first, then a fair share between clients;
unit tests on the pure functions, then on a core with the tiny model, counting steps (not seconds)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.core.config import EngineConfig
from engine.core.engine_core import MIN_PREFILL_SLICE
from engine.core.scheduler import StepPace, batch_share, class_rank, fair_quotas, prefill_order
from engine.protocol import InfillRequest, InfillResult, Priority


@dataclass
class _Job:
    request: InfillRequest


def _job(rid: int, client: str = "", *, priority: int = Priority.INTERACTIVE, warm: bool = False) -> _Job:
    return _Job(InfillRequest(rid, "p", "s", priority=priority, warm=warm, client=client))


def test_classes_are_interactive_then_next_edit_then_warm_ups_then_batch():
    jobs = [_job(1, priority=Priority.BATCH), _job(2, warm=True), _job(3, priority=Priority.NEXT_EDIT),
            _job(4), _job(5, priority=Priority.BATCH, warm=True)]
    assert [j.request.request_id for j in prefill_order(jobs)] == [4, 3, 2, 1, 5]
    unknown, batch = InfillRequest("1", "", "", priority=99), InfillRequest("1", "", "", priority=Priority.BATCH)
    assert class_rank(unknown) == class_rank(batch)


def test_prefill_takes_one_job_per_client_in_turn_the_least_loaded_client_first():
    jobs = [_job(1, "a"), _job(2, "a"), _job(3, "a"), _job(4, "b"), _job(5, "c"), _job(6, "c")]
    assert [j.request.request_id for j in prefill_order(jobs)] == [1, 4, 5, 2, 6, 3]
    assert [j.request.request_id for j in prefill_order(jobs, {"a": 40, "c": 1, "b": 2})] == [5, 4, 1, 6, 2, 3]


def test_fair_quotas_are_max_min_fair():
    assert fair_quotas([100, 1], 64) == [63, 1]
    assert fair_quotas([100, 100, 3], 64) == [31, 30, 3]
    assert fair_quotas([5, 5], 64) == [5, 5]
    assert fair_quotas([0, 7], 4) == [0, 4]
    assert fair_quotas([3, 3, 3], 2) == [1, 1, 0]
    assert fair_quotas([], 8) == [] and fair_quotas([4], 0) == [0]


def test_the_batch_is_shared_between_clients_and_classes_come_first():
    a = [(_job(i, "a"), [f"a{i}.{k}" for k in range(8)]) for i in range(4)]  # 32 canvases
    b = [(_job(9, "b"), ["b9.0"])]
    batch = batch_share(a + b, 8)
    assert sorted(c for _, c in batch) == sorted([f"a0.{k}" for k in range(7)] + ["b9.0"])
    assert [c for _, c in batch][:3] == ["b9.0", "a0.0", "a0.1"]  # one client at a time, the smallest share first
    warm_first = [(_job(1, "a", priority=Priority.BATCH), ["x", "y"]), (_job(2, "b"), ["z"])]
    assert [c for _, c in batch_share(warm_first, 2)] == ["z", "x"]


# ---- on a core with the tiny model ------------------------------------------------------------------


@pytest.fixture
def small_core(tiny_model_dir):
    from engine.core.loading import load_core

    # A batch of 16 canvases and 96 prompt tokens a step: one heavy client can fill either many times over.
    return load_core(tiny_model_dir, config=EngineConfig(max_batch_canvases=16, prefill_tokens_per_step=96))


HEAVY_PREFIX = "def f(x):\n    return x + 1\n" * 40


def test_a_light_client_is_denoised_in_the_first_step_beside_a_saturating_one(small_core):
    core = small_core
    for rid in range(1, 17):  # client A: 16 heavy requests, 16 canvases each, a long prompt each
        core.add(InfillRequest(str(rid), HEAVY_PREFIX + f"# {rid}\n", "\n", document_key=f"a{rid}", client="key:a",
                               canvas_lengths=(32, 64), num_candidates=8, max_steps=100))
    for _ in range(3):
        core.step()
    core.add(InfillRequest("100", "x = ", "\n", document_key="b", client="key:b", canvas_lengths=(8,), max_steps=6))
    core.step()
    light = core.jobs["100"]
    assert light.slots and light.slots[0].steps == 1, "the light request was not in the first step's batch"
    steps = 1
    while "100" in core.jobs:
        results = [m for m in core.step() if isinstance(m, InfillResult)]
        steps += 1
        assert steps <= 6, "the light request took longer than its own step budget"
    assert [r.request_id for r in results] == ["100"] and results[0].candidates
    assert len(core.jobs) == 16  # client A was still saturating the engine all the while


def test_an_interactive_fill_is_encoded_before_a_warm_up_that_came_first(small_core):
    core = small_core
    core.add(InfillRequest("1", HEAVY_PREFIX, "\n", document_key="w", warm=True, client="key:a"))
    core.add(InfillRequest("2", HEAVY_PREFIX + "y = ", "\n", document_key="i", client="key:a", max_steps=4))
    core.step()
    assert core.jobs["2"].kv.ids and not core.jobs["1"].kv.ids


def test_an_unknown_priority_is_refused(small_core):
    with pytest.raises(ValueError, match="priority"):
        small_core.add(InfillRequest("1", "a", "b", priority=7))


def test_on_a_cpu_a_client_gets_at_most_twice_the_lightest_clients_canvases_a_step():
    """A step's cost grows with its batch on a CPU: beside a light client (2 canvases), a heavy one (60) gets
    4 a step, so the light one's steps stay short; with one client, or with "fill", the batch is filled."""

    @dataclass
    class Job:
        request: InfillRequest

    heavy = [(Job(InfillRequest(f"h{i}", "", "", client="key:a")), list(range(8))) for i in range(8)]
    light = [(Job(InfillRequest("l", "", "", client="key:b")), [0, 1])]
    shared = batch_share(heavy + light, 64, equalize=2.0)
    assert [job.request.client for job, _ in shared].count("key:a") == 4
    assert [job.request.client for job, _ in shared].count("key:b") == 2
    assert len(batch_share(heavy + light, 64)) == 64  # fill: the batch is full
    assert len(batch_share(heavy, 64, equalize=2.0)) == 64  # one client: nothing to share
    # Weighed in tokens: beside a light client's 16-token canvas, 128-token canvases wait a step.
    wide = [(Job(InfillRequest("w", "", "", client="key:a")), [128, 128])]
    narrow = [(Job(InfillRequest("n", "", "", client="key:b")), [16])]
    shared = batch_share(wide + narrow, 64, equalize=2.0, size=lambda width: width)
    assert [(job.request.client, width) for job, width in shared] == [("key:b", 16)]


def test_on_a_cpu_a_heavy_clients_prompts_encode_a_chunk_a_step_while_a_light_client_works(small_core):
    core = small_core
    core.add(InfillRequest("heavy", HEAVY_PREFIX, "\n", document_key="h", client="key:a", max_steps=4))
    core.add(InfillRequest("light", "x = ", "\n", document_key="l", client="key:b", canvas_lengths=(32,),
                           num_candidates=2, max_steps=8))
    core.step()
    heavy, light = core.jobs["heavy"], core.jobs["light"]
    assert light.encoded and light.slots  # the light prompt is encoded at once
    share = 2 * (len(light.prompt) + 64)
    assert MIN_PREFILL_SLICE <= share
    assert 0 < len(heavy.kv.ids) <= share  # the heavy one by twice the light one's tokens
    while core.has_work():
        core.step()


def test_on_a_cpu_a_heavy_prompt_waits_while_a_light_request_smaller_than_a_pass_runs(small_core):
    """Twice a one-canvas fill's tokens is less than a pass is worth (an encoder pass over a few tokens costs
    about as much as over MIN_PREFILL_SLICE): the heavy client's prompt waits for the light request's few
    steps, which then cost what they cost alone, and is encoded in the next."""
    core = small_core
    core.add(InfillRequest("heavy", HEAVY_PREFIX, "\n", document_key="h", client="key:a", max_steps=4))
    core.add(InfillRequest("light", "x = ", "\n", document_key="l", client="key:b", canvas_lengths=(8,),
                           max_steps=8))
    assert 2 * (len(core.jobs["light"].prompt) + 8) < MIN_PREFILL_SLICE
    heavy = core.jobs["heavy"]
    while "light" in core.jobs:
        core.step()
        assert not heavy.kv.ids
    core.step()
    assert heavy.kv.ids
    while core.has_work():
        core.step()


# ---- a step's time target ----------------------------------------------------------------------


def test_a_steps_canvases_fit_its_token_room_the_lightest_client_first_and_never_none():
    @dataclass
    class Job:
        request: InfillRequest

    heavy = [(Job(InfillRequest("h", "", "", client="key:a")), [64] * 8)]
    light = [(Job(InfillRequest("l", "", "", client="key:b")), [16])]
    shared = batch_share(heavy + light, 64, size=lambda width: width, tokens=150)
    assert [(job.request.client, width) for job, width in shared] == [("key:b", 16), ("key:a", 64), ("key:a", 64)]
    assert len(batch_share(heavy, 64, size=lambda width: width, tokens=1)) == 1  # a step always makes progress
    assert len(batch_share(heavy + light, 64, size=lambda width: width)) == 9  # no room given: no bound


def test_step_pace_learns_what_a_token_costs_and_bounds_the_step_to_its_target():
    pace = StepPace(0.2)
    assert pace.prompt_tokens(2048, canvases_waiting=False) == StepPace.FIRST_PROMPT_TOKENS  # nothing measured yet
    assert pace.canvas_tokens(0.0) == StepPace.FIRST_CANVAS_TOKENS
    pace.observed("prompt", 1000, 1.0)  # 1 ms a prompt token
    pace.observed("canvas", 100, 0.2)  # 2 ms a canvas token
    assert pace.prompt_tokens(2048, canvases_waiting=False) == 200
    assert pace.prompt_tokens(2048, canvases_waiting=True) == 100  # half the target when canvases wait too
    assert pace.prompt_tokens(50, canvases_waiting=False) == 50  # never above the configured budget
    assert pace.canvas_tokens(0.1) == 50  # what is left after 0.1 s of encoding
    assert pace.canvas_tokens(0.5) == 0  # encoding overran: batch_share still takes one canvas
    pace.observed("prompt", 100, 1.0)  # dearer now: the average moves towards it
    assert StepPace.LEAST_PROMPT_TOKENS <= pace.prompt_tokens(2048, canvases_waiting=False) < 200
    pace.observed("prompt", 0, 1.0)  # nothing encoded: nothing learnt
    unbounded = StepPace(0)
    unbounded.observed("canvas", 1, 100.0)
    assert unbounded.prompt_tokens(2048, canvases_waiting=True) == 2048 and unbounded.canvas_tokens(0.0) is None
    with pytest.raises(ValueError, match="time target"):
        StepPace(-1)
    with pytest.raises(ValueError, match="step_seconds"):
        EngineConfig(step_seconds="fast")
    with pytest.raises(ValueError, match="step_seconds"):
        EngineConfig(step_seconds=-0.5)


def _heavy_core(tiny_model_dir, clients: tuple[str, ...]):
    """A core (steps' time target 0.2 s, batches filled, no equal share) with 4 heavy requests encoded, their
    clients taken in turn from ``clients``, and the costs fixed at 1 ms a prompt token, 10 ms a canvas token."""
    from engine.core.loading import load_core

    core = load_core(tiny_model_dir, config=EngineConfig(step_seconds=0.2, step_share="fill"))
    assert core.pace.seconds == 0.2
    for rid in range(4):
        core.add(InfillRequest(f"h{rid}", HEAVY_PREFIX + f"# {rid}\n", "\n", document_key=f"h{rid}",
                               client=clients[rid % len(clients)], canvas_lengths=(32,), num_candidates=8,
                               max_steps=50))  # fmt: skip
    while not any(job.slots for job in core.jobs.values()):
        core.step()
    core.pace.per_token = {"prompt": 0.001, "canvas": 0.01}
    core.pace.observed = lambda kind, tokens, seconds: None  # keep the costs fixed for the test
    return core


def _one_step(core) -> tuple[int, int]:
    """Canvases advanced and prompt tokens encoded by one step."""
    before = {id(slot): slot.steps for job in core.jobs.values() for slot in job.slots}
    encoded = sum(len(job.kv.ids) for job in core.jobs.values())
    core.step()
    advanced = [slot for job in core.jobs.values() for slot in job.slots if slot.steps > before.get(id(slot), 0)]
    return len(advanced), sum(len(job.kv.ids) for job in core.jobs.values()) - encoded


def test_on_a_cpu_a_heavy_step_is_cut_to_the_time_target(tiny_model_dir):
    """While two clients have work, a 0.2 s step denoises 20 tokens' worth at 10 ms a canvas token (one 32-token
    canvas: at least one) and encodes at most the prompt share, however much either queued."""
    advanced, encoded = _one_step(_heavy_core(tiny_model_dir, ("key:a", "key:b")))
    assert advanced == 1
    assert encoded <= max(100, StepPace.LEAST_PROMPT_TOKENS)


def test_a_lone_clients_prompt_is_encoded_whole_unless_it_has_a_backlog(tiny_model_dir):
    """A client alone with a little work waits only on its own steps: its cold prompt is encoded in one step
    (more passes would only slow it). With a backlog (more than UNPACED_JOBS requests, or UNPACED_CANVASES
    canvases) another's request could come in behind it: then its encoding is cut to the step's share."""
    from engine.core.engine_core import UNPACED_CANVASES, UNPACED_JOBS
    from engine.core.loading import load_core

    def first_step(extra: int) -> int:
        core = load_core(tiny_model_dir, config=EngineConfig(step_seconds=0.2))
        core.pace.per_token = {"prompt": 0.001, "canvas": 0.01}  # 0.2 s: 200 prompt tokens
        core.pace.observed = lambda kind, tokens, seconds: None
        core.add(InfillRequest("cold", HEAVY_PREFIX, "\n", document_key="cold", client="key:a"))
        for rid in range(extra):
            core.add(InfillRequest(f"more{rid}", "x = ", "\n", document_key=f"m{rid}", client="key:a"))
        assert len(core.jobs["cold"].prompt) > 400
        core.step()
        return len(core.jobs["cold"].kv.ids)

    assert first_step(0) == first_step(UNPACED_JOBS - 1) > 400  # whole
    assert first_step(UNPACED_JOBS) <= 200
    core = load_core(tiny_model_dir, config=EngineConfig(step_seconds=0.2))
    core.pace.per_token = {"prompt": 0.001, "canvas": 0.01}
    core.pace.observed = lambda kind, tokens, seconds: None
    core.add(InfillRequest("cold", HEAVY_PREFIX, "\n", document_key="cold", client="key:a",
                           canvas_lengths=(16, 32, 64), num_candidates=8))
    assert len(core.canvases.widths((16, 32, 64))) * 8 > UNPACED_CANVASES
    core.step()
    assert len(core.jobs["cold"].kv.ids) <= 200  # many canvases to come: paced


def test_a_step_time_target_of_zero_is_no_bound(tiny_model_dir):
    from engine.core.loading import load_core

    assert load_core(tiny_model_dir, config=EngineConfig(step_seconds=0)).pace.seconds == 0
