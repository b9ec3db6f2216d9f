"""``python -m engine.gpu_bench``: the cost of a denoising step at full DiffusionGemma size, on a GPU.

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

from engine.architecture import SHAPES, ModelShape

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
    from engine.kv import PromptKV
    from engine.runner import LoadedModel, TorchRunner

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
    from engine.architecture import count_parameters

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.gpu_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="diffusiongemma-26b-a4b", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompt", type=int, default=1024)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--canvases", default="32,256")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--ar-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    shape = SHAPES[args.shape]
    started = time.perf_counter()
    model = build_random(shape, device, dtype)
    from engine.architecture import count_parameters

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
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
