"""Model shapes in the DiffusionGemma architecture: from a small typed description to a transformers config.

transformers' ``DiffusionGemmaForBlockDiffusion`` is the one model class the engine serves. Its text
layers are MoE (a dense MLP plus routed experts), its full-attention layers take their own head size, and
a missing vision config builds a default 167M-parameter vision tower. ``ModelShape`` fills all of that
in for text-only models of any size, with a vision part of a few hundred parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# A vision tower is part of the class; ours is the smallest that builds (its weights are never used).
_MINIMAL_VISION = {
    "model_type": "gemma4_vision",
    "hidden_size": 8,
    "intermediate_size": 8,
    "num_hidden_layers": 1,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "head_dim": 8,
    "patch_size": 2,
    "position_embedding_size": 4,
    "pooling_kernel_size": 1,
}


@dataclass(slots=True, kw_only=True)
class ModelShape:
    """The sizes that define a text-only DiffusionGemma model."""

    vocab_size: int = 16384
    hidden_size: int = 384
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    head_dim: int = 64
    global_head_dim: int = 64
    num_global_key_value_heads: int = 2
    num_experts: int = 4
    top_k_experts: int = 2
    moe_intermediate_size: int = 384
    sliding_window: int = 512
    sliding_window_pattern: int = 6
    max_position_embeddings: int = 8192
    canvas_length: int = 64
    pad_token_id: int = 0
    eos_token_id: int = 1
    bos_token_id: int = 2
    boi_token_id: int = 3
    eoi_token_id: int = 4
    image_token_id: int = 5
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_experts"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelShape.{name} must be positive, got {getattr(self, name)}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("ModelShape.num_attention_heads must be a multiple of num_key_value_heads")
        if not 1 <= self.top_k_experts <= self.num_experts:
            raise ValueError("ModelShape.top_k_experts must be between 1 and num_experts")

    def layer_types(self) -> list[str]:
        """Sliding-window layers with a full-attention layer every ``sliding_window_pattern``; the last is full."""
        types = [
            "full_attention" if (i + 1) % self.sliding_window_pattern == 0 else "sliding_attention"
            for i in range(self.num_hidden_layers)
        ]
        types[-1] = "full_attention"
        return types

    def to_config(self, attn_implementation: str = "sdpa"):
        """Return the ``DiffusionGemmaConfig`` for this shape."""
        from transformers import DiffusionGemmaConfig

        text = {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "global_head_dim": self.global_head_dim,
            "num_global_key_value_heads": self.num_global_key_value_heads,
            "num_experts": self.num_experts,
            "top_k_experts": self.top_k_experts,
            "moe_intermediate_size": self.moe_intermediate_size,
            "sliding_window": self.sliding_window,
            "layer_types": self.layer_types(),
            "max_position_embeddings": self.max_position_embeddings,
            "pad_token_id": self.pad_token_id,
            "eos_token_id": self.eos_token_id,
            "bos_token_id": self.bos_token_id,
            **self.extra,
        }
        config = DiffusionGemmaConfig(
            text_config=text,
            vision_config=dict(_MINIMAL_VISION),
            canvas_length=self.canvas_length,
            boi_token_id=self.boi_token_id,
            eoi_token_id=self.eoi_token_id,
            image_token_id=self.image_token_id,
        )
        config._attn_implementation = attn_implementation
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(model) -> dict[str, int]:
    """Total, vision-free and per-token active parameter counts of a DiffusionGemma model.

    Encoder and decoder share their text weights, so shared tensors are counted once. Active parameters
    count ``top_k / num_experts`` of the expert weights.
    """
    seen: set[int] = set()
    total = experts = vision = 0
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if "vision" in name:
            vision += param.numel()
        elif ".experts." in name:
            experts += param.numel()
    text = model.config.text_config
    active = total - vision - experts + experts * text.top_k_experts // text.num_experts
    return {"total": total, "text": total - vision, "active": active, "experts": experts}


# The shapes the project uses, by name.
SHAPES: dict[str, ModelShape] = {
    # Test-sized: builds in milliseconds.
    "tiny": ModelShape(
        vocab_size=512,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        global_head_dim=16,
        num_global_key_value_heads=1,
        num_experts=2,
        top_k_experts=1,
        moe_intermediate_size=32,
        sliding_window=64,
        canvas_length=16,
    ),
    # The embedded CPU model: ~25M total, ~20M active; a 64-token step over a 1024-token cache ~30 ms on 2 cores.
    "small": ModelShape(),
}
