"""Training at toy scale on the CPU: both objectives run, loss goes down, checkpoints resume, export loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from training.fim_examples import FimRecipe, FimSampler, collate
from training.shards import plan_shards, record_line, write_shards

SOURCE = '''
def scale(values, factor):
    """Multiply every value by factor."""
    return [v * factor for v in values]


def total(values):
    result = 0
    for value in values:
        result += value
    return result


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self, by=1):
        self.count += by
        return self.count
'''


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory) -> tuple[Path, Path]:
    from training.tokenizer_train import train_tokenizer

    root = tmp_path_factory.mktemp("toy")
    records = [
        {"text": SOURCE.replace("value", name), "language": "python", "package": "toy", "version": "0",
         "license": "MIT", "path": f"toy/{i}.py", "sha256": str(i)}
        for i, name in enumerate(["value", "item", "entry", "x", "number", "elem"] * 4)
    ]
    lines = [record_line(r) for r in records]
    write_shards(root / "corpus", lines, plan_shards([len(x) for x in lines], 1 << 20))
    tokenizer = train_tokenizer([r["text"] for r in records], vocab_size=400, min_frequency=1)
    tokenizer.save(str(root / "tokenizer.json"))
    return root / "corpus", root / "tokenizer.json"


def test_fim_examples_fit_the_canvas_and_rebuild_the_file(toy_corpus):
    import random

    from engine.prompt.tokenizer import InfillTokenizer

    tokenizer = InfillTokenizer.from_file(toy_corpus[1])
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=400))
    rng = random.Random(0)
    special = tokenizer.special
    for _ in range(50):
        example = sampler.sample(SOURCE, "python", 16, rng)
        assert example is not None and len(example.middle) < 16
        prompt = example.prompt
        assert prompt[:3] == [special.bos, special.languages["python"], special.fim_suffix]
        assert prompt[-1] == special.fim_middle
        split = prompt.index(special.fim_prefix)
        suffix, prefix = prompt[3:split], prompt[split + 1 : -1]
        assert tokenizer.decode(prefix) + tokenizer.decode(example.middle) + tokenizer.decode(suffix) == SOURCE
    batch = collate([sampler.sample(SOURCE, "python", 16, rng) for _ in range(4)], 16, special.pad, special.eom)
    assert batch.canvas_ids.shape == (4, 16)
    assert (batch.canvas_ids[torch.arange(4), batch.middle_lengths] == special.eom).all()


@pytest.mark.parametrize("objective", ["diffusion", "ar"])
def test_toy_training_reduces_loss_resumes_and_exports(toy_corpus, tmp_path, objective):
    import engine.model.architecture as arch
    from training.train import TrainConfig, train

    corpus, tokenizer = toy_corpus
    cfg = TrainConfig(objective=objective, shape="tiny", steps=30, batch_size=8, lr=3e-3, warmup_steps=3,
                      workers=0, eval_every=30, save_every=10, log_every=10,
                      recipe=FimRecipe(max_prefix_tokens=96, max_suffix_tokens=32, canvas_lengths=(16,)))
    summary = train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r and "event" not in r]
    assert losses[-1] < losses[0]
    assert summary["step"] == 30
    # Resuming continues from the saved state instead of starting over.
    cfg.steps = 35
    summary2 = train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    assert summary2["step"] == 35 and summary2["tokens"] > summary["tokens"]
    card = json.loads((tmp_path / "run" / "model" / "infill_model.json").read_text())
    assert card["objective"] == objective and card["shape"]["num_experts"] == arch.SHAPES["tiny"].num_experts
    assert card["summary"]["tokens"] == summary2["tokens"]
    from engine.model.checkpoint import load_model

    loaded = load_model(tmp_path / "run" / "model")
    from engine.prompt.tokenizer import InfillTokenizer

    assert loaded.model.config.text_config.vocab_size == InfillTokenizer.from_file(tokenizer).vocab_size
    assert all(p.stat().st_size < 16 * 1024 * 1024 for p in (tmp_path / "run" / "model").glob("*.safetensors"))


@pytest.mark.parametrize("cap", [30.0, None])
def test_fused_lm_loss_equals_cross_entropy_of_softcapped_logits(monkeypatch, cap):
    import torch.nn.functional as F

    import training.lm_loss as lm_loss

    monkeypatch.setattr(lm_loss, "CHUNK_ELEMENTS", 3 * 50)  # three rows per chunk: the chunk seams are crossed
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 5, 8, generator=gen).requires_grad_()
    weight = (torch.randn(50, 8, generator=gen) * 4).requires_grad_()
    targets = torch.randint(0, 50, (2, 5), generator=gen)
    row_weights = torch.rand(2, 5, generator=gen)
    losses, predictions = lm_loss.softcapped_cross_entropy(hidden, weight, targets, cap)
    (losses * row_weights).sum().backward()
    fused_grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    logits = hidden @ weight.t()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(2, 5)
    (expected * row_weights).sum().backward()
    torch.testing.assert_close(losses, expected)
    assert torch.equal(predictions, logits.argmax(-1))
    torch.testing.assert_close(fused_grads[0], hidden.grad)
    torch.testing.assert_close(fused_grads[1], weight.grad)


@pytest.mark.parametrize("objective", ["diffusion", "ar"])
def test_fused_step_computes_the_reference_loss_and_gradients(objective):
    from engine.model.architecture import SHAPES
    from training.objectives import OBJECTIVES, ObjectiveConfig
    from training.profile import synthetic_batch
    from training.train import build_model

    shape = SHAPES["tiny"]
    batch = synthetic_batch(shape, batch_size=3, prompt_length=40, canvas_length=16, seed=0)
    batch.prompt_mask[0, :6] = False  # one padded row, so the masked paths run too
    results = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = build_model(shape, torch.device("cpu"), lean_norms=fused)
        torch.manual_seed(1)
        cfg = ObjectiveConfig(noise_low_id=16, self_conditioning_prob=1.0, fused_lm_loss=fused)
        loss, stats = OBJECTIVES[objective](model, batch, cfg)
        loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        results.append((stats, grads, set(model.state_dict())))
    (ref_stats, ref_grads, ref_keys), (stats, grads, keys) = results
    assert keys == ref_keys  # checkpoints and exports are unchanged
    assert stats == pytest.approx(ref_stats, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    scale = max(g.abs().max() for g in ref_grads.values())
    for name, grad in grads.items():
        assert (grad - ref_grads[name]).abs().max() <= 1e-4 * scale, name


def test_profile_writes_step_time_memory_and_operator_tables(tmp_path):
    from training.profile import ProfileConfig, profile_training

    cfg = ProfileConfig(shape="tiny", batch_size=2, prompt_length=48, canvas_length=16, warmup_steps=1,
                        timed_steps=1, profiled_steps=1, variants=("reference", "lean"))
    results = profile_training(cfg, tmp_path / "profile.txt")
    report = (tmp_path / "profile.txt").read_text()
    assert [r["variant"] for r in results] == ["reference", "lean"]
    assert all(r["step_s"] > 0 and r["tokens_per_s"] > 0 for r in results)
    assert "| reference |" in report and "| lean |" in report
    assert "aten::mm" in report and "top operators by self CPU time" in report
    for phase in ("encoder", "decoder", "backward", "optimizer"):  # the phases of the step, timed
        assert re.search(rf"^  {phase} +cpu +[\d.]+ ms", report, re.M), phase
    with pytest.raises(ValueError, match="variants"):
        ProfileConfig(variants=("nope",))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_scale", [True, False])
def test_lean_rms_norm_matches_the_module(dtype, with_scale):
    from transformers.models.diffusion_gemma.modeling_diffusion_gemma import DiffusionGemmaRMSNorm

    from training.kernels import use_lean_rms_norm

    gen = torch.Generator().manual_seed(0)
    plain, lean = (DiffusionGemmaRMSNorm(16, with_scale=with_scale) for _ in range(2))
    if with_scale:
        plain.weight.data = lean.weight.data = torch.randn(16, generator=gen)
    assert use_lean_rms_norm(lean) == 1
    x = (torch.randn(3, 4, 16, generator=gen) * 3).to(dtype)
    upstream = torch.randn(3, 4, 16, generator=gen).to(dtype)
    outputs = []
    for norm in (plain, lean):
        xi = x.clone().requires_grad_()
        y = norm(xi)
        y.backward(upstream)
        outputs.append((y, xi.grad, norm.weight.grad if with_scale else None))
    (y0, gx0, gw0), (y1, gx1, gw1) = outputs
    assert y1.dtype == dtype and gx1.dtype == dtype
    torch.testing.assert_close(y1, y0)
    torch.testing.assert_close(gx1, gx0)
    if with_scale:
        torch.testing.assert_close(gw1, gw0)


def test_planning_from_time_writes_a_final_step_count(toy_corpus, tmp_path):
    from training.train import TrainConfig, train

    corpus, tokenizer = toy_corpus
    plan = tmp_path / "plan.json"
    cfg = TrainConfig(objective="diffusion", shape="tiny", steps=1_000_000, batch_size=2, lr=1e-3, warmup_steps=3,
                      workers=0, eval_every=10_000, save_every=10_000, log_every=20, time_limit_s=4.0,
                      plan_steps_from_time=True, plan_file=str(plan),
                      recipe=FimRecipe(max_prefix_tokens=32, max_suffix_tokens=16, canvas_lengths=(16,)))
    summary = train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    plans = [r for r in log if r.get("event") == "planned"]
    # A first plan at step 40; it is final when it stays within 200 steps, else the one at step 200 is.
    assert plans and plans[0]["steps"] >= 40
    final = [r for r in plans if r["final"]]
    if final:
        assert json.loads(plan.read_text())["steps"] == final[0]["steps"] >= summary["step"]
    else:  # the time limit came between the two plans
        assert not plan.exists() and 40 <= summary["step"] < 200


def _chat_tokenizer(toy_corpus, tmp_path) -> Path:
    from infill_tools.chat_model import chat_tokenizer

    out = tmp_path / "chat" / "tokenizer.json"
    chat_tokenizer(toy_corpus[1], out)
    return out


def test_chat_format_examples_are_the_engines_prompt_and_trim_to_equal_lengths(toy_corpus, tmp_path):
    import random

    from engine.prompt.formats import choose_format
    from engine.prompt.tokenizer import InfillTokenizer
    from training.fim_examples import equal_length_batches, trim_parts
    from training.train import bind_training_format

    tokenizer = InfillTokenizer.from_file(_chat_tokenizer(toy_corpus, tmp_path))
    assert choose_format(tokenizer).name == "chat"  # renamed FIM tokens: the engine serves it as chat
    fmt = bind_training_format(tokenizer, "chat")
    with pytest.raises(ValueError, match="pins suffix tokens"):
        bind_training_format(tokenizer, "native")
    with pytest.raises(ValueError, match="unknown prompt format 'chatty'"):
        bind_training_format(tokenizer, "chatty")
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=400), fmt)
    rng = random.Random(0)
    examples = [sampler.sample(SOURCE, "python", 16, rng) for _ in range(40)]
    for example in examples:
        assert example.prompt == fmt.prompt(list(example.prefix), list(example.suffix), "python")
        assert example.prompt[len(example.prompt) - len(example.prefix):] == list(example.prefix)
        text = tokenizer.decode(list(example.prefix)) + tokenizer.decode(example.middle)
        assert text + tokenizer.decode(list(example.suffix)) == SOURCE
    batches = equal_length_batches(examples, 8, None, fmt)
    assert batches
    for batch in batches:
        assert len({len(e.prompt) for e in batch}) == 1
        for e in batch:
            assert e.prompt == fmt.prompt(list(e.prefix), list(e.suffix), "python")
    for e in examples:  # trimming drops the oldest prefix tokens first, then the end of the suffix
        cut = trim_parts(e, len(e.prompt) - 3, fmt)
        if len(e.prefix) >= 3:
            assert cut.prefix == e.prefix[3:] and cut.suffix == e.suffix
        else:
            assert cut.prefix == () and cut.suffix == e.suffix[: len(e.suffix) - (3 - len(e.prefix))]
        assert len(cut.prompt) == len(e.prompt) - 3
    end = fmt.end_ids[0]
    assert tokenizer.token_id("<turn|>") == end
    batch = collate(batches[0], 16, 0, end)
    assert (batch.canvas_ids[torch.arange(8), batch.middle_lengths] == end).all()


def test_a_trained_model_adapts_to_the_chat_format_and_the_engine_serves_it(toy_corpus, tmp_path):
    from engine.host.launch import EngineLaunch
    from engine.protocol import InfillRequest, InfillResult
    from infill_tools.chat_model import finish_model_dir
    from training.train import TrainConfig, train

    corpus, tokenizer = toy_corpus
    recipe = FimRecipe(max_prefix_tokens=96, max_suffix_tokens=32, canvas_lengths=(16,))
    base = TrainConfig(shape="tiny", steps=4, batch_size=4, lr=3e-3, warmup_steps=1, workers=0, eval_every=100,
                       save_every=100, log_every=100, recipe=recipe)
    train(base, corpus, tokenizer, tmp_path / "fim", "cpu")
    chat_tokenizer = _chat_tokenizer(toy_corpus, tmp_path)
    adapted = TrainConfig(shape="tiny", steps=3, batch_size=4, lr=1e-3, warmup_steps=1, workers=0, eval_every=100,
                          save_every=100, log_every=1, prompt_format="chat", init_from=str(tmp_path / "fim" / "model"),
                          recipe=recipe)
    summary = train(adapted, corpus, chat_tokenizer, tmp_path / "chat", "cpu")
    assert summary["step"] == 3
    model_dir = tmp_path / "chat" / "model"
    finish_model_dir(model_dir, end_id=_token_id(chat_tokenizer, "<turn|>"), eos_id=_token_id(chat_tokenizer, "<eos>"))
    core = EngineLaunch(model_dir=model_dir, device="cpu", dtype="float32").load_core()
    assert core.format.name == "chat" and core.policy == "generate"
    core.add(InfillRequest("1", "def total(values):\n    result = ", "\n    return result\n", language="python",
                           max_steps=4))
    results = []
    while core.has_work():
        results += [m for m in core.step() if isinstance(m, InfillResult)]
    assert len(results) == 1 and results[0].forward_passes <= 4


def _token_id(path: Path, token: str) -> int:
    from engine.prompt.tokenizer import InfillTokenizer

    return InfillTokenizer.from_file(path).token_id(token)


def test_init_from_a_model_of_another_shape_is_refused(toy_corpus, tmp_path):
    from training.train import TrainConfig, train

    corpus, tokenizer = toy_corpus
    cfg = TrainConfig(shape="tiny", steps=1, batch_size=2, workers=0, init_from=str(tmp_path / "nothing"),
                      recipe=FimRecipe(max_prefix_tokens=32, max_suffix_tokens=16, canvas_lengths=(16,)))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no safetensors files"):
        train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    small = Path(__file__).resolve().parent.parent / "engine" / "models" / "infill-small"
    cfg.init_from = str(small)
    with pytest.raises(ValueError, match="shape differs"):
        train(cfg, corpus, tokenizer, tmp_path / "run2", "cpu")
