"""The losses a DiffusionGemma infill model trains with, and the same-size autoregressive baseline's.

Diffusion: the clean canvas (middle + ``<eom>`` padding) is corrupted with uniform random tokens at a
per-example rate t ~ U(0, 1]; the bidirectional decoder, reading the causal encoder's cache of the
prompt, predicts the clean token at every canvas position. Half the examples get self-conditioning: the
logits of a first, gradient-free pass are fed back, as at inference. The encoder also gets an
autoregressive next-token loss on the prompt.

Edit rows (``training.edit_examples``): the canvas starts from the draft, the region before an edit,
instead of the clean canvas, and is noised at the same rate; the loss is toward the clean canvas, the
region after the edit, at every position (``draft_start``).

Autoregressive baseline: the encoder alone, trained causally on ``prompt + middle + <eom>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.profiler import record_function
from transformers.cache_utils import DynamicCache

from training.fim_examples import FimBatch
from training.lm_loss import softcapped_cross_entropy


@dataclass(slots=True, kw_only=True)
class ObjectiveConfig:
    self_conditioning_prob: float = 0.5
    ar_weight: float = 0.5
    ar_positions: int = 128  # prompt positions per row scored by the encoder's AR loss
    min_noise: float = 0.02
    noise_low_id: int = 0  # random tokens are drawn from [noise_low_id, vocab)
    fused_lm_loss: bool = True  # lm_loss.softcapped_cross_entropy; False: the model's full fp32 logits

    def __post_init__(self) -> None:
        if not 0.0 <= self.self_conditioning_prob <= 1.0:
            raise ValueError("ObjectiveConfig.self_conditioning_prob must be in [0, 1]")
        if self.ar_weight < 0:
            raise ValueError("ObjectiveConfig.ar_weight must be >= 0")


def softcapped_logits(model, hidden: torch.Tensor) -> torch.Tensor:
    """Apply the model's LM head and final logit soft-capping to hidden states (as its forward does)."""
    logits = model.lm_head(hidden).float()
    cap = model.final_logit_softcapping
    return torch.tanh(logits / cap) * cap if cap else logits


