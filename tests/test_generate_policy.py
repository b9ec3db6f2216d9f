"""The generate policy (transformers' generate() as an engine policy): its settings, its step against
transformers' own sampler and stopping, and the core serving it on the published layout: batching,
cancellation, streaming, pinned text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.core.sampler import GENERATE_DEFAULTS, GenerateConfig, generate_step, initial_canvas
from engine.protocol import FinishReason, InfillRequest, InfillResult, Partial
from infill_tools import equivalence
from infill_tools.published import build_published_checkpoint


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory) -> Path:
    return build_published_checkpoint(tmp_path_factory.mktemp("published") / "diffusiongemma-26B-A4B-it")


@pytest.fixture(scope="module")
def core(published_dir):
    from engine.core.config import EngineConfig
    from engine.core.loading import load_core

    # generate()'s stop rule, so whole canvases compare with transformers'; no time target, so the batches
    # the tests expect are not cut by how long this machine's steps take.
    return load_core(published_dir, device="cpu", dtype="float32",
                     config=EngineConfig(stop_rule="canvas", step_seconds=0))


def request(request_id: int, prefix: str = "a = ", **kw) -> InfillRequest:
    return InfillRequest(str(request_id), prefix, "\nprint(total)\n", language="python", **{"max_steps": 4, **kw})


# ---- settings ---------------------------------------------------------------------------------------


def test_the_defaults_are_generates_own():
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import DiffusionGemmaGenerationConfig

    theirs = DiffusionGemmaGenerationConfig._get_default_generation_params()
    theirs["entropy_bound"] = theirs.pop("sampler_config").entropy_bound
    del theirs["max_new_tokens"]  # one canvas: the engine never goes past it
    assert GENERATE_DEFAULTS == theirs


def test_a_generation_config_selects_the_policy_and_gives_its_values(published_dir):
    from engine.core.loading import read_generation_config
    from engine.model.checkpoint import default_model_dir

    # The embedded model's file sets no sampling value (transformers writes nulls): the engine's policy.
    assert read_generation_config(default_model_dir()) is None
    assert GenerateConfig.from_generation_config({"transformers_version": "5.23.0", "eos_token_id": 1}) is None
    published = read_generation_config(published_dir)
    assert published == GenerateConfig(max_steps=48, entropy_bound=0.1, t_max=0.8, t_min=0.4,
                                       stability_threshold=1, confidence_threshold=0.005)
    saved = json.loads((published_dir / "generation_config.json").read_text())
    assert saved["sampler_config"]["_cls_name"] == "EntropyBoundSamplerConfig"  # as transformers writes it
    # Unset values take generate()'s defaults; bad ones are refused naming the field.
    assert GenerateConfig.from_generation_config({"max_denoising_steps": 12}) == GenerateConfig(max_steps=12)
    with pytest.raises(ValueError, match="entropy_bound"):
        GenerateConfig.from_generation_config({"sampler_config": {"entropy_bound": -1.0}})
    with pytest.raises(ValueError, match="t_min"):
        GenerateConfig(t_min=0.9, t_max=0.5)


def test_the_tiny_model_keeps_the_engine_policy(tiny_model_dir):
    from engine.core.loading import read_generation_config

    assert read_generation_config(tiny_model_dir) is None


# ---- one step against transformers' sampler and stopping ---------------------------------------------


def _peaked_logits(step: int, width: int, vocab: int) -> torch.Tensor:
    """A stand-in denoiser whose rows sharpen step by step towards fixed targets (so several positions
    are accepted per step and the canvas grows stable and confident)."""
    rng = torch.Generator().manual_seed(1000 + step)
    logits = torch.randn(width, vocab, generator=rng)
    targets = torch.arange(width) * 3 % vocab
    logits[torch.arange(width), targets] += 2.0 * step + torch.linspace(0, 1, width)
    return logits


@pytest.mark.parametrize(("bound", "stability"), [(0.5, 1), (3.0, 2), (0.1, 0)])
def test_a_step_is_transformers_sampler_and_stopping(bound, stability):
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        EntropyBoundSampler,
        EntropyBoundSamplerConfig,
        LinearTemperatureScheduleLogitsProcessor,
        StableAndConfidentStoppingCriteria,
    )

    width, vocab, steps, seed = 12, 40, 30, 4
    cfg = GenerateConfig(max_steps=steps, entropy_bound=bound, stability_threshold=stability,
                         confidence_threshold=0.05)
    # transformers' loop, as generate() runs it (the global generator; steps counted down).
    torch.manual_seed(seed)
    sampler = EntropyBoundSampler(EntropyBoundSamplerConfig(entropy_bound=bound), width, vocab, steps)
    schedule = LinearTemperatureScheduleLogitsProcessor(t_min=cfg.t_min, t_max=cfg.t_max, max_denoising_steps=steps)
    stopping = StableAndConfidentStoppingCriteria(stability, cfg.confidence_threshold)
    canvas = sampler.initialize_canvas(1, torch.device("cpu"))
    theirs = []
    for done, remaining in enumerate(reversed(range(1, steps + 1)), start=1):
        processed = schedule(None, _peaked_logits(done, width, vocab)[None], torch.tensor(remaining, dtype=torch.int32))
        probs = torch.softmax(processed, dim=-1, dtype=torch.float32)
        sampled = torch.multinomial(probs.view(-1, vocab), num_samples=1).view(1, width)
        argmax = processed.argmax(-1)
        canvas = sampler.renoise_canvas(sampler.accept_canvas(canvas, sampled, processed, remaining), remaining)
        finished = bool(stopping(argmax, processed).all())
        theirs.append((canvas[0].clone(), argmax[0], sampler.accepted_token_mask[0].clone(), finished))
        if finished:
            break
    # generate_step with its own generator.
    generator = torch.Generator().manual_seed(seed)
    current = initial_canvas(width, vocab, generator)[None]
    history = torch.full((1, stability, width), -1, dtype=torch.long)
    none = torch.zeros(1, width, dtype=torch.bool)
    ours = []
    for step in range(steps):
        out = generate_step(current, _peaked_logits(step + 1, width, vocab)[None], pinned=none, no_end=none,
                            step=torch.tensor([step]), max_steps=torch.tensor([steps]), history=history,
                            generators=[generator], banned=torch.tensor([], dtype=torch.long),
                            end_ids=torch.tensor([0]), cfg=cfg)
        current, history = out.canvas, out.history
        ours.append((out.canvas[0], out.argmax[0], out.accepted[0], bool(out.done[0])))
        if out.done[0]:
            break
    assert len(ours) == len(theirs) < steps and ours[-1][3]  # it stopped, at the same step
    assert max(int(mask.sum()) for _, _, mask, _ in ours) > 1  # several positions in one step
    for (a, b, c, d), (e, f, g, h) in zip(ours, theirs, strict=True):
        assert torch.equal(a, e) and torch.equal(b, f) and torch.equal(c, g) and d == h


def test_pinned_positions_stay_and_the_first_position_never_ends_the_fill():
    width, vocab = 6, 30
    logits = torch.zeros(1, width, vocab)
    logits[0, :, 7] = 9.0  # the argmax everywhere is id 7, which ends the fill...
    logits[0, :, 12] = 8.0  # ...and id 12 is the next best
    pinned = torch.tensor([[True, False, False, False, False, False]])
    no_end = torch.tensor([[False, True, False, False, False, False]])  # the first free position
    canvas = torch.tensor([[20, 1, 2, 3, 4, 5]])
    out = generate_step(canvas, logits.clone(), pinned=pinned, no_end=no_end, step=torch.tensor([0]),
                        max_steps=torch.tensor([4]), history=torch.full((1, 1, width), -1),
                        generators=[torch.Generator().manual_seed(0)], banned=torch.tensor([3]),
                        end_ids=torch.tensor([7]), cfg=GenerateConfig(max_steps=4))
    assert out.canvas[0, 0] == 20 and out.argmax[0, 0] == 20 and out.accepted[0, 0]
    assert out.argmax[0, 1:].tolist() == [7] * 5  # generate()'s canvas: ends at once
    assert out.fill[0].tolist() == [20, 12, 7, 7, 7, 7]  # what the engine shows: one token, then the end



@pytest.mark.parametrize("rule", ["canvas", "shown", "shown-line"])
def test_the_shown_stop_rule_judges_only_what_the_user_sees(rule):
    """A canvas whose shown part (to its end id, or to a line break for a single-line hole) is certain while
    the positions after it stay uncertain: generate()'s rule never stops it; the shown rule does, once
    that part is unchanged from the step before."""
    width, vocab, end, newline = 8, 30, 7, 9
    logits = torch.zeros(1, width, vocab)
    logits[0, 0, 11] = logits[0, 1, 12] = 60.0  # two certain tokens...
    logits[0, 2, newline if rule == "shown-line" else end] = 60.0  # ...then a line break, or the end
    # after it: uncertain (flat logits)
    line_rows = torch.tensor([rule == "shown-line"])
    none = torch.zeros(1, width, dtype=torch.bool)
    history = torch.full((1, 1, width), -1, dtype=torch.long)
    canvas, generator = torch.randint(20, vocab, (1, width)), torch.Generator().manual_seed(0)
    done = []
    for step in range(3):
        out = generate_step(canvas, logits.clone(), pinned=none, no_end=none, step=torch.tensor([step]),
                            max_steps=torch.tensor([8]), history=history, generators=[generator],
                            banned=torch.tensor([], dtype=torch.long), end_ids=torch.tensor([end]),
                            cfg=GenerateConfig(max_steps=8), judge_shown=rule != "canvas", line_rows=line_rows,
                            newline_ids=torch.tensor([newline]))
        canvas, history = out.canvas, out.history
        done.append(bool(out.done[0]))
    # the first step has no earlier argmax to be stable against
    assert done == ([False, False, False] if rule == "canvas" else [False, True, True])


def test_a_line_break_does_not_end_what_a_multi_line_hole_shows():
    width, vocab, end, newline = 6, 30, 7, 9
    logits = torch.zeros(1, width, vocab)
    logits[0, 0, 11] = logits[0, 1, newline] = 60.0  # a certain first line; everything after uncertain
    none = torch.zeros(1, width, dtype=torch.bool)
    history = torch.full((1, 1, width), -1, dtype=torch.long)
    canvas, generator = torch.randint(20, vocab, (1, width)), torch.Generator().manual_seed(0)
    for step in range(3):
        out = generate_step(canvas, logits.clone(), pinned=none, no_end=none, step=torch.tensor([step]),
                            max_steps=torch.tensor([8]), history=history, generators=[generator],
                            banned=torch.tensor([], dtype=torch.long), end_ids=torch.tensor([end]),
                            cfg=GenerateConfig(max_steps=8), judge_shown=True, line_rows=torch.tensor([False]),
                            newline_ids=torch.tensor([newline]))
        canvas, history = out.canvas, out.history
        assert not out.done[0]


# ---- the core ----------------------------------------------------------------------------------------


def _answers(core, requests):
    return equivalence.engine_canvases(core, requests)


def test_requests_batched_together_answer_what_each_answers_alone(core, monkeypatch):
    """Several requests (and candidates) in one batch: every canvas draws from its own generator, so a
    canvas is the same batched as alone. (Prompts of one length: the batched forward pass is then bit for
    bit the single one; other lengths agree to float rounding, see POLICY_DIFFERENCES.)"""
    batches: list[int] = []
    real = core.runner.denoise
    monkeypatch.setattr(core.runner, "denoise", lambda canvases, *rest: batches.append(len(canvases))
                        or real(canvases, *rest))
    a = request(1, "a = ", seed=21, num_candidates=2)
    b = request(2, "b = ", seed=22)
    alone = {**_answers(core, [a]), **_answers(core, [b])}
    assert len(alone["1"].prompt) == len(alone["2"].prompt) and batches == [2] * 4 + [1] * 4
    batches.clear()
    together = _answers(core, [a, b])
    assert batches == [3] * 4
    for rid in ("1", "2"):
        assert all(torch.equal(x, y) for x, y in zip(alone[rid].canvases, together[rid].canvases, strict=True))
        assert alone[rid].result.candidates == together[rid].result.candidates
    # The candidates of one request differ (their own generators), and its first is generate()'s.
    assert not torch.equal(alone["1"].canvases[0], alone["1"].canvases[1])


def test_rows_left_out_of_self_conditioning_get_none(core):
    """The runner's ``self_conditioning_rows``: a row left out is denoised as with no self-conditioning at
    all (bit for bit), while zero logits would be a signal (a uniform one) and change its logits."""
    from engine.core.kv import PromptKV

    runner = core.runner
    rng = torch.Generator().manual_seed(5)
    prompts = [[2, 105, *torch.randint(107, 400, (30,), generator=rng).tolist()] for _ in range(2)]
    kvs = [runner.encode(PromptKV(), ids) for ids in prompts]
    canvas = torch.randint(0, runner.vocab_size, (2, 256), generator=rng)
    sc = torch.randn(2, 256, runner.vocab_size, generator=rng)
    with torch.inference_mode():
        first_step = runner.denoise(canvas[1:], kvs[1:], None)[0]
        conditioned = runner.denoise(canvas[:1], kvs[:1], sc[:1])[0]
        both = runner.denoise(canvas, kvs, sc, None, torch.tensor([True, False]))
        assert torch.equal(both[1], first_step) and torch.equal(both[0], conditioned)
        sc[1] = 0.0
        assert not torch.allclose(runner.denoise(canvas, kvs, sc)[1], first_step, atol=1e-5)


def test_a_request_joining_mid_denoise_gets_no_self_conditioning_at_its_first_step(core, monkeypatch):
    """A batch where one canvas is at its first step and another is not: the first gets no
    self-conditioning (the model's mask), exactly as alone, not the uniform signal of zero logits."""
    logits: list[torch.Tensor] = []
    real = core.runner.denoise
    monkeypatch.setattr(core.runner, "denoise", lambda *args: logits.append(real(*args).clone()) or logits[-1])
    a, b = request(3, seed=31), request(4, "b = ", seed=32)
    alone = {**_answers(core, [a]), **_answers(core, [b])}
    b_first_step = logits[4][0]
    logits.clear()
    core.add(a)
    first = core.jobs["3"]
    core.step()  # a: step 1 alone
    core.step()  # a: step 2, self-conditioned
    joined = _answers(core, [b])  # a: steps 3 and 4 beside b's first two
    assert [len(x) for x in logits] == [1, 1, 2, 2, 1, 1]
    assert torch.equal(logits[2][1], b_first_step)
    assert joined["4"].result.steps == 4 and not core.has_work()
    assert torch.equal(joined["4"].canvases[0], alone["4"].canvases[0])
    assert torch.equal(first.slots[0].argmax, alone["3"].canvases[0])


def test_cancelling_mid_denoise_frees_the_slot_within_a_step_and_leaves_the_rest_alone(core, monkeypatch):
    b = request(6, "b = ", seed=62)
    (alone,) = _answers(core, [b]).values()
    batches: list[int] = []
    real = core.runner.denoise
    monkeypatch.setattr(core.runner, "denoise", lambda canvases, *rest: batches.append(len(canvases))
                        or real(canvases, *rest))
    core.add(request(5, seed=61, max_steps=40))
    core.add(b)
    out = core.step() + core.step()
    core.cancel("5")
    out += core.step()
    cancelled = [m for m in out if isinstance(m, InfillResult)]
    assert [(m.request_id, m.finish_reason) for m in cancelled] == [("5", FinishReason.CANCELLED)]
    assert not cancelled[0].candidates and "5" not in core.jobs
    assert batches == [2, 2, 1]  # the step that answered the cancel ran without it
    job = core.jobs["6"]
    while core.has_work():
        core.step()
    assert torch.equal(job.slots[0].argmax, alone.canvases[0])


def test_streaming_sends_each_steps_fill(core):
    core.add(request(8, seed=71, max_steps=5, stream=True))
    partials: list[Partial] = []
    result = None
    while core.has_work():
        for message in core.step():
            if isinstance(message, Partial):
                partials.append(message)
            elif isinstance(message, InfillResult):
                result = message
    assert [p.step for p in partials] == [1, 2, 3, 4, 5]
    assert all(p.request_id == "8" and p.text for p in partials)  # never empty
    assert result is not None and partials[-1].text == result.candidates[0].text
    assert len({p.text for p in partials}) > 1  # the fill changes as the canvas is re-judged


def test_pinned_text_starts_every_canvas_and_the_fill(core):
    pinned = "abc"
    ids = core.tokenizer.encode(pinned)
    core.add(request(9, seed=91, pinned=pinned, num_candidates=2, stream=True))
    job = core.jobs["9"]
    results = []
    while core.has_work():
        results += [m for m in core.step() if isinstance(m, InfillResult)]
        for slot in job.slots:
            assert slot.canvas[: len(ids)].tolist() == ids and slot.argmax[: len(ids)].tolist() == ids
    (result,) = results
    assert result.candidates and all(c.text.startswith(pinned) and len(c.text) > len(pinned)
                                     for c in result.candidates)


def test_the_onnx_runner_serves_the_generate_policy(published_dir, core, tmp_path, monkeypatch):
    """The ONNX backend runs the same policy: its single-canvas step honours ``self_conditioning_rows``,
    and a request's canvas matches the torch backend's (fp32 on both)."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from engine.core.kv import PromptKV
    from engine.core.loading import load_core
    from engine.model.onnx_runner import OnnxRunner

    onnx_core = load_core(published_dir, device="cpu", backend="onnx")
    runner = onnx_core.runner
    assert isinstance(runner, OnnxRunner) and onnx_core.policy == "generate"
    kv = runner.encode(PromptKV(), [2, 105, *range(200, 230)])
    canvas = torch.randint(0, runner.vocab_size, (1, 256), generator=torch.Generator().manual_seed(2))
    sc = torch.randn(1, 256, runner.vocab_size, generator=torch.Generator().manual_seed(3))
    left_out = runner.denoise(canvas, [kv], sc, None, torch.tensor([False]))
    assert torch.equal(left_out, runner.denoise(canvas, [kv], None))
    assert not torch.equal(left_out, runner.denoise(canvas, [kv], sc, None, torch.tensor([True])))
    asked = request(10, seed=101)
    (ours,) = _answers(onnx_core, [asked]).values()
    (torch_answer,) = _answers(core, [asked]).values()
    assert ours.result.steps == 4 and (ours.canvases[0] == torch_answer.canvases[0]).float().mean() > 0.95


@pytest.mark.parametrize(("rule", "single_line", "passes"), [("shown", True, 2), ("canvas", True, 12),
                                                           ("shown", False, 12)])
def test_the_core_stops_a_single_line_fill_once_its_line_is_settled(core, monkeypatch, rule, single_line, passes):
    """A model certain of a token and a line break, and of nothing after them: under the shown rule a
    single-line hole is done at the second step (the first has nothing to be stable against); generate()'s
    rule, or a multi-line hole (which shows past the line break), runs every step."""
    import dataclasses

    monkeypatch.setattr(core, "config", dataclasses.replace(core.config, stop_rule=rule))
    word, newline = core.tokenizer.encode("x")[0], core.tokenizer.newline_ids()[0]
    real = core.runner.denoise

    def certain_of_one_line(canvases, *args, **kwargs):
        logits = real(canvases, *args, **kwargs)
        logits.zero_()
        logits[:, 0, word] = logits[:, 1, newline] = 60.0
        return logits

    monkeypatch.setattr(core.runner, "denoise", certain_of_one_line)
    core.add(InfillRequest("1", "def f():\n    return ", "\n", language="python", single_line=single_line,
                           max_steps=12))
    results = []
    while core.has_work():
        results += [m for m in core.step() if isinstance(m, InfillResult)]
    assert results[0].forward_passes == passes
    if single_line:
        assert results[0].candidates[0].text.startswith("x")
