"""The memory plan of a model directory: what serving it takes, computed from ``config.json`` alone.

Read before any weight is: parameter counts (total, text, active per token, vision), the bytes of the
text weights at the serving dtype (the vision tower is not kept), the KV cache the engine's budgets allow
(``EngineConfig``: the per-document store, plus a batch of full contexts in one denoising step), a step's
logits, and headroom. ``require_fits`` compares the plan with the device's free memory and refuses with
a message, not an out-of-memory crash, when it will not fit.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.core.config import EngineConfig

log = logging.getLogger(__name__)

GIB = 2**30
HEADROOM_FIXED = 1 * GIB  # CUDA context, allocator slack, the runtime itself
HEADROOM_FRACTION = 0.05  # of the weights: fragmentation, temporaries of one layer
PROMPT_OVERHEAD_TOKENS = 64  # the prompt layout's own tokens (turns, tags) beyond prefix and suffix
SKIP_ENV = "INFILL_SKIP_MEMORY_CHECK"


class MemoryPlanError(RuntimeError):
    """The model will not fit in the device's free memory."""


@dataclass(frozen=True, slots=True)
class ParameterCounts:
    total: int  # every parameter of the checkpoint, vision included, shared tensors once
    text: int  # the text stack (what serving keeps)
    active: int  # text parameters one token uses (top_k of the experts)
    experts: int
    vision: int
    embedding: int


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    counts: ParameterCounts
    dtype: str
    weight_bytes: int  # the text weights at the serving dtype (or quantized)
    kv_bytes_per_token: int  # every layer's keys and values for one prompt token
    kv_store_bytes: int  # EngineConfig.kv_budget_bytes: the per-document caches kept between requests
    kv_batch_bytes: int  # one step's batched caches: max_batch_canvases rows of a full context
    step_bytes: int  # one step's logits (fp32 and head dtype) and self-conditioning input, full batch
    headroom_bytes: int
    quantized: str = ""  # the quantization method, if the checkpoint is quantized

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_store_bytes + self.kv_batch_bytes + self.step_bytes + self.headroom_bytes

    def lines(self) -> list[str]:
        """The plan as lines for a log or ``--check``."""
        c = self.counts
        weights = f"{_gib(self.weight_bytes)} ({self.dtype}{', ' + self.quantized if self.quantized else ''})"
        return [
            f"parameters: {count_text(c.total)} total, {count_text(c.text)} text, {count_text(c.active)} active "
            f"per token, {count_text(c.vision)} vision (not kept)",
            f"weights: {weights}",
            f"kv cache: {_gib(self.kv_store_bytes)} document store + {_gib(self.kv_batch_bytes)} for a "
            f"step's batch ({self.kv_bytes_per_token / 1024:.1f} KiB per token)",
            f"step: {_gib(self.step_bytes)} (logits and self-conditioning of a full batch)",
            f"headroom: {_gib(self.headroom_bytes)}",
            f"total: {_gib(self.total_bytes)}",
        ]


def _gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def count_text(n: int) -> str:
    """A parameter count for people: 25.25B, 169.5M, 219.4K."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.2f}{unit}" if unit == "B" else f"{n / scale:.1f}{unit}"
    return str(n)


def read_config(model_dir: str | Path):
    """The ``DiffusionGemmaConfig`` of a model directory (config.json only; no weights, no code run)."""
    from transformers import DiffusionGemmaConfig

    return DiffusionGemmaConfig.from_pretrained(Path(model_dir), local_files_only=True, trust_remote_code=False)


def parameter_counts(config) -> ParameterCounts:
    """Parameter counts of a ``DiffusionGemmaConfig``'s model, by formula (the vision tower is built on the
    meta device, which allocates nothing). Encoder and decoder share their text weights; the LM head is
    the embedding."""
    text = config.text_config
    h, inter, experts, moe = text.hidden_size, text.intermediate_size, text.num_experts, text.moe_intermediate_size
    embedding = text.vocab_size * h
    layers = 0
    for index, kind in enumerate(text.layer_types):
        shape = text.per_layer_config[index]
        q = text.num_attention_heads * shape.head_dim
        kv = shape.num_key_value_heads * shape.head_dim
        has_v = kind == "sliding_attention"  # full-attention layers use their keys as values
        attention = h * q + h * kv * (2 if has_v else 1) + q * h + 2 * shape.head_dim
        layers += attention + 3 * h * inter + 7 * h + (h * experts + h + experts) + 3 * experts * h * moe
    self_conditioning = h + 3 * h * inter
    text_total = embedding + layers + h + self_conditioning
    expert_total = 3 * experts * h * moe * len(text.layer_types)
    active = text_total - expert_total + expert_total * text.top_k_experts // experts
    vision = _vision_parameters(config)
    return ParameterCounts(total=text_total + vision, text=text_total, active=active, experts=expert_total,
                           vision=vision, embedding=embedding)


def _vision_parameters(config) -> int:
    if config.vision_config is None:
        return 0
    from transformers import AutoModel

    with torch.device("meta"):
        tower = AutoModel.from_config(config.vision_config)
    vision = config.vision_config
    projection = getattr(vision, "output_proj_dims", None) or vision.hidden_size
    return sum(p.numel() for p in tower.parameters()) + projection * config.text_config.hidden_size


def kv_bytes_per_token(config, dtype: torch.dtype) -> int:
    """Bytes of every layer's keys and values for one token (values are stored even where they are keys)."""
    text = config.text_config
    size = torch.empty((), dtype=dtype).element_size()
    return sum(2 * text.per_layer_config[i].num_key_value_heads * text.per_layer_config[i].head_dim * size
               for i in range(len(text.layer_types)))


