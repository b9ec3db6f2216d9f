"""Exporting the encoder and the denoising step of a model directory as ONNX graphs (fp32), once, to a cache.

ONNX Runtime runs them (``engine.model.onnx_runner``). The step graph takes the canvas ids, the canvas
positions and every layer's cached keys and values (as the encoder left them, sliding layers already
trimmed to their window) and returns the logits. The
encoder graph takes one chunk of prompt ids with their positions and the cached keys and values before
them, and returns the chunk's new keys and values, so KV reuse stays as it is (``PromptKV``). Routed
experts are exported with the data-independent ``batched_mm`` implementation, attention as eager with
explicit additive masks (causal, sliding window) built from the input shapes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from transformers.cache_utils import DynamicCache

from engine.core.kv import PromptKV, to_hf_cache
from engine.model.checkpoint import load_model

ONNX_FILE = "denoise_step.onnx"
ENCODER_FILE = "encode_chunk.onnx"


def onnx_path_for(model_dir: str | Path) -> Path:
    """Where the export of ``model_dir`` lives: a per-user cache keyed by the model's files."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors.index.json", "model.safetensors"):
        path = model_dir / name
        if path.is_file():
            digest.update(path.read_bytes() if path.stat().st_size < 1 << 20 else str(path.stat()).encode())
    digest.update(torch.__version__.encode())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infill" / "onnx"
    return root / digest.hexdigest()[:16] / ONNX_FILE


def ensure_onnx(model_dir: str | Path, name: str = ONNX_FILE) -> Path:
    """Return the ONNX export ``name`` (the denoising step, or the encoder) of ``model_dir``, exporting it
    first if needed (seconds)."""
    path = onnx_path_for(model_dir).with_name(name)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        (export_encoder if name == ENCODER_FILE else export_denoise_step)(model_dir, tmp)
        os.replace(tmp, path)
    return path


def _cache_from_inputs(kv: tuple[torch.Tensor, ...], text_config) -> DynamicCache:
    """The transformers cache for graph inputs (k0, v0, k1, v1, ...), sliding layers already trimmed."""
    cache = to_hf_cache(PromptKV(ids=[0], keys=list(kv[0::2]), values=list(kv[1::2])), text_config)
    for layer, keys in zip(cache.layers, kv[0::2], strict=True):
        if hasattr(layer, "cumulative_length"):
            layer.cumulative_length = keys.shape[2]
    return cache


def layer_windows(text_config) -> list[int]:
    """Per layer: the sliding window, or 0 for a full-attention layer."""
    return [text_config.sliding_window if t == "sliding_attention" else 0 for t in text_config.layer_types]


class _StepGraph(torch.nn.Module):
    """(canvas, positions, sc_logits, sc_on, k0, v0, k1, v1, ...) -> logits, for batch 1, no padding."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.text_config = model.config.text_config

    def forward(self, canvas, positions, sc_logits, sc_on, *kv):
        cache = _cache_from_inputs(kv, self.text_config)
        return self.model(
            decoder_input_ids=canvas,
            past_key_values=cache,
            decoder_position_ids=positions,
            self_conditioning_logits=sc_logits,
            self_conditioning_mask=sc_on,
        ).logits


class _EncodeGraph(torch.nn.Module):
    """(ids, positions, k0, v0, ...) -> (new k0, new v0, ...): one chunk of the causal encoder, batch 1."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.text_config = model.config.text_config
        self.window = self.text_config.sliding_window

    def forward(self, ids, positions, *kv):
        cache = _cache_from_inputs(kv, self.text_config)
        count = ids.shape[1]
        query = torch.arange(count)[:, None]
        masks = {}  # additive, as eager attention adds them; from shapes, so they follow the inputs' sizes
        for kind in set(self.text_config.layer_types):
            past = kv[2 * self.text_config.layer_types.index(kind)].shape[2]
            key = torch.arange(past + count)[None, :]
            allowed = key <= query + past
            if kind == "sliding_attention":
                allowed = allowed & (query + past - key < self.window)
            masks[kind] = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[None, None]
        self.model.model.encoder(input_ids=ids, position_ids=positions, past_key_values=cache, attention_mask=masks)
        out = []
        for layer in cache.layers:
            out += [layer.keys[:, :, -count:], layer.values[:, :, -count:]]
        return tuple(out)


def _export_ready(model_dir: str | Path):
    model = load_model(model_dir, device="cpu", dtype=torch.float32).model
    model.set_experts_implementation("batched_mm")
    model.set_attn_implementation("eager")  # the ONNX exporter has no grouped-query SDPA
    return model


def _random_kv(text, length: int) -> tuple[list[torch.Tensor], list[str]]:
    kv = []
    for index in range(len(text.layer_types)):
        layer = text.per_layer_config[index]
        heads, dim = layer.num_key_value_heads, layer.head_dim
        kv += [torch.randn(1, heads, length, dim), torch.randn(1, heads, length, dim)]
    return kv, [f"{kind}{i}" for i in range(len(text.layer_types)) for kind in ("key", "value")]


def export_encoder(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export one encoder chunk of ``model_dir`` to ONNX (fp32) and return the file's path."""
    model = _export_ready(model_dir)
    text = model.config.text_config
    past, count = 30, 7
    kv, names = _random_kv(text, past)
    ids = torch.randint(100, text.vocab_size, (1, count))
    positions = torch.arange(past, past + count)[None]
    outputs = [f"new_{name}" for name in names]
    dynamic = {"ids": {1: "count"}, "positions": {1: "count"}}
    dynamic.update({name: {2: "cached"} for name in names})
    dynamic.update({name: {2: "count"} for name in outputs})
    out = Path(out) if out else Path(model_dir) / ENCODER_FILE
    with torch.inference_mode():
        torch.onnx.export(_EncodeGraph(model).eval(), (ids, positions, *kv), str(out),
                          input_names=["ids", "positions", *names], output_names=outputs,
                          dynamic_axes=dynamic, opset_version=18, dynamo=False)
    return out


def export_denoise_step(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export the decoder step of ``model_dir`` to ONNX (fp32) and return the file's path."""
    model = _export_ready(model_dir)
    text = model.config.text_config
    graph = _StepGraph(model).eval()
    prompt_len, width = 40, 16
    kv, names = _random_kv(text, prompt_len)
    canvas = torch.randint(100, text.vocab_size, (1, width))
    positions = torch.arange(prompt_len, prompt_len + width)[None]
    sc_logits = torch.randn(1, width, text.vocab_size)
    sc_on = torch.ones(1, dtype=torch.bool)
    dynamic = {"canvas": {1: "width"}, "positions": {1: "width"}, "logits": {1: "width"}, "sc_logits": {1: "width"}}
    dynamic.update({name: {2: "cached"} for name in names})
    out = Path(out) if out else Path(model_dir) / ONNX_FILE
    with torch.inference_mode():
        torch.onnx.export(graph, (canvas, positions, sc_logits, sc_on, *kv), str(out),
                          input_names=["canvas", "positions", "sc_logits", "sc_on", *names],
                          output_names=["logits"], dynamic_axes=dynamic, opset_version=18, dynamo=False)
    return out
