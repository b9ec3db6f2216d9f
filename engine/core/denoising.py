"""One denoising pass over the canvases of one length: the runner's forward pass over all of them, the
sampling policy's step, and each slot updated with its outcome.

The policy is the engine's own (``sampler.denoise_step``) or, for a checkpoint whose generation config sets
the sampling values, generate()'s (``sampler.generate_step``). The ids a policy treats specially are fixed
per model and prompt format: never sampled (special tokens but those that end a fill, control characters),
the end ids, the newline ids (where a single-line fill ends, for generate()'s "shown" stop rule) and the
lowest id of the uniform noise.
"""

from __future__ import annotations

import torch

from engine.core.canvases import advanced, healed, kept
from engine.core.config import EngineConfig
from engine.core.jobs import Job, Slot
from engine.core.runner import Runner
from engine.core.sampler import GenerateConfig, SamplerConfig, denoise_step, generate_step
from engine.prompt.formats import BoundFormat
from engine.prompt.tokenizer import InfillTokenizer


class Denoiser:
    """Runs denoising passes over groups of (job, slot) canvases of one length."""

    def __init__(self, runner: Runner, tokenizer: InfillTokenizer, format: BoundFormat,
                 generation: GenerateConfig | None) -> None:
        self.runner = runner
        self.generation = generation
        self.banned = torch.tensor(sorted({*format.never_generated, *tokenizer.control_ids()}), dtype=torch.long)
        self.end_ids = torch.tensor(format.end_ids, dtype=torch.long)
        self.newline_ids = torch.tensor(tokenizer.newline_ids(), dtype=torch.long) if generation else None
        self.noise_low = format.noise_low

    def run(self, width: int, group: list[tuple[Job, Slot]], config: EngineConfig) -> None:
        """One pass over ``group`` (canvases of ``width`` tokens), each slot advanced by a step, under the
        engine's ``config`` as it is now (its sampler and stop rule)."""
        if self.generation is not None:
            self._generate(group, self.generation, config.stop_rule == "shown")
        else:
            self._denoise(width, group, config.sampler)

    def _denoise(self, width: int, group: list[tuple[Job, Slot]], sampler: SamplerConfig) -> None:
        canvases = torch.stack([s.canvas for _, s in group])
        has_sc = [s.sc_logits is not None for _, s in group]
        sc = None
        if any(has_sc):
            vocab = self.runner.vocab_size
            sc = torch.stack([s.sc_logits if s.sc_logits is not None else torch.zeros(width, vocab) for _, s in group])
            sc = sc.to(self.runner.device, self.runner.dtype)
        decided = torch.stack([s.decided for _, s in group])
        logits = self.runner.denoise(canvases, [j.kv for j, _ in group], sc, decided).float().cpu()
        healed(logits, [slot for _, slot in group], decided)
        outcome = denoise_step(
            canvases,
            logits,
            decided=decided,
            no_end=torch.stack([s.no_end for _, s in group]),
            step=torch.tensor([s.steps for _, s in group]),
            max_steps=torch.tensor([j.max_steps for j, _ in group]),
            banned=self.banned,
            noise_low=self.noise_low,
            end_ids=self.end_ids,
            cfg=sampler,
            generator=group[0][0].generator,
            # Each row re-noises from its own request's generator: a fill does not depend on its batch. A
            # draft's undecided positions go back to the draft, not to noise.
            noise=torch.stack([kept(s, torch.randint(self.noise_low, self.runner.vocab_size, (width,),
                                                      generator=j.generator)) for j, s in group]),
        )
        for row, (job, slot) in enumerate(group):
            slot.canvas = outcome.canvas[row]
            slot.decided = outcome.decided[row]
            slot.fill = outcome.fill[row]
            slot.sc_logits = outcome.logits[row]
            advanced(job, slot, float(outcome.confidence[row]), bool(outcome.done[row]))

    def _generate(self, group: list[tuple[Job, Slot]], cfg: GenerateConfig, judge_shown: bool) -> None:
        """One step of the generate policy over canvases of one length: the LM head on every position,
        each row self-conditioned on its own last tempered logits (none at its first step), sampled with
        its own generator, on the runner's device."""
        canvases = torch.stack([s.canvas for _, s in group])
        has_sc = torch.tensor([s.sc_logits is not None for _, s in group])
        sc, sc_rows = None, None
        if bool(has_sc.any()):
            like = next(s.sc_logits for _, s in group if s.sc_logits is not None)
            sc = torch.stack([s.sc_logits if s.sc_logits is not None else torch.zeros_like(like) for _, s in group])
            sc_rows = None if bool(has_sc.all()) else has_sc
        logits = self.runner.denoise(canvases, [j.kv for j, _ in group], sc, None, sc_rows).to(canvases.device)
        healed(logits, [slot for _, slot in group])
        outcome = generate_step(
            canvases,
            logits,
            pinned=torch.stack([s.pinned for _, s in group]),
            no_end=torch.stack([s.no_end for _, s in group]),
            step=torch.tensor([s.steps for _, s in group]),
            max_steps=torch.tensor([j.max_steps for j, _ in group]),
            history=torch.stack([s.history for _, s in group]),
            generators=[s.generator for _, s in group],
            banned=self.banned,
            end_ids=self.end_ids,
            cfg=cfg,
            judge_shown=judge_shown,
            line_rows=torch.tensor([j.request.single_line for j, _ in group]),
            newline_ids=self.newline_ids,
        )
        for row, (job, slot) in enumerate(group):
            slot.canvas = kept(slot, outcome.canvas[row], outcome.accepted[row])
            slot.decided = outcome.accepted[row]
            slot.fill, slot.argmax = outcome.fill[row], outcome.argmax[row]
            slot.history = outcome.history[row]
            slot.sc_logits = outcome.logits[row].to(self.runner.dtype)
            advanced(job, slot, float(outcome.confidence[row]), bool(outcome.done[row]))