def lm_head_losses(
    model, hidden: torch.Tensor, targets: torch.Tensor, fused: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position cross-entropy of the soft-capped LM head against ``targets``, and its argmax."""
    if fused:
        return softcapped_cross_entropy(hidden, model.lm_head.weight, targets, model.final_logit_softcapping)
    logits = softcapped_logits(model, hidden)
    losses = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), reduction="none").view(targets.shape)
    return losses, logits.detach().argmax(-1)


def noise_canvas(
    canvas: torch.Tensor, rate: torch.Tensor, low: int, high: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace each canvas token by a uniform random token with its row's probability ``rate``."""
    draw = torch.rand(canvas.shape, device=canvas.device, generator=generator)
    noised = draw < rate[:, None]
    random_tokens = torch.randint(low, high, canvas.shape, device=canvas.device, generator=generator)
    return torch.where(noised, random_tokens, canvas), noised


def _encode(model, batch: FimBatch, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor):
    cache = DynamicCache(config=model.config.text_config)
    # Without padding, no mask: attention then runs its fused causal kernels.
    attention_mask = None if bool(mask.all()) else mask.long()
    out = model.model.encoder(
        input_ids=ids, attention_mask=attention_mask, position_ids=positions, past_key_values=cache
    )
    return out.last_hidden_state, cache


def _prompt_ar_loss(model, hidden: torch.Tensor, batch: FimBatch, positions: int, fused: bool) -> torch.Tensor:
    """Next-token loss on a random sample of real prompt positions of each row."""
    ids, mask = batch.prompt_ids, batch.prompt_mask
    valid = mask[:, :-1] & mask[:, 1:]
    scores = torch.rand(valid.shape, device=ids.device).masked_fill(~valid, -1.0)
    k = min(positions, valid.shape[1])
    picked = scores.topk(k, dim=-1).indices  # (B, k)
    keep = torch.gather(valid, 1, picked)
    h = torch.gather(hidden[:, :-1], 1, picked[..., None].expand(-1, -1, hidden.shape[-1]))
    targets = torch.gather(ids[:, 1:], 1, picked)
    losses, _ = lm_head_losses(model, h, targets, fused)
    return (losses * keep).sum() / keep.sum().clamp(min=1)


def diffusion_loss(model, batch: FimBatch, cfg: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Return the training loss of a DiffusionGemma model on a FIM batch, with its parts for logging."""
    vocab = model.config.text_config.vocab_size
    with record_function("step:encoder"):
        hidden, cache = _encode(model, batch, batch.prompt_ids, batch.prompt_mask, batch.prompt_positions)
    canvas = batch.canvas_ids
    rows, width = canvas.shape
    rate = torch.rand(rows, device=canvas.device) * (1 - cfg.min_noise) + cfg.min_noise
    start, free = draft_start(batch)
    noised, noised_mask = noise_canvas(start, rate, cfg.noise_low_id, vocab)
    if free is not None:  # an edit row's positions past its draft's end start as noise, as the engine serves them
        noised = torch.where(free, torch.randint_like(noised, cfg.noise_low_id, vocab), noised)
        noised_mask = noised_mask | free
    decoder_mask = None
    if not bool(batch.prompt_mask.all()):
        decoder_mask = torch.cat([batch.prompt_mask, torch.ones_like(canvas, dtype=torch.bool)], dim=-1)
    decoder_positions = batch.prompt_mask.sum(-1, keepdim=True) + torch.arange(width, device=canvas.device)

    def decode(sc_logits, sc_mask) -> torch.Tensor:
        # The decoder's final hidden states; ``model(...)`` would add the LM head and soft-cap on top.
        return model.model.decoder(
            decoder_input_ids=noised,
            past_key_values=cache,
            decoder_attention_mask=decoder_mask,
            decoder_position_ids=decoder_positions,
            self_conditioning_logits=sc_logits,
            self_conditioning_mask=sc_mask,
        ).last_hidden_state

    sc_logits = sc_mask = None
    if cfg.self_conditioning_prob > 0:
        sc_mask = torch.rand(rows, device=canvas.device) < cfg.self_conditioning_prob
        if sc_mask.any():
            with torch.no_grad(), record_function("step:self_conditioning"):
                sc_logits = softcapped_logits(model, decode(None, None))
        else:
            sc_mask = None
    with record_function("step:decoder"):
        decoded = decode(sc_logits, sc_mask)
    with record_function("step:denoise_loss"):
        losses, predictions = lm_head_losses(model, decoded, canvas, cfg.fused_lm_loss)
    denoise = losses.mean()
    loss = denoise
    stats = {"denoise": float(denoise.detach())}
    if cfg.ar_weight > 0:
        with record_function("step:encoder_ar_loss"):
            ar = _prompt_ar_loss(model, hidden, batch, cfg.ar_positions, cfg.fused_lm_loss)
        loss = loss + cfg.ar_weight * ar
        stats["encoder_ar"] = float(ar.detach())
    with torch.no_grad():
        correct = (predictions == canvas) & noised_mask
        stats["noised_acc"] = float(correct.sum() / noised_mask.sum().clamp(min=1))
        if batch.draft_ids is not None:  # on edit rows, the positions whose draft token is wrong
            stale = (batch.draft_ids != canvas) & (batch.draft_lengths >= 0)[:, None]
            stats["stale_acc"] = float(((predictions == canvas) & stale).sum() / stale.sum().clamp(min=1))
    stats["loss"] = float(loss.detach())
    return loss, stats


def draft_start(batch: FimBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The canvas noising starts from, and the positions that start as noise whatever the rate (or None).

    A fill starts from its clean canvas. An edit row starts from its draft (the region before the edit +
    ``<eom>`` padding), so the positions noise leaves hold the draft's tokens, stale ones included, and the
    model learns to rewrite them toward the clean canvas; past the draft and its end, the positions are the
    free room the engine gives a draft to grow into, which holds noise there.
    """
    if batch.draft_ids is None or batch.draft_lengths is None:
        return batch.canvas_ids, None
    width = batch.canvas_ids.shape[1]
    lengths = batch.draft_lengths[:, None]
    free = (torch.arange(width, device=lengths.device)[None, :] > lengths) & (lengths >= 0)
    return batch.draft_ids, free


def autoregressive_loss(model, batch: FimBatch, cfg: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of the AR baseline: the encoder reads ``prompt + middle + <eom>`` causally.

    Middle and end tokens are all scored; prompt positions are sampled as in the diffusion objective,
    so both models see the same tokens and the same prompt-side signal.
    """
    canvas = batch.canvas_ids
    rows, width = canvas.shape
    lengths = batch.middle_lengths
    # Keep the middle and exactly one <eom>; the rest of the canvas is right padding.
    in_target = torch.arange(width, device=canvas.device)[None, :] <= lengths[:, None]
    ids = torch.cat([batch.prompt_ids, canvas], dim=-1)
    # Right padding after the first <eom> cannot affect earlier positions of a causal model: only the
    # prompt's left padding needs masking.
    mask = torch.cat([batch.prompt_mask, torch.ones_like(in_target)], dim=-1)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    with record_function("step:encoder"):
        hidden, _ = _encode(model, batch, ids, mask, positions)
    prompt_len = batch.prompt_ids.shape[1]
    # Predict canvas token j from the hidden state just before it.
    h = hidden[:, prompt_len - 1 : prompt_len - 1 + width]
    with record_function("step:middle_loss"):
        losses, _ = lm_head_losses(model, h, canvas, cfg.fused_lm_loss)
    middle = (losses * in_target).sum() / in_target.sum()
    loss = middle
    stats = {"middle": float(middle.detach())}
    if cfg.ar_weight > 0:
        prompt_hidden = hidden[:, :prompt_len]
        with record_function("step:encoder_ar_loss"):
            ar = _prompt_ar_loss(model, prompt_hidden, batch, cfg.ar_positions, cfg.fused_lm_loss)
        loss = loss + cfg.ar_weight * ar
        stats["encoder_ar"] = float(ar.detach())
    stats["loss"] = float(loss.detach())
    return loss, stats


OBJECTIVES = {"diffusion": diffusion_loss, "ar": autoregressive_loss}
