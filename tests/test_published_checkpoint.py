"""Serving the published DiffusionGemma checkpoint's layout: a random-weight copy of it on disk (sharded,
no card, a vision tower, Gemma 4's tokenizer), loading it, its memory plan, ``infill engine --check``, and
the engine's model path against transformers' own ``generate()``."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest
import torch

from engine.core.config import EngineConfig
from engine.core.engine_core import request_seed
from engine.core.sampler import GenerateConfig, SamplerConfig, denoise_step, temperature
from engine.host.server import main as engine_main
from engine.model.checkpoint import load_model
from engine.model.memory_plan import (
    GIB,
    MemoryPlanError,
    fit_batch,
    kv_bytes_per_token,
    parameter_counts,
    plan_memory,
    require_fits,
)
from engine.protocol import FinishReason, InfillRequest
from infill_tools import equivalence
from infill_tools.published import (
    CHAT_TEMPLATE,
    GEMMA4_SPECIALS,
    GENERATION,
    build_published_checkpoint,
    published_config,
)

PUBLISHED_NAME = "diffusiongemma-26B-A4B-it"


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory) -> Path:
    return build_published_checkpoint(tmp_path_factory.mktemp("published") / PUBLISHED_NAME)


@pytest.fixture(scope="module")
def loaded(published_dir):
    return load_model(published_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def runner(loaded):
    from engine.model.torch_runner import TorchRunner

    return TorchRunner(loaded)


def _prompt_and_canvas(vocab: int, width: int, seed: int = 0) -> tuple[list[int], torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    prompt = [2, 105, *torch.randint(107, vocab - 3, (24,), generator=rng).tolist(), 106, 105]
    return prompt, torch.randint(0, vocab, (width,), generator=rng)


# ---- the layout on disk ---------------------------------------------------------------------------


def test_the_directory_holds_what_the_published_one_holds(published_dir):
    names = {p.name for p in published_dir.iterdir()}
    shards = sorted(n for n in names if n.endswith(".safetensors"))
    assert len(shards) >= 3 and all(n.startswith("model-") and "-of-" in n for n in shards)
    assert {"config.json", "generation_config.json", "model.safetensors.index.json", "tokenizer.json",
            "tokenizer_config.json"} <= names
    assert "infill_model.json" not in names
    index = json.loads((published_dir / "model.safetensors.index.json").read_text())
    assert sorted(set(index["weight_map"].values())) == shards
    assert any(".vision_tower." in key for key in index["weight_map"])


def test_config_and_generation_config_carry_the_published_values(published_dir):
    config = json.loads((published_dir / "config.json").read_text())
    assert config["architectures"] == ["DiffusionGemmaForBlockDiffusion"]
    assert config["canvas_length"] == 256 and config["eos_token_id"] == [1, 106, 50]
    text = config["text_config"]
    assert text["layer_types"] == ["sliding_attention", "full_attention"]
    assert text["final_logit_softcapping"] == 30.0 and text["tie_word_embeddings"] is True
    assert text["sliding_window"] == 1024
    assert text["per_layer_config"]["1"] == {"head_dim": 2 * text["head_dim"], "num_key_value_heads": 1}
    assert config["vision_config"]["model_type"] == "gemma4_vision"
    gen = json.loads((published_dir / "generation_config.json").read_text())
    assert gen["max_denoising_steps"] == 48 and gen["sampler_config"]["entropy_bound"] == 0.1
    assert (gen["t_max"], gen["t_min"]) == (0.8, 0.4)
    assert (gen["stability_threshold"], gen["confidence_threshold"]) == (1, 0.005)
    assert gen["eos_token_id"] == [1, 106, 50]


def test_the_published_width_config_is_the_published_model():
    config = published_config("published", layers=30)
    text = config.text_config
    assert (text.hidden_size, text.num_experts, text.top_k_experts, text.vocab_size) == (2816, 128, 8, 262_144)
    assert text.layer_types.count("full_attention") == 5 and text.layer_types[5] == "full_attention"
    full, sliding = text.per_layer_config[5], text.per_layer_config[0]
    assert (full.head_dim, full.num_key_value_heads) == (512, 2)
    assert (sliding.head_dim, sliding.num_key_value_heads) == (256, 8)
    assert (config.boi_token_id, config.image_token_id, config.eoi_token_id) == (255_999, 258_880, 258_882)


def test_the_tokenizer_has_gemma4_special_ids_and_no_fim_tokens(published_dir):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(published_dir / "tokenizer.json"))
    config = json.loads((published_dir / "config.json").read_text())
    assert tokenizer.get_vocab_size() == config["text_config"]["vocab_size"]
    for index, token in GEMMA4_SPECIALS.items():
        assert tokenizer.token_to_id(token) == index
    for index in (5, 49, 99, 102, 104):
        assert tokenizer.id_to_token(index) == f"<unused{index}>"
    assert tokenizer.token_to_id("<|image>") == config["boi_token_id"]
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    assert not any("fim" in token.lower() for token in vocab)
    text = "def add(a, b):\n    return a + b\n"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids) == text
    turn = tokenizer.encode("<|turn>user\nfill this<turn|>\n<|turn>model\n", add_special_tokens=False).ids
    assert turn[0] == 105 and 106 in turn and turn.count(105) == 2
    settings = json.loads((published_dir / "tokenizer_config.json").read_text())
    assert settings["chat_template"] == CHAT_TEMPLATE and settings["bos_token"] == "<bos>"


# ---- loading ----------------------------------------------------------------------------------------


def test_loads_by_path_without_a_card_and_keeps_no_vision_tower(loaded, published_dir):
    assert loaded.card == {"name": PUBLISHED_NAME, "trained": True, "derived": True}
    names = [name for name, _ in loaded.model.named_parameters()]
    assert names and not any("vision" in name for name in names)
    assert loaded.model.model.encoder.vision_tower is None
    assert loaded.vision_parameters_dropped == loaded.plan.counts.vision > 0
    kept = sum(p.numel() for p in loaded.model.parameters())
    assert kept == loaded.plan.counts.text


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_vision_tower_never_reaches_the_gpu(published_dir):
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    gpu = load_model(published_dir, device="cuda", dtype="bfloat16")
    on_device = torch.cuda.memory_allocated() - before
    tensors = {t.data_ptr(): t for t in (*gpu.model.parameters(), *gpu.model.buffers())}
    assert all(t.device.type == "cuda" for t in tensors.values())
    own = sum(-(-t.numel() * t.element_size() // 512) * 512 for t in tensors.values())
    assert on_device <= own  # the model's own (text) tensors and nothing else
    assert sum(p.numel() for p in gpu.model.parameters()) == gpu.plan.counts.text


def test_load_core_serves_the_published_directory(published_dir):
    from engine.core.loading import load_core

    core = load_core(published_dir, device="cpu", dtype="float32")
    assert core.welcome.model_name == PUBLISHED_NAME and core.welcome.trained
    assert core.welcome.prompt_format == "chat" and core.canvas_length == 256  # the published canvas
    assert core.end_ids.tolist() == [106, 1]
    # Its generation_config.json sets the sampling values: generate()'s policy with them.
    assert core.policy == "generate"
    assert core.generation == GenerateConfig(
        max_steps=GENERATION["max_denoising_steps"], entropy_bound=GENERATION["entropy_bound"],
        t_max=GENERATION["t_max"], t_min=GENERATION["t_min"],
        stability_threshold=GENERATION["stability_threshold"], confidence_threshold=GENERATION["confidence_threshold"])


def test_a_compressed_tensors_checkpoint_needs_its_package(published_dir, tmp_path):
    quantized = tmp_path / "fp8"
    quantized.mkdir()
    for path in published_dir.iterdir():
        (quantized / path.name).symlink_to(path)
    config = json.loads((published_dir / "config.json").read_text())
    config["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": "float-quantized",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "float"}}},
    }
    (quantized / "config.json").unlink()
    (quantized / "config.json").write_text(json.dumps(config))
    plan = plan_memory(quantized, torch.bfloat16)
    assert plan.quantized == "compressed-tensors"
    assert plan.weight_bytes == plan.counts.embedding * 2 + (plan.counts.text - plan.counts.embedding)
    if importlib.util.find_spec("compressed_tensors") is not None:
        pytest.skip("compressed-tensors is installed here: transformers loads the checkpoint")
    with pytest.raises(RuntimeError, match="pip install compressed-tensors") as caught:
        load_model(quantized)
    assert "\n" not in str(caught.value)


# ---- the memory plan --------------------------------------------------------------------------------


def test_the_plan_of_the_published_model_by_hand():
    """Hand counts for the 30-layer published config: 25 sliding + 5 full-attention layers."""
    config = published_config("published", layers=30)
    h, vocab, inter, experts, moe = 2816, 262_144, 2112, 128, 704
    embedding = vocab * h  # tied: encoder, decoder and LM head share it
    sliding_attention = h * 16 * 256 + 2 * h * 8 * 256 + 16 * 256 * h + 2 * 256
    full_attention = h * 16 * 512 + h * 2 * 512 + 16 * 512 * h + 2 * 512  # no v_proj: V is K
    expert_weights = 3 * experts * h * moe
    per_layer = 3 * h * inter + 7 * h + (h * experts + h + experts) + expert_weights
    text = embedding + 25 * (sliding_attention + per_layer) + 5 * (full_attention + per_layer) + h \
        + (h + 3 * h * inter)  # final norm, self-conditioning block
    assert text == 25_250_986_752
    active = text - 30 * expert_weights + 30 * expert_weights * 8 // 128
    assert active == 3_840_375_552
    counts = parameter_counts(config)
    assert (counts.text, counts.active) == (text, active)
    # The published card says 25.2B total and 3.8B active: within 0.2% and 1.1%.
    assert abs(counts.text - 25.2e9) / 25.2e9 < 0.003 and abs(counts.active - 3.8e9) / 3.8e9 < 0.011

    plan = plan_memory(config, torch.bfloat16)
    assert plan.weight_bytes == 2 * text  # 47.03 GiB
    assert kv_bytes_per_token(config, torch.bfloat16) == 25 * 2 * 8 * 256 * 2 + 5 * 2 * 2 * 512 * 2 == 225_280
    context = 768 + 256 + 64  # EngineConfig's prefix and suffix budgets and the prompt layout's own tokens
    row = 25 * 2 * 8 * 256 * 2 * 1024 + 5 * 2 * 2 * 512 * 2 * context  # sliding layers keep their window
    assert plan.kv_batch_bytes == 64 * row == 14_847_836_160
    assert plan.kv_store_bytes == 256 * 2**20
    assert plan.step_bytes == 64 * 256 * vocab * (4 + 4 + 2 + 2)  # 64 canvases of the trained 256 tokens
    assert plan.headroom_bytes == GIB + int(0.05 * 2 * text)
    # 112.46 GiB in all: an H200 (139 GiB) has room for it; an 80 GB card takes fewer canvases a step.
    assert plan.total_bytes == 120_756_693_171
    engine_config = EngineConfig()
    fitted = fit_batch(config, torch.bfloat16, engine_config, "cuda", available=80 * 10**9)
    assert engine_config.max_batch_canvases == 16 and fitted.total_bytes <= 80 * 10**9
    assert plan_memory(config, torch.bfloat16, EngineConfig(short_canvases=True)).step_bytes == 64 * 64 * vocab * 12


def test_the_plan_counts_what_the_model_builds(published_dir, loaded):
    from transformers import DiffusionGemmaForBlockDiffusion

    from engine.model.architecture import count_parameters

    for width, layers in (("ci", 2), ("ci", 7), ("published", 2)):
        config = published_config(width, layers)
        with torch.device("meta"):
            model = DiffusionGemmaForBlockDiffusion(config)
        real = count_parameters(model)
        counts = parameter_counts(config)
        assert (counts.total, counts.text, counts.active) == (real["total"], real["text"], real["active"])
    index = json.loads((published_dir / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_parameters"] == loaded.plan.counts.total


def test_a_plan_that_does_not_fit_is_refused_before_any_weight_is_read(published_dir, monkeypatch):
    from transformers import DiffusionGemmaForBlockDiffusion

    import engine.model.memory_plan

    def never(*args, **kwargs):
        raise AssertionError("weights were read")

    monkeypatch.setattr(DiffusionGemmaForBlockDiffusion, "from_pretrained", never)
    monkeypatch.setattr(engine.model.memory_plan, "available_bytes", lambda device: 512 * 2**20)
    with pytest.raises(MemoryPlanError, match=r"needs about .* GiB on cpu .* 0.50 GiB is free"):
        load_model(published_dir, device="cpu", dtype="float32")
    monkeypatch.setenv("INFILL_SKIP_MEMORY_CHECK", "1")
    require_fits(plan_memory(published_dir, torch.float32), "cpu", available=1)


def test_an_engine_that_will_not_fit_exits_with_the_reason(published_dir, tmp_path, monkeypatch, caplog):
    import engine.model.memory_plan

    monkeypatch.setattr(engine.model.memory_plan, "available_bytes", lambda device: 2**20)
    status = engine_main(["--model", str(published_dir), "--socket", str(tmp_path / "run" / "e.sock"),
                          "--device", "cpu"])
    assert status == 1
    refusals = [r for r in caplog.records if "is free" in r.getMessage()]
    assert refusals and refusals[0].levelname == "ERROR" and refusals[0].exc_info is None


def test_free_memory_of_this_machine_is_read():
    from engine.model.memory_plan import available_bytes

    free = available_bytes("cpu")
    assert free is not None and free > 2**20


# ---- infill engine --check ----------------------------------------------------------------------------


def test_check_reports_the_directory_without_loading_it(published_dir, capsys, monkeypatch):
    from transformers import DiffusionGemmaForBlockDiffusion

    monkeypatch.setattr(DiffusionGemmaForBlockDiffusion, "from_pretrained", None)
    status = engine_main(["--model", str(published_dir), "--check", "--device", "cpu", "--dtype", "bfloat16"])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == f"model: {published_dir}"
    assert lines[1].startswith("kind: published DiffusionGemma checkpoint") and "safetensors files" in lines[1]
    assert lines[2].startswith("format: ")
    assert "dtype: bfloat16" in lines and "device: cpu" in lines and "canvas length: 256" in lines
    assert ("generation config: max_denoising_steps 48, entropy_bound 0.1, temperature 0.8 -> 0.4, "
            "stability_threshold 1, confidence_threshold 0.005, eos [1, 106, 50]") in lines
    assert ("sampling policy: generate (transformers' generate() sampler, from generation_config.json; stops once "
            "what is shown is stable and confident)") in lines
    assert any(line.startswith("memory plan: parameters: ") and "vision (not kept)" in line for line in lines)
    assert any(line.startswith("memory plan: total: ") for line in lines)
    assert lines[-1].startswith("fits: yes")


def test_check_names_the_prompt_format(published_dir, capsys):
    assert engine_main(["--model", str(published_dir), "--check", "--device", "cpu"]) == 0
    assert "format: chat" in capsys.readouterr().out.splitlines()
    assert engine_main(["--model", str(published_dir), "--check", "--device", "cpu", "--prompt-format", "native"]) == 0
    assert "format: native" in capsys.readouterr().out.splitlines()


def test_check_says_when_the_plan_does_not_fit(published_dir, capsys, monkeypatch):
    import engine.model.check

    monkeypatch.setattr(engine.model.check, "available_bytes", lambda device: 2**20)
    assert engine_main(["--model", str(published_dir), "--check", "--device", "cpu"]) == 2
    assert capsys.readouterr().out.splitlines()[-1].startswith("fits: no: the model needs about")


@pytest.mark.parametrize("kind", ["missing", "empty", "wrong"])
def test_check_refuses_a_directory_that_is_no_model_in_one_line(kind, tmp_path, capsys):
    path = tmp_path / "model"
    if kind != "missing":
        path.mkdir()
    if kind == "wrong":
        (path / "config.json").write_text(json.dumps({"model_type": "bert"}))
        (path / "model.safetensors").write_bytes(b"")
        (path / "tokenizer.json").write_text("{}")
    if kind == "wrong":  # a folder with the files of a model, of another kind: the check says so
        assert engine_main(["--model", str(path), "--check"]) == 1
        out = capsys.readouterr().out
        assert len(out.splitlines()) == 1 and out.startswith("infill engine --check: ") and str(path) in out
        return
    with pytest.raises(SystemExit) as exit_:  # not a model folder at all: refused with the arguments
        engine_main(["--model", str(path), "--check"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.splitlines()[-1].startswith("infill engine: error: ") and str(path) in err


# ---- the same canvases as transformers' generate() -------------------------------------------------------


def test_the_first_steps_logits_are_transformers_own(loaded, runner):
    """Step 1 (no self-conditioning) and step 2 (self-conditioned on step 1's tempered logits), bit for bit."""
    from engine.core.kv import PromptKV

    prompt, canvas = _prompt_and_canvas(runner.vocab_size, loaded.model.config.canvas_length)
    with torch.inference_mode():
        theirs = loaded.model(input_ids=torch.tensor([prompt]), decoder_input_ids=canvas[None]).logits
        kv = runner.encode(PromptKV(), prompt)
        ours = runner.denoise(canvas[None], [kv], None)
        assert torch.equal(ours, theirs)
        sc = (theirs / 0.8).to(runner.dtype)
        cache = loaded.model(input_ids=torch.tensor([prompt]), decoder_input_ids=canvas[None]).past_key_values
        theirs_2 = loaded.model(
            decoder_input_ids=canvas[None], past_key_values=cache, self_conditioning_logits=sc
        ).logits
        assert torch.equal(runner.denoise(canvas[None], [kv], sc), theirs_2)
        assert not torch.equal(theirs_2, theirs)


def test_the_temperature_schedule_is_transformers_own():
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        LinearTemperatureScheduleLogitsProcessor,
    )

    steps = 48
    theirs = LinearTemperatureScheduleLogitsProcessor(t_min=0.4, t_max=0.8, max_denoising_steps=steps)
    scores = torch.linspace(-30, 30, 101)[None]
    cfg = SamplerConfig(t_max=0.8, t_min=0.4)
    for step in range(steps):  # generate() counts the steps left: steps, steps - 1, ..., 1
        remaining = torch.tensor(steps - step, dtype=torch.int32)
        ours = temperature(torch.tensor([step]), torch.tensor([steps]), cfg)
        assert torch.equal(scores / ours[:, None], theirs(None, scores, cur_step=remaining))


