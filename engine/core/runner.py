"""What the engine core needs from a model runner: encode prompts into caches, denoise canvases into logits.

Two implementations: ``engine.model.torch_runner.TorchRunner`` (transformers' model class) and
``engine.model.onnx_runner.OnnxRunner`` (ONNX Runtime for single-canvas work, torch for batches).
``engine.core.loading.load_core`` picks one by backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from engine.core.kv import PromptKV


class Runner(Protocol):
    """A loaded model the core drives, one step at a time."""

    backend: str  # the name the handshake reports: "torch" or "onnx"
    device: torch.device
    vocab_size: int
    chunk: int  # the most prompt tokens one encoder pass takes (and ``encode_batch`` takes per row)
    forward_passes: int  # denoising passes run so far
    step_seconds: float  # and the seconds they took

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights and caches (self-conditioning logits are cast to it)."""
        ...

    def encode(self, base: PromptKV, ids: list[int], budget: int | None = None) -> PromptKV:
        """Extend ``base`` (a prefix of ``ids``) by encoding up to ``budget`` more tokens of ``ids``."""
        ...

    def encode_batch(self, items: list[tuple[PromptKV, list[int]]]) -> list[PromptKV]:
        """Extend several caches in one pass: each ``(base, ids)`` by ``ids[len(base.ids):]`` (one chunk at most)."""
        ...

    def score(self, base: PromptKV, continuations: list[list[int]]) -> list[float]:
        """The encoder's causal log-likelihood of each continuation after ``base`` (at least one token),
        as the mean log-probability per token."""
        ...

    def denoise(
        self,
        canvases: torch.Tensor,
        prompts: list[PromptKV],
        self_conditioning: torch.Tensor | None,
        decided: torch.Tensor | None = None,
        self_conditioning_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, C, V) for canvases (B, C), each reading its own prompt cache. ``decided`` positions may
        come back as one-hot rows of their token; ``self_conditioning_rows`` (B,) marks the rows whose
        self-conditioning logits are real, the others get none (a first step), as if given ``None``."""
        ...
