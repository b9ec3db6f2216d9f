"""``python -m infill_tools.gpu_bench``: the cost of a denoising step at full DiffusionGemma size, on a GPU.

Random weights are enough (at a fixed step count they do not change the cost of a step). The model is
built from a shape directly on the device in bf16, then measured:

- time per denoising step vs the memory-bandwidth floor (bytes of active weights and KV cache read per
  step / the card's bandwidth, measured here with a device-to-device copy);
- tokens per second at batch 1, 8 and 32 for 256-token and 32-token canvases (one token per canvas
  position per ``steps`` steps);
- the same canvas filled autoregressively by the encoder (as an AR model of the same shape would).

It runs on a CPU too with a small shape (``--shape tiny``), which is how the test suite checks it.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from engine.model.architecture import SHAPES, ModelShape

# DiffusionGemma-26B-A4B as its published numbers describe it: 25.8B parameters, ~3.8B active per token
# (the Gemma 4 26B-A4B text stack: 30 layers, 128 experts with 8 active). Sizes below are chosen to match
# those totals; replace them with the checkpoint's config.json where one is at hand.
SHAPES["diffusiongemma-26b-a4b"] = ModelShape(
    vocab_size=262_144,
    hidden_size=2816,
    intermediate_size=2112,
    num_hidden_layers=30,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=256,
    global_head_dim=512,
    num_global_key_value_heads=2,
    num_experts=128,
    top_k_experts=8,
    moe_intermediate_size=704,
    sliding_window=1024,
    canvas_length=256,
)


def build_random(shape: ModelShape, device: torch.device, dtype: torch.dtype):
    """Build the model on ``device`` in ``dtype`` with small random weights, without a CPU copy."""
    from transformers import DiffusionGemmaForBlockDiffusion

    config = shape.to_config("sdpa")
    with torch.device("meta"):
        model = DiffusionGemmaForBlockDiffusion(config)
    model = model.to_empty(device=device).to(dtype)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02)
    model.tie_weights()
    # Buffers (rotary frequencies, scales) must hold real values: rebuild them on the device.
    fresh = DiffusionGemmaForBlockDiffusion._from_config(config) if device.type == "cpu" else None
    if fresh is not None:
        for name, buffer in fresh.named_buffers():
            model.get_buffer(name).copy_(buffer)
    else:
        model.model.encoder.language_model.rotary_emb.__init__(config.text_config, device=device)
        model.model.decoder.rotary_emb.__init__(config.text_config, device=device)
        for module in model.modules():
            if hasattr(module, "embed_scale") and hasattr(module, "scalar_embed_scale"):
                module.embed_scale.fill_(module.scalar_embed_scale)
            if hasattr(module, "layer_scalar"):
                module.layer_scalar.fill_(1.0)
    return model.eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bandwidth_gbs(device: torch.device) -> float:
    """Device-to-device copy bandwidth (bytes read + written per second), in GB/s."""
    if device.type != "cuda":
        return 0.0
    x = torch.empty(1 << 30, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    _sync(device)
    started = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    _sync(device)
    return 2 * 10 * x.numel() / (time.perf_counter() - started) / 1e9


def step_time(model, batch: int, canvas: int, prompt: int, steps: int, device) -> float:
    from engine.core.kv import PromptKV
    from engine.model.checkpoint import LoadedModel
    from engine.model.torch_runner import TorchRunner

    runner = TorchRunner(LoadedModel(model, {}, None, next(model.parameters()).dtype, device))
    ids = torch.randint(100, model.config.text_config.vocab_size, (prompt,)).tolist()
    kv = runner.encode(PromptKV(), ids)
    canvases = torch.randint(100, model.config.text_config.vocab_size, (batch, canvas), device=device)
    runner.denoise(canvases, [kv] * batch, None)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        runner.denoise(canvases, [kv] * batch, None)
    _sync(device)
    return (time.perf_counter() - started) / steps


def active_weight_bytes(model) -> int:
    from engine.model.architecture import count_parameters

    counts = count_parameters(model)
    return counts["active"] * next(model.parameters()).element_size()


def ar_tokens_per_second(model, prompt: int, tokens: int, device) -> float:
    from transformers.cache_utils import DynamicCache

    vocab = model.config.text_config.vocab_size
    cache = DynamicCache(config=model.config.text_config)
    ids = torch.randint(100, vocab, (1, prompt), device=device)
    with torch.inference_mode():
        model.model.encoder(input_ids=ids, past_key_values=cache)
        step = ids[:, -1:]
        _sync(device)
        started = time.perf_counter()
        for position in range(prompt, prompt + tokens):
            hidden = model.model.encoder(input_ids=step, past_key_values=cache,
                                         position_ids=torch.tensor([[position]], device=device)).last_hidden_state
            step = model.lm_head(hidden[:, -1:]).argmax(-1)
        _sync(device)
    return tokens / (time.perf_counter() - started)


class _ByteTokens:
    """A tokenizer stand-in for random weights: one token per byte of text, mapped into the model's vocabulary.

    The prompt layout's own tokens (the FIM markers) come from the embedded model's tokenizer.
    """

    def __init__(self, real, vocab_size: int) -> None:
        self.real = real
        self.special = real.special
        self.low = max(self.special.never_generated) + 1
        self.span = vocab_size - self.low

    def encode(self, text: str) -> list[int]:
        return [self.low + byte % self.span for byte in text.encode()]

    def token_id(self, token: str) -> int | None:
        return self.real.token_id(token)

    def special_ids(self) -> set[int]:
        return self.real.special_ids()

    def encode_template(self, text: str) -> list[int]:
        return self.real.encode_template(text)

    def decode(self, ids: list[int]) -> str:
        return "x" * len(ids)

    def chars_per_token(self, samples: list[str]) -> float:
        return 1.0

    def control_ids(self) -> list[int]:
        return []


def engine_vs_generate(model, canvas: int, prompt: int, steps: int, device, repeats: int = 3) -> dict:
    """One cold fill at batch 1: our engine vs ``model.generate()``, same prompt, canvas and step cap.

    Random weights never grow confident, so both run the full step cap: the ratio is the per-fill cost of
    the two loops (encode + ``steps`` denoising steps), not a difference in stopping.
    """
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import EntropyBoundSamplerConfig

    from engine.core.config import EngineConfig
    from engine.core.engine_core import EngineCore
    from engine.model.checkpoint import LoadedModel, default_model_dir
    from engine.model.torch_runner import TorchRunner
    from engine.prompt.tokenizer import InfillTokenizer
    from engine.protocol import InfillRequest, InfillResult
    from infill_tools.bench import CONTEXT_SOURCE

    tokenizer = _ByteTokens(InfillTokenizer.from_file(default_model_dir()), model.config.text_config.vocab_size)
    config = EngineConfig(max_prefix_tokens=prompt, max_suffix_tokens=0)
    runner = TorchRunner(LoadedModel(model, {}, None, next(model.parameters()).dtype, device))
    core = EngineCore(runner, tokenizer, config)
    text = (CONTEXT_SOURCE.read_text() * 4)[:prompt]  # ``prompt`` tokens
    request = InfillRequest("0", text, "", language="python", max_steps=steps, canvas_lengths=(canvas,))
    ids = torch.tensor([core._prompt(request)], device=device)
    model.config.canvas_length = canvas
    sampler = config.sampler
    kwargs = dict(max_new_tokens=canvas, max_denoising_steps=steps,
                  sampler_config=EntropyBoundSamplerConfig(entropy_bound=float(sampler.entropy_bound)),
                  t_min=sampler.t_min, t_max=sampler.t_max, eos_token_id=tokenizer.special.eom,
                  pad_token_id=tokenizer.special.pad)

    def engine_fill(number: int) -> tuple[float, int]:
        _sync(device)
        started = time.perf_counter()
        core.add(InfillRequest(str(number), text, "", language="python", max_steps=steps, canvas_lengths=(canvas,)))
        passes = 0
        while core.has_work():
            passes = max([passes] + [m.forward_passes for m in core.step() if isinstance(m, InfillResult)])
        _sync(device)
        return time.perf_counter() - started, passes

    def generate_fill() -> float:
        _sync(device)
        started = time.perf_counter()
        with torch.inference_mode():
            model.generate(input_ids=ids, **kwargs)
        _sync(device)
        return time.perf_counter() - started

    engine_fill(1_000), generate_fill()  # warm-up
    engine_s, generate_s, passes = [], [], 0
    for i in range(repeats):
        seconds, passes = engine_fill(1_001 + i)
        engine_s.append(seconds)
        generate_s.append(generate_fill())
    e, g = sorted(engine_s)[len(engine_s) // 2], sorted(generate_s)[len(generate_s) // 2]
    return {"canvas": canvas, "prompt_tokens": ids.shape[1], "step_cap": steps, "engine_passes": passes,
            "engine_ms": round(e * 1000, 1), "generate_ms": round(g * 1000, 1), "speedup": round(g / e, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.gpu_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="diffusiongemma-26b-a4b", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompt", type=int, default=1024)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--canvases", default="32,256")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--ar-tokens", type=int, default=64)
    parser.add_argument("--generate-steps", type=int, default=16,
                        help="step cap of the engine-vs-generate() fill on the smallest canvas (0: skip)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    shape = SHAPES[args.shape]
    started = time.perf_counter()
    model = build_random(shape, device, dtype)
    from engine.model.architecture import count_parameters

    report = {"shape": args.shape, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "params": count_parameters(model), "build_s": round(time.perf_counter() - started, 1)}
    bandwidth = bandwidth_gbs(device)
    report["copy_bandwidth_gbs"] = round(bandwidth, 1)
    weights = active_weight_bytes(model)
    rows = []
    with torch.inference_mode():
        for canvas in (int(x) for x in args.canvases.split(",")):
            for batch in (int(x) for x in args.batches.split(",")):
                seconds = step_time(model, batch, canvas, args.prompt, args.steps, device)
                row = {"batch": batch, "canvas": canvas, "step_ms": round(seconds * 1000, 2),
                       "canvas_tokens_per_s": round(batch * canvas / seconds)}
                if bandwidth:
                    # Lower bound: every active weight read once per step (more experts are touched at
                    # larger batches, so this floor is optimistic beyond batch 1).
                    floor = weights / (bandwidth * 1e9 / 2)
                    row["bandwidth_floor_ms"] = round(floor * 1000, 2)
                    row["vs_floor"] = round(seconds / floor, 2)
                rows.append(row)
                print(json.dumps(row), flush=True)
    report["steps"] = rows
    report["ar_tokens_per_s_batch1"] = round(ar_tokens_per_second(model, args.prompt, args.ar_tokens, device), 1)
    if args.generate_steps:
        canvas = min(int(x) for x in args.canvases.split(","))
        report["engine_vs_generate"] = engine_vs_generate(model, canvas, args.prompt, args.generate_steps, device)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