@pytest.mark.parametrize("bound", [0.1, 25.0])
def test_the_entropy_bound_picks_the_positions_transformers_picks(loaded, runner, bound):
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        EntropyBoundSampler,
        EntropyBoundSamplerConfig,
    )

    from engine.core.kv import PromptKV

    prompt, canvas = _prompt_and_canvas(runner.vocab_size, loaded.model.config.canvas_length, seed=3)
    with torch.inference_mode():
        logits = runner.denoise(canvas[None], [runner.encode(PromptKV(), prompt)], None).float()
    width, vocab = canvas.shape[0], runner.vocab_size
    theirs = EntropyBoundSampler(EntropyBoundSamplerConfig(entropy_bound=bound), width, vocab, 48)
    theirs.accept_canvas(canvas[None], canvas[None], logits / 0.8, 48)
    outcome = denoise_step(
        canvas[None], logits.clone(), decided=torch.zeros(1, width, dtype=torch.bool), step=torch.tensor([0]),
        max_steps=torch.tensor([48]), banned=torch.tensor([], dtype=torch.long), noise_low=0, end_ids=torch.tensor([1]),
        cfg=SamplerConfig(entropy_bound=bound, confidence_accept=2.0, t_max=0.8, t_min=0.4),
    )
    accepted = outcome.decided[0]
    assert torch.equal(accepted, theirs.accepted_token_mask[0])
    # Random weights give near-uniform rows (about 6 nats each): 0.1 takes one position, 25 several.
    assert int(accepted.sum()) == 1 if bound < 1 else int(accepted.sum()) > 1