def quantization(config) -> str:
    """The quantization method a checkpoint declares (``quantization_config.quant_method``), or ''."""
    quant = getattr(config, "quantization_config", None)
    if not quant:
        return ""
    method = quant.get("quant_method", "") if isinstance(quant, dict) else getattr(quant, "quant_method", "")
    return str(getattr(method, "value", method) or "unknown")


def plan_memory(config, dtype: torch.dtype, engine: EngineConfig | None = None) -> MemoryPlan:
    """The plan for serving ``config`` (a ``DiffusionGemmaConfig`` or a model directory) at ``dtype``."""
    if isinstance(config, (str, Path)):
        config = read_config(config)
    engine = engine or EngineConfig()
    text = config.text_config
    counts = parameter_counts(config)
    size = torch.empty((), dtype=dtype).element_size()
    quant = quantization(config)
    if quant:  # linear and expert weights at one byte (FP8); embedding and norms at the dtype
        weight_bytes = counts.embedding * size + (counts.text - counts.embedding)
    else:
        weight_bytes = counts.text * size
    per_token = kv_bytes_per_token(config, dtype)
    context = engine.max_prefix_tokens + engine.max_suffix_tokens + PROMPT_OVERHEAD_TOKENS
    # A step's batch holds, per canvas row, the context's cache (sliding layers trimmed to their window).
    row = 0
    for index, kind in enumerate(text.layer_types):
        shape = text.per_layer_config[index]
        tokens = min(context, text.sliding_window) if kind == "sliding_attention" else context
        row += 2 * shape.num_key_value_heads * shape.head_dim * size * tokens
    # A full batch of the widest configured canvas (a request may ask for wider, up to max_canvas); a
    # checkpoint trained on one canvas length denoises that length (unless short canvases are allowed).
    trained = int(getattr(config, "canvas_length", 0) or 0) if not engine.short_canvases else 0
    widest = max((*engine.single_line_canvases, *engine.multi_line_canvases, min(trained, engine.max_canvas)))
    positions = engine.max_batch_canvases * widest
    step = positions * text.vocab_size * (4 + 4 + size + size)  # fp32 logits, their soft-cap, head out, sc in
    return MemoryPlan(
        counts=counts,
        dtype=str(dtype).removeprefix("torch."),
        weight_bytes=weight_bytes,
        kv_bytes_per_token=per_token,
        kv_store_bytes=engine.kv_budget_bytes,
        kv_batch_bytes=engine.max_batch_canvases * row,
        step_bytes=step,
        headroom_bytes=HEADROOM_FIXED + int(HEADROOM_FRACTION * weight_bytes),
        quantized=quant,
    )


def available_bytes(device: torch.device | str) -> int | None:
    """Free memory on ``device``: ``torch.cuda.mem_get_info`` on CUDA, MemAvailable on a CPU; None if unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as info:
                for line in info:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def fit_batch(config, dtype: torch.dtype, engine: EngineConfig, device: torch.device | str,
              available: int | None = None) -> MemoryPlan:
    """The plan for ``engine``'s budgets, with ``engine.max_batch_canvases`` halved (in place) until it fits
    the device's free memory or reaches 1; :func:`require_fits` then judges what is left."""
    free = available_bytes(device) if available is None else available
    plan = plan_memory(config, dtype, engine)
    asked = engine.max_batch_canvases
    while free is not None and plan.total_bytes > free and engine.max_batch_canvases > 1:
        engine.max_batch_canvases = max(1, engine.max_batch_canvases // 2)
        plan = plan_memory(config, dtype, engine)
    if engine.max_batch_canvases != asked:
        log.info("memory plan: at most %d canvases a step (of %d asked) to fit %s free on %s",
                 engine.max_batch_canvases, asked, _gib(free or 0), device)
    return plan


def require_fits(plan: MemoryPlan, device: torch.device | str, available: int | None = None) -> None:
    """Raise MemoryPlanError when ``plan`` needs more than ``device`` has free (``$INFILL_SKIP_MEMORY_CHECK=1``
    skips the check)."""
    if os.environ.get(SKIP_ENV) == "1":
        return
    free = available_bytes(device) if available is None else available
    if free is None or plan.total_bytes <= free:
        return
    raise MemoryPlanError(
        f"the model needs about {_gib(plan.total_bytes)} on {device} (weights {_gib(plan.weight_bytes)}, "
        f"kv cache {_gib(plan.kv_store_bytes + plan.kv_batch_bytes)}, step {_gib(plan.step_bytes)}, headroom "
        f"{_gib(plan.headroom_bytes)}) but {_gib(free)} is free: lower max_batch_canvases / max_canvas / "
        f"kv_budget_bytes, use a quantized copy, or a larger device ({SKIP_ENV}=1 skips this check)"
    )
