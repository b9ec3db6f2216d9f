"""The engine against transformers' ``DiffusionGemmaForBlockDiffusion.generate()``, canvas by canvas.

Three loops over one prompt and one starting canvas:

- ``transformers_generate``: ``model.generate()`` itself, given the starting canvas (``decoder_input_ids``)
  and the checkpoint's ``generation_config.json``;
- ``generate_on_runner``: generate()'s policy (its entropy-bound sampler, stopping criteria and RNG order,
  taken from transformers) with the engine's parts for everything else: the runner's encoder cache and
  denoising pass, and the engine's temperature schedule. It matches ``generate()`` token for token, which
  is what shows the engine runs the model as transformers does;
- ``engine_denoise``: the engine's own policy (``engine.sampler.denoise_step``) driven exactly as
  ``EngineCore._denoise_group`` drives it. It does not match generate(): the policies differ on purpose
  (see ``POLICY_DIFFERENCES``).

``python -m infill_tools.equivalence MODEL_DIR`` runs the three on a model directory (a GPU and the
published checkpoint, or a test checkpoint on a CPU) and prints where they agree.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import torch

from engine.kv import PromptKV
from engine.sampler import SamplerConfig, denoise_step, temperature

POLICY_DIFFERENCES = (
    "initial noise: the engine draws from [noise_low, vocab) (no special ids) on a per-request generator, "
    "at the request's canvas widths; generate() draws from [0, vocab) on the global RNG at canvas_length",
    "RNG order: the engine draws each row's re-noise before sampling and (greedy, its default) samples "
    "nothing; generate() samples every position (multinomial), then re-noises the whole canvas",
    "proposal: the engine decides the argmax (greedy) or a sample from the tempered logits; generate() "
    "always samples",
    "persistence: engine decisions are final (decided positions are never re-judged or re-noised); "
    "generate() recomputes the entropy-bound set over every position each step, so an accepted token can "
    "be re-sampled or re-noised later",
    "self-conditioning: the engine feeds decided positions as one-hot rows (the runner skips their LM "
    "head); generate() feeds every position's tempered logits",
    "acceptance: the engine also accepts any position whose top probability reaches confidence_accept "
    "(0.9), and bans special and control-character ids and an empty fill; generate() has the entropy "
    "bound alone",
    "stopping: the engine stops once every position up to the first decided <eom> is decided; generate() "
    "stops when the argmax canvas is unchanged for stability_threshold steps and the mean entropy is "
    "under confidence_threshold",
    "output: the engine answers decided tokens plus the argmax elsewhere, cut at <eom>; generate() the "
    "last argmax canvas, padded after its first eos",
    "defaults: the engine's entropy bound is 0.5 over 24 steps; generation_config.json says 0.1 over 48",
)


@dataclass(slots=True)
class Denoised:
    canvas: torch.Tensor  # (C,) the answer canvas
    steps: int
    first_logits: torch.Tensor  # (C, V) the first step's raw logits


def generation_settings(model) -> dict:
    """The model's generation config values the loops share (the published defaults where unset)."""
    gen = model.generation_config
    defaults = gen._get_default_generation_params()
    value = {name: getattr(gen, name, None) or defaults[name] for name in
             ("max_denoising_steps", "t_min", "t_max", "stability_threshold", "confidence_threshold")}
    value["sampler_config"] = gen.sampler_config or defaults["sampler_config"]
    value["eos_token_id"] = gen.eos_token_id
    value["pad_token_id"] = gen.pad_token_id
    return value


def pad_after_eos(canvas: torch.Tensor, eos_ids, pad_id: int) -> torch.Tensor:
    """generate()'s finishing touch: every token after the first eos becomes pad."""
    if eos_ids is None or pad_id is None:
        return canvas
    is_eos = torch.isin(canvas, torch.tensor(eos_ids if isinstance(eos_ids, list) else [eos_ids]))
    seen = is_eos.cumsum(-1)
    return canvas.masked_fill((seen > 0) & ~((seen == 1) & is_eos), pad_id)


@torch.inference_mode()
def transformers_generate(model, prompt_ids: list[int], canvas: torch.Tensor, seed: int) -> torch.Tensor:
    """``model.generate()`` from ``canvas`` on ``prompt_ids``: the generated canvas (C,)."""
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    out = model.generate(
        torch.tensor([prompt_ids], device=device),
        decoder_input_ids=canvas[None].to(device),
        max_new_tokens=model.config.canvas_length,
    )
    return out.sequences[0, len(prompt_ids):].cpu()


