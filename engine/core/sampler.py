"""The denoising policies: which canvas tokens to keep each step, what to re-noise, and when to stop.

Two policies over a uniform-noise canvas (no mask token), both tempered on a linear schedule from ``t_max``
at the first step to ``t_min`` at the last:

- ``engine`` (``denoise_step``, the embedded model's): among undecided positions, the lowest-entropy ones
  are accepted while the sum of their entropies minus the largest stays under an entropy bound (at least
  one per step), and any position whose top probability reaches ``confidence_accept`` is accepted too.
  Accepted tokens are decided for good (as are pinned ones: text the user already typed); every undecided
  position is re-noised with a uniform random token. A canvas is done once every position up to its first
  decided end token (``<eom>``, or the format's end-of-turn tokens) is decided.
- ``generate`` (``generate_step``, for checkpoints whose ``generation_config.json`` sets the sampling
  values): transformers' ``DiffusionGemmaForBlockDiffusion.generate()``. Every step samples every position
  from the tempered logits, re-judges the entropy-bound set over the whole canvas (nothing is final),
  re-noises the rest from ``[0, vocab)``, and feeds every position's tempered logits back as
  self-conditioning; a canvas is done when its argmax canvas is unchanged for ``stability_threshold``
  steps and its mean entropy is under ``confidence_threshold``. The answer is the last argmax canvas.
  Each row draws from its own generator, in generate()'s order (the starting canvas, then per step the
  samples, then the re-noise), so a row seeded with ``s`` is ``torch.manual_seed(s); model.generate()``.

The engine policy is batched tensor work; the generate policy runs the model batched and its sampling
row by row (each row its own generator, and at most one row's full-vocabulary tensors at a time).
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
    greedy: bool = True  # decide the argmax (deterministic fills); False samples from the tempered logits
    max_per_step: int = 0  # cap on tokens decided per step (0: no cap)

    def __post_init__(self) -> None:
        if self.entropy_bound < 0:
            raise ValueError("SamplerConfig.entropy_bound must be >= 0")
        if not 0 < self.t_min <= self.t_max:
            raise ValueError("SamplerConfig needs 0 < t_min <= t_max")

    @classmethod
    def one_token_per_step(cls) -> SamplerConfig:
        """The sequential reference: exactly one decided token per forward pass."""
        return cls(entropy_bound=0.0, confidence_accept=2.0, max_per_step=1)


# generate()'s defaults for values a generation config leaves unset (transformers'
# ``DiffusionGemmaGenerationConfig._get_default_generation_params``).
GENERATE_DEFAULTS = {"max_denoising_steps": 48, "entropy_bound": 0.1, "t_min": 0.4, "t_max": 0.8,
                     "stability_threshold": 1, "confidence_threshold": 0.005}


@dataclass(slots=True, kw_only=True)
class GenerateConfig:
    """The sampling values of a checkpoint's ``generation_config.json``: the ``generate`` policy's settings."""

    max_steps: int = GENERATE_DEFAULTS["max_denoising_steps"]
    entropy_bound: float = GENERATE_DEFAULTS["entropy_bound"]
    t_max: float = GENERATE_DEFAULTS["t_max"]
    t_min: float = GENERATE_DEFAULTS["t_min"]
    stability_threshold: int = GENERATE_DEFAULTS["stability_threshold"]
    confidence_threshold: float = GENERATE_DEFAULTS["confidence_threshold"]

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"GenerateConfig.max_steps must be >= 1, got {self.max_steps}")
        if self.entropy_bound <= 0:
            raise ValueError(f"GenerateConfig.entropy_bound must be > 0, got {self.entropy_bound}")
        if not 0 < self.t_min <= self.t_max:
            raise ValueError(f"GenerateConfig needs 0 < t_min <= t_max, got {self.t_min} and {self.t_max}")
        if self.stability_threshold < 0:
            raise ValueError(f"GenerateConfig.stability_threshold must be >= 0, got {self.stability_threshold}")
        if self.confidence_threshold <= 0:
            raise ValueError(f"GenerateConfig.confidence_threshold must be > 0, got {self.confidence_threshold}")

    @classmethod
    def from_generation_config(cls, raw: dict) -> GenerateConfig | None:
        """The settings a ``generation_config.json`` holds (unset values at generate()'s defaults), or None
        when it sets none of them (what transformers writes for a model without sampling values, as the
        embedded model's)."""
        sampler = raw.get("sampler_config") or {}
        values = {
            "max_steps": raw.get("max_denoising_steps"),
            "entropy_bound": sampler.get("entropy_bound") if isinstance(sampler, dict) else None,
            **{name: raw.get(name) for name in ("t_max", "t_min", "stability_threshold", "confidence_threshold")},
        }
        given = {name: value for name, value in values.items() if value is not None}
        return cls(**given) if given else None


@dataclass(slots=True)
class StepOutcome:
    canvas: torch.Tensor  # (B, C) next canvas to feed the model
    decided: torch.Tensor  # (B, C) positions decided so far
    fill: torch.Tensor  # (B, C) decided tokens, current argmax elsewhere
    logits: torch.Tensor  # (B, C, V) tempered logits, for self-conditioning
    newly_decided: torch.Tensor  # (B,) tokens decided this step
    done: torch.Tensor  # (B,) complete
    confidence: torch.Tensor  # (B,) mean top probability over the fill (up to its end)


def temperature(step: torch.Tensor, max_steps: torch.Tensor, cfg: SamplerConfig | GenerateConfig) -> torch.Tensor:
    """Linear schedule from t_max at the first step to t_min at the last (per row); generate()'s own."""
    remaining = (max_steps - step).clamp(min=0).float() / max_steps.clamp(min=1).float()
    return cfg.t_min + (cfg.t_max - cfg.t_min) * remaining


def fill_extent(tokens: torch.Tensor, end_ids: torch.Tensor) -> torch.Tensor:
    """(B, C) mask of the positions up to and including each row's first end token."""
    is_end = torch.isin(tokens, end_ids).long()
    return (is_end.cumsum(-1) - is_end) == 0


def denoise_step(
    canvas: torch.Tensor,
    raw_logits: torch.Tensor,
    *,
    decided: torch.Tensor,
    no_end: torch.Tensor | None = None,
    step: torch.Tensor,
    max_steps: torch.Tensor,
    banned: torch.Tensor,
    noise_low: int,
    end_ids: torch.Tensor,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> StepOutcome:
    """Apply one step of the sampler to a batch of canvases (decided positions hold their tokens).

    Full-vocabulary work runs only at undecided positions. A decided position keeps its token, counts
    with probability 1 in the confidence, and passes its logits through as they came (the runners give
    such positions a one-hot row, whose softmax any temperature leaves unchanged). ``raw_logits`` is
    reused for the returned tempered logits when it is already fp32: its undecided rows are overwritten.
    """
    rows, width, vocab = raw_logits.shape
    logits = raw_logits.float()
    if bool(decided.any()):
        where: tuple[torch.Tensor, ...] | torch.Tensor = (~decided).nonzero(as_tuple=True)
        open_logits = logits[where]  # (K, V), a copy
        open_rows = where[0]
    else:  # every position open: work on the logits in place
        where = torch.ones_like(decided)
        open_logits = logits.view(rows * width, vocab)
        open_rows = torch.arange(rows, device=logits.device).repeat_interleave(width)
    open_logits.index_fill_(-1, banned.to(raw_logits.device), float("-inf"))
    end_ids = end_ids.to(raw_logits.device)
    if no_end is not None and bool(no_end.any()):  # positions where the fill may not end (an empty fill helps nobody)
        ends = open_logits[:, end_ids]
        open_logits[:, end_ids] = ends.masked_fill(no_end[where][:, None], float("-inf"))
    open_logits.div_(temperature(step, max_steps, cfg)[open_rows, None])
    log_probs = torch.log_softmax(open_logits, dim=-1)
    probs = log_probs.exp()
    open_top, open_argmax = probs.max(-1)
    entropy = torch.full((rows, width), float("inf"), device=logits.device)
    entropy[where] = -(probs * log_probs.nan_to_num(neginf=0.0)).sum(-1)
    top_prob = torch.ones((rows, width), device=logits.device)
    top_prob[where] = open_top
    argmax = canvas.clone()
    argmax[where] = open_argmax
    proposal = argmax
    if not cfg.greedy:
        proposal = canvas.clone()
        proposal[where] = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    if isinstance(where, tuple):
        logits[where] = open_logits

    # Entropy-bound acceptance over undecided positions (decided ones hold inf), lowest entropy first,
    # at least one.
    sorted_entropy, order = entropy.sort(dim=-1)
    finite = torch.isfinite(sorted_entropy)
    cumulative = sorted_entropy.masked_fill(~finite, 0.0).cumsum(-1)
    take = ((cumulative - sorted_entropy.masked_fill(~finite, 0.0)) <= cfg.entropy_bound) & finite
    take[:, 0] = finite[:, 0]
    if cfg.max_per_step:
        take[:, cfg.max_per_step :] = False
    accepted = torch.zeros_like(take).scatter(-1, order, take)
    accepted |= (top_prob >= cfg.confidence_accept) & ~decided

    new_decided = decided | accepted
    fill = torch.where(decided, canvas, torch.where(accepted, proposal, argmax))
    if noise is None:  # callers that need per-row reproducibility pass each row's own noise
        noise = torch.randint(noise_low, vocab, canvas.shape, device=canvas.device, generator=generator)
    next_canvas = torch.where(new_decided, fill, noise)

    # Done once everything up to the first decided end token is decided.
    decided_end = torch.isin(fill, end_ids) & new_decided
    extent = fill_extent(torch.where(decided_end, fill, torch.full_like(fill, -1)), end_ids)
    done = (new_decided | ~extent).all(-1)
    span = fill_extent(fill, end_ids)
    confidence = (top_prob * span).sum(-1) / span.sum(-1).clamp(min=1)
    return StepOutcome(next_canvas, new_decided, fill, logits, accepted.sum(-1), done, confidence)


@dataclass(slots=True)
class GenerateOutcome:
    canvas: torch.Tensor  # (B, C) next canvas to feed the model: accepted samples, fresh noise elsewhere
    argmax: torch.Tensor  # (B, C) the tempered logits' argmax: generate()'s answer canvas so far
    fill: torch.Tensor  # (B, C) what the engine shows: the argmax, but at ``no_end`` positions the best id
    #                     that neither ends the fill nor is banned
    accepted: torch.Tensor  # (B, C) the entropy-bound set of this step (and pinned positions)
    logits: torch.Tensor  # (B, C, V) tempered logits, every position: the next step's self-conditioning
    history: torch.Tensor  # (B, S, C) the last stability_threshold argmax canvases, oldest first
    done: torch.Tensor  # (B,) stable and confident
    confidence: torch.Tensor  # (B,) mean top probability over the fill (up to its first end token)


def initial_canvas(width: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """generate()'s starting canvas: uniform over ``[0, vocab)``, the first draw of a row's generator."""
    return torch.randint(0, vocab, (width,), generator=generator, device=generator.device)


def generate_step(
    canvas: torch.Tensor,
    raw_logits: torch.Tensor,
    *,
    pinned: torch.Tensor,
    no_end: torch.Tensor,
    step: torch.Tensor,
    max_steps: torch.Tensor,
    history: torch.Tensor,
    generators: list[torch.Generator],
    banned: torch.Tensor,
    end_ids: torch.Tensor,
    cfg: GenerateConfig,
    judge_shown: bool = False,
    line_rows: torch.Tensor | None = None,
    newline_ids: torch.Tensor | None = None,
) -> GenerateOutcome:
    """One step of generate()'s policy over a batch of canvases (all tensors on the logits' device).

    ``pinned`` positions (text the user typed, a suffix tail) keep their token, count as certain (entropy
    0, so they take nothing from the bound), and are never re-noised; with none pinned a row is exactly
    generate()'s step. The engine's rules touch only the ``fill`` it shows: where the argmax at a
    ``no_end`` position (the fill's first) is an end or ``banned`` id, the best other id stands there
    instead, so a fill is never empty; nothing of it feeds back. ``raw_logits`` is tempered in place when
    it is already fp32.

    ``judge_shown``: a row is done once the positions it shows (up to its first end id, and for the
    ``line_rows`` up to the first of ``newline_ids`` too) are stable and under the confidence threshold,
    instead of generate()'s whole canvas; the steps before are generate()'s either way.
    """
    rows, width, vocab = raw_logits.shape
    logits = raw_logits.float()
    logits.div_(temperature(step, max_steps, cfg).to(logits.device)[:, None, None])
    next_canvas, argmax, fill = (torch.empty_like(canvas) for _ in range(3))
    accepted = torch.empty_like(pinned)
    end_ids = end_ids.to(logits.device)
    never = torch.cat([banned.to(logits.device), end_ids])
    line_stops = end_ids if newline_ids is None else torch.cat([end_ids, newline_ids.to(logits.device)])
    done = torch.zeros(rows, dtype=torch.bool, device=logits.device)
    confidence = torch.zeros(rows, device=logits.device)
    history = history.clone()
    for row, generator in enumerate(generators):
        tempered = logits[row]
        probs = torch.softmax(tempered, dim=-1, dtype=torch.float32)
        sampled = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
        noise = torch.randint(0, vocab, (width,), generator=generator, device=generator.device)
        entropy = torch.distributions.Categorical(logits=tempered).entropy()
        best = tempered.argmax(-1)
        pins = pinned[row]
        if bool(pins.any()):
            entropy = entropy.masked_fill(pins, 0.0)
            best = torch.where(pins, canvas[row], best)
        # The lowest-entropy positions while the sum of their entropies minus the largest stays in the bound.
        ordered, order = torch.sort(entropy[None], dim=-1)
        take = torch.cumsum(ordered, dim=-1) - ordered <= cfg.entropy_bound
        chosen = torch.zeros_like(take).scatter(-1, order, take)[0] | pins
        next_canvas[row] = torch.where(pins, canvas[row], torch.where(chosen, sampled, noise))
        argmax[row], accepted[row] = best, chosen
        shown = best
        if bool(no_end[row].any()):
            at = no_end[row]
            others = tempered[at].index_fill(-1, never, float("-inf")).argmax(-1)
            shown = best.clone()
            shown[at] = torch.where(torch.isin(best[at], never), others, best[at])
        fill[row] = shown
        judged = slice(None)  # the positions the stop rule looks at: all (generate()'s rule) or the shown
        if judge_shown:
            stops = line_stops if line_rows is not None and bool(line_rows[row]) else end_ids
            judged = fill_extent(shown[None], stops)[0]
        stable = True  # the argmax canvas unchanged over the last stability_threshold steps
        if cfg.stability_threshold:
            stable = bool((history[row][:, judged] == best[judged][None]).all())
            history[row] = torch.roll(history[row], shifts=-1, dims=0)
            history[row, -1] = best
        done[row] = stable and bool(entropy[judged].mean() < cfg.confidence_threshold)
        span = fill_extent(shown[None], end_ids)[0]
        top = probs.gather(-1, shown[:, None])[:, 0].masked_fill(pins, 1.0)
        confidence[row] = (top * span).sum() / span.sum().clamp(min=1)
    return GenerateOutcome(next_canvas, argmax, fill, accepted, logits, history, done, confidence)