def _whole_canvas(loaded, runner, steps: int, seed: int = 0):
    prompt, canvas = _prompt_and_canvas(runner.vocab_size, loaded.model.config.canvas_length, seed)
    saved = loaded.model.generation_config.max_denoising_steps
    loaded.model.generation_config.max_denoising_steps = steps
    try:
        theirs = equivalence.transformers_generate(loaded.model, prompt, canvas, seed)
        ours = equivalence.generate_on_runner(runner, prompt, canvas, seed)
    finally:
        loaded.model.generation_config.max_denoising_steps = saved
    return prompt, canvas, theirs, ours


def test_generate_policy_on_the_engine_runner_gives_generates_canvas(loaded, runner):
    """generate()'s sampler, stopping and RNG order over the engine's encoder cache, denoising pass and
    temperature schedule: the same canvas as generate(), token for token (published settings, 5 steps)."""
    _, canvas, theirs, ours = _whole_canvas(loaded, runner, steps=5)
    assert ours.steps == 5
    assert torch.equal(ours.canvas, theirs)
    assert not torch.equal(theirs, canvas)


@pytest.mark.slow
def test_generate_policy_on_the_engine_runner_over_the_published_48_steps(loaded, runner):
    _, _, theirs, ours = _whole_canvas(loaded, runner, steps=48, seed=1)
    assert ours.steps == 48 and torch.equal(ours.canvas, theirs)


