"""The denoising policy: which canvas tokens to accept each step, what to re-noise, and when to stop.

Follows DiffusionGemma's sampler: logits are tempered on a linear schedule, the lowest-entropy positions
are accepted while the sum of their entropies minus the largest stays under an entropy bound (at least
one per step; confident positions are accepted too), every other position is re-noised with a uniform
random token, and a canvas stops once its argmax is stable and its mean entropy is low. Pinned positions
(text the user already typed) are never re-noised. All of it is batched tensor work: no per-token loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(slots=True, kw_only=True)
class SamplerConfig:
    entropy_bound: float = 0.5
    confidence_accept: float = 0.9  # also accept any position whose top probability reaches this
    t_max: float = 0.8
    t_min: float = 0.4
    stability_steps: int = 1
    stop_entropy: float = 0.05  # mean entropy under which a stable canvas is done
    greedy: bool = True  # take the argmax as the denoised token (deterministic fills)

    def __post_init__(self) -> None:
        if self.entropy_bound <= 0:
            raise ValueError("SamplerConfig.entropy_bound must be > 0")
        if not 0 < self.t_min <= self.t_max:
            raise ValueError("SamplerConfig needs 0 < t_min <= t_max")
        if self.stability_steps < 0:
            raise ValueError("SamplerConfig.stability_steps must be >= 0")


@dataclass(slots=True)
class StepOutcome:
    canvas: torch.Tensor  # (B, C) next canvas to feed the model
    argmax: torch.Tensor  # (B, C) current best guess
    logits: torch.Tensor  # (B, C, V) tempered logits, for self-conditioning
    accepted: torch.Tensor  # (B, C) positions accepted this step
    done: torch.Tensor  # (B,) converged
    confidence: torch.Tensor  # (B,) mean top probability over the fill (up to its end)


def temperature(step: torch.Tensor, max_steps: torch.Tensor, cfg: SamplerConfig) -> torch.Tensor:
    """Linear schedule from t_max at the first step to t_min at the last (per row)."""
    remaining = (max_steps - step).clamp(min=0).float() / max_steps.clamp(min=1).float()
    return cfg.t_min + (cfg.t_max - cfg.t_min) * remaining


def denoise_step(
    canvas: torch.Tensor,
    raw_logits: torch.Tensor,
    *,
    pinned: torch.Tensor,
    no_end: torch.Tensor | None = None,
    previous_argmax: torch.Tensor,
    stable_count: torch.Tensor,
    step: torch.Tensor,
    max_steps: torch.Tensor,
    banned: torch.Tensor,
    noise_low: int,
    eom_id: int,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
) -> tuple[StepOutcome, torch.Tensor]:
    """Apply one step of the sampler to a batch; return the outcome and the updated stability counters."""
    rows, width, vocab = raw_logits.shape
    logits = raw_logits.float().index_fill(-1, banned.to(raw_logits.device), float("-inf"))
    if no_end is not None:  # positions where the fill may not end (an empty fill helps nobody)
        logits[..., eom_id] = logits[..., eom_id].masked_fill(no_end, float("-inf"))
    temp = temperature(step, max_steps, cfg)[:, None, None]
    logits = logits / temp
    log_probs = torch.log_softmax(logits, dim=-1)
    probs = log_probs.exp()
    entropy = -(probs * log_probs.nan_to_num(neginf=0.0)).sum(-1)  # (B, C)
    top_prob, argmax = probs.max(-1)
    if cfg.greedy:
        proposal = argmax
    else:
        proposal = torch.multinomial(probs.view(-1, vocab), 1, generator=generator).view(rows, width)
    argmax = torch.where(pinned, canvas, argmax)
    proposal = torch.where(pinned, canvas, proposal)

    # Entropy-bound acceptance over unpinned positions, lowest entropy first.
    free_entropy = entropy.masked_fill(pinned, 0.0)
    sorted_entropy, order = free_entropy.sort(dim=-1)
    cumulative = sorted_entropy.cumsum(-1)
    take_sorted = (cumulative - sorted_entropy) <= cfg.entropy_bound
    take_sorted[:, 0] = True  # at least one token per step
    accepted = torch.zeros_like(take_sorted).scatter(-1, order, take_sorted)
    accepted |= top_prob >= cfg.confidence_accept
    accepted |= pinned

    noise = torch.randint(noise_low, vocab, canvas.shape, device=canvas.device, generator=generator)
    next_canvas = torch.where(accepted, proposal, noise)

    # The fill ends at the first <eom> of the argmax; only that part decides confidence.
    is_end = argmax == eom_id
    before_end = (is_end.long().cumsum(-1) - is_end.long()) == 0  # positions up to and including the first <eom>
    fill_entropy = (entropy * before_end).sum(-1) / before_end.sum(-1).clamp(min=1)
    confidence = (top_prob * before_end).sum(-1) / before_end.sum(-1).clamp(min=1)
    same = (argmax == previous_argmax).all(-1)
    stable_count = torch.where(same, stable_count + 1, torch.zeros_like(stable_count))
    done = (stable_count >= cfg.stability_steps) & (fill_entropy < cfg.stop_entropy)
    outcome = StepOutcome(next_canvas, argmax, logits, accepted, done, confidence)
    return outcome, stable_count
