"""The engine against transformers' ``DiffusionGemmaForBlockDiffusion.generate()``, canvas by canvas.

Three loops over one prompt:

- ``transformers_generate``: ``model.generate()`` itself, with the checkpoint's ``generation_config.json``
  (given a starting canvas, or drawing its own);
- ``generate_on_runner``: generate()'s policy (its entropy-bound sampler, stopping criteria and RNG order,
  taken from transformers) over the engine's runner: its encoder cache and denoising pass. It matches
  ``generate()`` token for token, which shows the engine runs the model as transformers does;
- ``engine_canvases``: requests through ``EngineCore`` itself. For a checkpoint whose generation config
  sets the sampling values the core runs its ``generate`` policy (``engine.core.sampler.generate_step``): a
  request seeded ``s`` answers ``torch.manual_seed(s); model.generate(prompt)``'s canvas, with
  ``max_denoising_steps`` = the request's steps. What still differs is ``POLICY_DIFFERENCES``.

``python -m infill_tools.equivalence MODEL_DIR`` runs the three on a model directory (a GPU and the
published checkpoint, or a test checkpoint on a CPU) and prints where they agree.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import torch

from engine.core.engine_core import request_seed
from engine.core.kv import PromptKV
from engine.core.sampler import SamplerConfig, temperature
from engine.protocol import InfillRequest, InfillResult

# What the engine's generate policy does that generate() does not (the canvas it denoises is generate()'s).
POLICY_DIFFERENCES = (
    "what is shown: the engine's fill is generate()'s last argmax canvas cut at the format's end tokens "
    "(chat: <turn|>, <eos>), at a closing code fence, and at the first other special or control-character "
    "token (generate() cuts at its eos ids [1, 106, 50] only); at the fill's first position an end or such a "
    "token gives way to the next best token, so a fill is never empty. Nothing of this feeds back",
    "pinned text (characters typed into a popup item), the suffix tail of the native format and a canvas "
    "seeded from the document's last fill: positions generate() has no notion of; without them a canvas "
    "is generate()'s",
    "one canvas per candidate, of the request's length: generate() denoises canvas_length (256) and goes "
    "on with another canvas when the first holds no eos; shorter canvases (native format, short "
    "canvases) are outside its layout",
    "batching: canvases whose prompts differ in length share a left-padded cache, so their logits equal "
    "generate()'s to float rounding (7e-7 on the test checkpoint), not bit for bit, and a sample can flip "
    "in rare cases; a canvas alone or beside prompts of its length is exact",
    "random streams: each canvas has its own generator on the runner's device, the i-th of a request "
    "seeded with its seed (its id when 0) + i * 0x9E3779B9; generate() draws from the global generator",
    "ONNX backend: single-canvas steps run on ONNX Runtime, equal to torch's logits to fp32 rounding",
    "the embedded model has no sampling values in its generation config and keeps the engine's own "
    "policy (final decisions, argmax proposals, noise above the special ids, one-hot self-conditioning "
    "of decided positions, confidence_accept 0.9, <eom> stopping, bound 0.5 over 24 steps)",
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
def transformers_generate(model, prompt_ids: list[int], canvas: torch.Tensor | None, seed: int,
                          steps: int | None = None) -> torch.Tensor:
    """``model.generate()`` on ``prompt_ids`` after ``torch.manual_seed(seed)``, from ``canvas`` (None: the
    canvas it draws itself), over ``steps`` denoising steps (None: its generation config's): the canvas (C,)."""
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    extra = {} if canvas is None else {"decoder_input_ids": canvas[None].to(device)}
    if steps is not None:
        extra["max_denoising_steps"] = steps
    out = model.generate(torch.tensor([prompt_ids], device=device), max_new_tokens=model.config.canvas_length,
                         **extra)
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


@dataclass(slots=True)
class EngineAnswer:
    prompt: list[int]  # the prompt ids the core built for the request
    canvases: list[torch.Tensor]  # (C,) per canvas: generate()'s answer canvas (the engine policy: its fill)
    result: InfillResult


def engine_canvases(core, requests: list[InfillRequest]) -> dict[str, EngineAnswer]:
    """``requests`` added to ``core`` together and run to the end: per request id, its prompt, the canvas
    each of its slots answered (before the engine's rules for what it shows) and its result."""
    jobs = {}
    for request in requests:
        core.add(request)
        jobs[request.request_id] = core.jobs[request.request_id]
    results: dict[int, InfillResult] = {}
    while core.has_work():
        results.update({m.request_id: m for m in core.step() if isinstance(m, InfillResult)})
    return {
        rid: EngineAnswer(job.prompt, [(s.fill if s.argmax is None else s.argmax).cpu() for s in job.slots],
                          results[rid])
        for rid, job in jobs.items()
    }


def main(argv: list[str] | None = None) -> int:
    from engine.core.loading import load_core

    parser = argparse.ArgumentParser(prog="python -m infill_tools.equivalence", description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (0: the generation config's)")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    from engine.core.config import EngineConfig

    # generate()'s own stop rule: the whole canvas, not only what a user would be shown.
    core = load_core(args.model, device=args.device, dtype=args.dtype, config=EngineConfig(stop_rule="canvas"))
    runner, model = core.runner, core.runner.model
    if args.steps:
        model.generation_config.max_denoising_steps = args.steps
    vocab, width = runner.vocab_size, model.config.canvas_length
    rng = torch.Generator().manual_seed(args.seed)
    prompt = [2, *torch.randint(107, vocab, (args.prompt_tokens,), generator=rng).tolist()]
    canvas = torch.randint(0, vocab, (width,), generator=rng)
    hf = transformers_generate(model, prompt, canvas, args.seed)
    ours = generate_on_runner(runner, prompt, canvas, args.seed)
    request = InfillRequest(max(args.seed, 1), "def mean(values):\n    return ", "\n\nprint(mean([1, 2]))\n",
                            language="python", seed=args.seed, max_steps=args.steps)
    answer = engine_canvases(core, [request])[request.request_id]
    theirs = transformers_generate(model, answer.prompt, None, request_seed(request), args.steps or None)
    generation = model.generation_config
    engine = pad_after_eos(answer.canvases[0], generation.eos_token_id, generation.pad_token_id)
    report = {
        "model": str(runner.loaded.path), "device": str(runner.device), "dtype": str(runner.dtype),
        "generate_on_runner_equal": bool(torch.equal(hf, ours.canvas)),
        "positions_differing": int((hf != ours.canvas).sum()), "steps": ours.steps,
        "engine_policy": core.policy, "engine_equal": bool(torch.equal(engine, theirs)),
        "engine_positions_differing": int((engine != theirs).sum()), "engine_steps": answer.result.steps,
    }
    print(json.dumps(report))
    agree = report["generate_on_runner_equal"] and (core.policy != "generate" or report["engine_equal"])
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