@torch.inference_mode()
def generate_on_runner(runner, prompt_ids: list[int], canvas: torch.Tensor, seed: int) -> Denoised:
    """generate()'s denoising policy over the engine's runner (see the module docstring)."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        EntropyBoundSampler,
        StableAndConfidentStoppingCriteria,
    )

    settings = generation_settings(runner.model)
    steps = settings["max_denoising_steps"]
    schedule = SamplerConfig(t_max=settings["t_max"], t_min=settings["t_min"])
    width, vocab = canvas.shape[0], runner.vocab_size
    torch.manual_seed(seed)
    kv = runner.encode(PromptKV(), prompt_ids)
    sampler = EntropyBoundSampler(settings["sampler_config"], width, vocab, steps)
    # generate() draws a random canvas even when it is given one (the default argument of a dict.pop is
    # evaluated either way): draw it too, so the RNG streams stay in step.
    sampler.initialize_canvas(1, runner.device)
    stopping = StableAndConfidentStoppingCriteria(settings["stability_threshold"], settings["confidence_threshold"])
    current = canvas[None].to(runner.device)
    argmax, sc, first, done = current, None, None, 0
    for done in range(1, steps + 1):
        raw = runner.denoise(current, [kv], sc)
        first = raw[0].cpu() if first is None else first
        processed = raw / temperature(torch.tensor([done - 1]), torch.tensor([steps]), schedule).to(raw.device)
        probs = torch.softmax(processed, dim=-1, dtype=torch.float32)
        sampled = torch.multinomial(probs.view(-1, vocab), num_samples=1).view(1, width)
        argmax = processed.argmax(-1)
        remaining = steps - done + 1
        accepted = sampler.accept_canvas(current, sampled, processed, remaining)
        current = sampler.renoise_canvas(accepted, remaining)
        finished = stopping(argmax, processed)
        sc = processed.to(runner.dtype)
        if bool(finished.all()):
            break
    canvas_out = pad_after_eos(argmax[0].cpu(), settings["eos_token_id"], settings["pad_token_id"])
    return Denoised(canvas_out, done, first)


@torch.inference_mode()
def engine_denoise(runner, prompt_ids: list[int], canvas: torch.Tensor, *, max_steps: int, cfg: SamplerConfig,
                   banned: list[int], noise_low: int, eom_id: int, seed: int) -> Denoised:
    """The engine's policy on one canvas, step for step as ``EngineCore._denoise_group`` runs it."""
    width, vocab = canvas.shape[0], runner.vocab_size
    generator = torch.Generator().manual_seed(seed)
    kv = runner.encode(PromptKV(), prompt_ids)
    decided = torch.zeros(width, dtype=torch.bool)
    no_end = torch.zeros(width, dtype=torch.bool)
    no_end[0] = True
    sc, first, fill, steps = None, None, canvas, 0
    banned_ids = torch.tensor(sorted(banned), dtype=torch.long)
    while steps < max_steps:
        logits = runner.denoise(canvas[None], [kv], sc, decided[None]).float().cpu()
        first = logits[0].clone() if first is None else first
        outcome = denoise_step(
            canvas[None], logits, decided=decided[None], no_end=no_end[None], step=torch.tensor([steps]),
            max_steps=torch.tensor([max_steps]), banned=banned_ids, noise_low=noise_low, end_ids=torch.tensor([eom_id]), cfg=cfg,
            generator=generator, noise=torch.randint(noise_low, vocab, (width,), generator=generator)[None],
        )
        canvas, decided, fill = outcome.canvas[0], outcome.decided[0], outcome.fill[0]
        sc = outcome.logits.to(runner.device, runner.dtype)
        steps += 1
        if bool(outcome.done[0]):
            break
    return Denoised(fill, steps, first)


def main(argv: list[str] | None = None) -> int:
    from engine.checkpoint import load_model, resolve_device
    from engine.torch_runner import TorchRunner

    parser = argparse.ArgumentParser(prog="python -m infill_tools.equivalence", description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    loaded = load_model(args.model, device=resolve_device(args.device), dtype=args.dtype)
    runner = TorchRunner(loaded)
    vocab, width = runner.vocab_size, loaded.model.config.canvas_length
    rng = torch.Generator().manual_seed(args.seed)
    prompt = [2, *torch.randint(107, vocab, (args.prompt_tokens,), generator=rng).tolist()]
    canvas = torch.randint(0, vocab, (width,), generator=rng)
    hf = transformers_generate(loaded.model, prompt, canvas, args.seed)
    ours = generate_on_runner(runner, prompt, canvas, args.seed)
    report = {
        "model": str(loaded.path), "device": str(loaded.device), "dtype": str(loaded.dtype),
        "generate_on_runner_equal": bool(torch.equal(hf, ours.canvas)),
        "positions_differing": int((hf != ours.canvas).sum()), "steps": ours.steps,
    }
    print(json.dumps(report))
    return 0 if report["generate_on_runner_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