@pytest.fixture(scope="module")
def core(published_dir):
    from engine.core.config import EngineConfig
    from engine.core.loading import load_core

    # generate()'s stop rule, so whole canvases compare with transformers'.
    return load_core(published_dir, device="cpu", dtype="float32", config=EngineConfig(stop_rule="canvas"))


def _engine_and_generate(core, request: InfillRequest):
    """The request through the engine core, and generate() on the prompt the core built, seeded as the
    core seeds the request's first canvas, over the same steps."""
    answer = equivalence.engine_canvases(core, [request])[request.request_id]
    steps = request.max_steps or None  # 0: the generation config's, in both
    theirs = equivalence.transformers_generate(core.runner.model, answer.prompt, None,
                                               request_seed(request), steps)
    return answer, equivalence.pad_after_eos(answer.canvases[0], [1, 106, 50], 0), theirs


@pytest.mark.parametrize("seed", [0, 5])
def test_the_engine_policy_gives_generates_canvas(core, seed):
    """A request through EngineCore (the generate policy, as the published generation config selects it)
    answers generate()'s canvas: same seed, same steps, token for token over the whole 256-token canvas."""
    request = InfillRequest(str(40 + seed), "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n", language="python",
                            max_steps=5, seed=seed)  # seed 0: the request's text seeds it
    answer, ours, theirs = _engine_and_generate(core, request)
    assert torch.equal(ours, theirs)
    assert answer.result.steps == answer.result.forward_passes == 5
    assert answer.result.finish_reason == FinishReason.STEP_CAP  # random weights never grow confident
    # What the engine shows is generate()'s fill: up to its first end, special or control-character token.
    never = {*core.end_ids.tolist(), *core.banned.tolist()}
    length = next(i for i, token in enumerate(theirs.tolist()) if token in never)
    if length:  # (at the first position such a token gives way to the next best: a fill is never empty)
        text, tokens = core.format.canvas_text(theirs[:length].tolist())
        assert answer.result.candidates[0].text == text and answer.result.candidates[0].tokens == tokens
    assert answer.result.candidates[0].text


@pytest.mark.slow
def test_the_engine_policy_over_the_generation_configs_48_steps(core):
    request = InfillRequest("50", "x = ", "\n", language="python", seed=3)  # max_steps 0: the config's 48
    answer, ours, theirs = _engine_and_generate(core, request)
    assert answer.result.steps == 48 and torch.equal(ours, theirs)


# ---- the published width ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_published_width_builds_and_checks(tmp_path, capsys):
    """2 layers at the published width: ~80 s and ~10 GB of memory on the 2-core development machine,
    4.9 GiB on disk."""
    if os.environ.get("INFILL_SKIP_PUBLISHED_WIDTH") == "1":
        pytest.skip("INFILL_SKIP_PUBLISHED_WIDTH=1")
    started = time.perf_counter()
    path = build_published_checkpoint(tmp_path / PUBLISHED_NAME, width="published")
    built = time.perf_counter() - started
    index = json.loads((path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_parameters"] == parameter_counts(published_config("published", 2)).total
    assert engine_main(["--model", str(path), "--check", "--device", "cpu", "--dtype", "bfloat16"]) == 0
    out = capsys.readouterr().out
    assert "memory plan: parameters: 2.57B total, 2.40B text" in out
    assert built < 600
