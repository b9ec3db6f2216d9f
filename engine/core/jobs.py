"""What the engine core holds for each request it admitted: the job, and each of its canvases (slots)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.core.kv import PromptKV
from engine.protocol import InfillRequest


@dataclass(frozen=True, slots=True)
class Carry:
    """Text typed after the prompt's prefix, carried at the start of each canvas (``engine.core.carry``).

    ``ids`` are fixed: the typed text's tokens but its last. That last token is healed: ``healed`` is its
    text, and the position after ``ids`` may take only a token whose text begins with it (``allowed``), so the
    typed text and what follows it are tokenized as the model saw text tokenized in training.
    """

    ids: list[int]
    healed: str
    allowed: torch.Tensor


@dataclass(slots=True)
class Slot:
    """One canvas being denoised: a (request, candidate, canvas length) triple."""

    width: int
    canvas: torch.Tensor
    decided: torch.Tensor  # pinned positions start decided
    no_end: torch.Tensor
    fill: torch.Tensor
    tail: int = 0  # positions at the end holding the start of the suffix (not part of the fill)
    carry: Carry | None = None  # typed text held at the canvas's start (not part of the fill)
    sc_logits: torch.Tensor | None = None
    steps: int = 0
    done: bool = False
    converged: bool = False
    confidence: float = 0.0
    forward_passes: int = 0
    # The generate policy's: the canvas's own generator, its fixed positions, its last argmax canvases.
    generator: torch.Generator | None = None
    pinned: torch.Tensor | None = None
    history: torch.Tensor | None = None
    argmax: torch.Tensor | None = None  # generate()'s answer canvas (``fill`` is what the engine shows of it)
    # A draft's (InfillRequest.draft): its tokens on the canvas, and the positions they hold until decided.
    draft: torch.Tensor | None = None
    keep: torch.Tensor | None = None

    @property
    def carried(self) -> int:
        """How many positions at the start hold carried text (fixed)."""
        return len(self.carry.ids) if self.carry is not None else 0


@dataclass(slots=True)
class Job:
    request: InfillRequest
    prompt: list[int]
    max_steps: int
    widths: tuple[int, ...]
    arrived: float
    kv: PromptKV = field(default_factory=PromptKV)
    cached_tokens: int = 0
    started: float = 0.0
    encoded_at: float = 0.0
    slots: list[Slot] = field(default_factory=list)
    cancelled: bool = False
    generator: torch.Generator | None = None
    seed_ids: list[int] = field(default_factory=list)
    tail_ids: list[int] = field(default_factory=list)  # the suffix's start, fixed at each canvas's end
    carry: Carry | None = None  # typed text riding on each canvas's start

    @property
    def encoded(self) -> bool:
        return len(self.kv.ids) == len(self.prompt)

    def canvases_to_come(self) -> list[int]:
        """The widths of the canvases this job will denoise once encoded ([] once it has them, and for a
        warm-up or a scoring of alternatives, which denoise none)."""
        if self.slots or self.request.warm or self.request.alternatives:
            return []
        return list(self.widths) * self.request.num_candidates
