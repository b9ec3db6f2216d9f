"""``python -m training.profile``: time and profile training steps on whatever device is present.

Runs the training step of ``train.py`` (objective, backward, clipping, AdamW) on fixed batches, for one
or more variants of the step (``reference``: the model's own modules; ``lean``: the default lean
RMSNorm and fused LM-head loss; ``compiled``: lean plus ``torch.compile`` of each layer), and writes a compact text
report: step time and tokens/s without the profiler, peak memory, time per phase of the step, and the
top operators by self device and self CPU time under ``torch.profiler``. Batches are synthetic (every
prompt ``--prompt-length`` tokens, the longest the recipe cuts) unless a corpus and tokenizer are given.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from engine.model.architecture import SHAPES, ModelShape, count_parameters
from training.fim_examples import FimBatch, FimRecipe
from training.objectives import OBJECTIVES, ObjectiveConfig
from training.train import TrainConfig, autocast_for, build_model, build_optimizer, train_step

VARIANTS = ("reference", "lean", "compiled")
PHASE_PREFIX = "step:"


@dataclass(slots=True, kw_only=True)
class ProfileConfig:
    objective: str = "diffusion"
    shape: str = "small"
    batch_size: int = 8
    prompt_length: int = 832  # 640 prefix + 192 suffix tokens: the longest prompt of the default recipe
    canvas_length: int = 64
    warmup_steps: int = 2
    timed_steps: int = 3
    profiled_steps: int = 1
    variants: tuple[str, ...] = ("lean",)
    device: str = "auto"
    seed: int = 0
    rows: int = 20  # operators per table

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"ProfileConfig.objective must be one of {sorted(OBJECTIVES)}")
        if self.shape not in SHAPES:
            raise ValueError(f"ProfileConfig.shape must be one of {sorted(SHAPES)}")
        for variant in self.variants:
            if variant not in VARIANTS:
                raise ValueError(f"ProfileConfig.variants: {variant!r} is not one of {VARIANTS}")
        if (
            min(
                self.batch_size, self.prompt_length, self.canvas_length, self.timed_steps, self.profiled_steps
            )
            < 1
        ):
            raise ValueError("ProfileConfig sizes and step counts must be positive")


def synthetic_batch(
    shape: ModelShape, batch_size: int, prompt_length: int, canvas_length: int, seed: int
) -> FimBatch:
    """A batch of random prompts of one length and random middles padded with ``<eos>`` as ``<eom>``."""
    gen = torch.Generator().manual_seed(seed)
    low = min(64, shape.vocab_size // 4)  # stay clear of the special ids
    prompt = torch.randint(low, shape.vocab_size, (batch_size, prompt_length), generator=gen)
    mask = torch.ones(batch_size, prompt_length, dtype=torch.bool)
    positions = torch.arange(prompt_length).expand(batch_size, -1).clone()
    lengths = torch.randint(0, canvas_length, (batch_size,), generator=gen)
    canvas = torch.randint(low, shape.vocab_size, (batch_size, canvas_length), generator=gen)
    canvas[torch.arange(canvas_length)[None, :] >= lengths[:, None]] = shape.eos_token_id
    return FimBatch(prompt, mask, positions, canvas, lengths)


def corpus_batches(corpus: Path, tokenizer: Path, cfg: ProfileConfig, count: int) -> list[FimBatch]:
    """``count`` batches cut from a corpus as training cuts them (canvas fixed to ``cfg.canvas_length``)."""
    from training.train import FimBatches, load_corpus_texts

    recipe = FimRecipe(canvas_lengths=(cfg.canvas_length,))
    stream = iter(
        FimBatches(load_corpus_texts(corpus), str(tokenizer), recipe, cfg.batch_size, seed=cfg.seed)
    )
    return [next(stream) for _ in range(count)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _profiled_peak_bytes(prof) -> int | None:
    """Peak host memory allocated during a CPU profile, above what was allocated when it started."""
    try:
        from torch._C._profiler import _EventType

        totals, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
                fields = node.extra_fields
                totals.append((node.start_time_ns, fields.total_allocated, fields.alloc_size))
    except (ImportError, AttributeError):  # a private API: report no figure rather than fail
        return None
    if not totals:
        return None
    totals.sort()
    start = totals[0][1] - totals[0][2]
    return max(total for _, total, _ in totals) - start


def _phase_lines(averages) -> list[str]:
    lines = []
    for event in averages:
        if event.key.startswith(PHASE_PREFIX):
            device_ms = event.device_time_total / 1000
            lines.append(
                f"  {event.key[len(PHASE_PREFIX) :]:<20} cpu {event.cpu_time_total / 1000:10.1f} ms"
                + (f"   device {device_ms:10.1f} ms" if device_ms else "")
                + f"   x{event.count}"
            )
    return lines


def profile_variant(
    variant: str, cfg: ProfileConfig, shape: ModelShape, batches: list[FimBatch], device: torch.device
) -> tuple[dict, str]:
    """Time and profile the training step of one variant; return its figures and its report section."""
    lean = variant != "reference"
    train_cfg = TrainConfig(
        objective=cfg.objective,
        shape=cfg.shape,
        lean_norms=lean,
        compile=variant == "compiled",
        objective_cfg=ObjectiveConfig(fused_lm_loss=lean),
    )
    train_cfg.objective_cfg.noise_low_id = min(64, shape.vocab_size // 4)
    torch.manual_seed(cfg.seed)
    model = build_model(shape, device, lean_norms=train_cfg.lean_norms, compile=train_cfg.compile)
    optimizer = build_optimizer(model, train_cfg, device)
    objective = OBJECTIVES[cfg.objective]
    model.train()

    def step(batch: FimBatch) -> None:
        train_step(model, optimizer, objective, batch.to(device), train_cfg, lambda: autocast_for(device))

    cursor = 0

    def next_batch() -> FimBatch:
        nonlocal cursor
        cursor += 1
        return batches[(cursor - 1) % len(batches)]

    for _ in range(cfg.warmup_steps):
        step(next_batch())
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, tokens = [], 0
    for _ in range(cfg.timed_steps):
        batch = next_batch()
        started = time.perf_counter()
        step(batch)
        _sync(device)
        times.append(time.perf_counter() - started)
        tokens += batch.tokens
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities, profile_memory=True) as prof:
        for _ in range(cfg.profiled_steps):
            step(next_batch())
        _sync(device)
    if device.type == "cuda":
        peak, peak_note = (
            torch.cuda.max_memory_allocated(device),
            "max allocated (weights and optimizer included)",
        )
    else:
        peak, peak_note = _profiled_peak_bytes(prof), "allocated during a step, above its start"
    step_s = sum(times) / len(times)
    figures = {
        "variant": variant,
        "step_s": step_s,
        "tokens_per_s": tokens / sum(times),
        "peak_bytes": peak,
        "params": count_parameters(model)["total"],
    }
    text = model.config.text_config
    averages = prof.key_averages()
    lines = [
        f"## {variant}",
        f"attention: {model.config._attn_implementation} (text layers {text._attn_implementation}); experts: "
        f"{text._experts_implementation}; lean RMSNorm and fused LM-head loss: {'on' if lean else 'off'}; "
        f"compiled layers: {'on' if train_cfg.compile else 'off'}",
        f"step: {step_s:.3f} s (mean of {len(times)} after {cfg.warmup_steps} warm-up, no profiler), "
        f"{figures['tokens_per_s']:,.0f} tokens/s",
        f"peak memory: {_format_bytes(peak)} ({peak_note})",
        f"phases (profiled, {cfg.profiled_steps} step(s)):",
        *_phase_lines(averages),
    ]
    if device.type == "cuda":
        lines += [
            "",
            "top operators by self device time:",
            averages.table(sort_by="self_device_time_total", row_limit=cfg.rows, max_name_column_width=60),
        ]
    lines += [
        "",
        "top operators by self CPU time:",
        averages.table(sort_by="self_cpu_time_total", row_limit=cfg.rows, max_name_column_width=60),
    ]
    return figures, "\n".join(lines)


def _format_bytes(count: int | None) -> str:
    return "n/a" if count is None else f"{count / 2**20:,.0f} MiB"


def profile_training(
    cfg: ProfileConfig, out: Path, corpus: Path | None = None, tokenizer: Path | None = None
) -> list[dict]:
    """Profile each variant in ``cfg.variants`` on the same batches; write the report to ``out``."""
    device = torch.device(
        cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    shape = SHAPES[cfg.shape]
    count = cfg.warmup_steps + cfg.timed_steps + cfg.profiled_steps
    if corpus is not None and tokenizer is not None:
        from engine.prompt.tokenizer import InfillTokenizer

        shape = replace(shape, vocab_size=InfillTokenizer.from_file(tokenizer).vocab_size)
        batches = corpus_batches(corpus, tokenizer, cfg, count)
        source = f"corpus {corpus}"
    else:
        batches = [
            synthetic_batch(shape, cfg.batch_size, cfg.prompt_length, cfg.canvas_length, cfg.seed + i)
            for i in range(count)
        ]
        source = f"synthetic, prompts of {cfg.prompt_length} tokens"
    import transformers

    device_name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu, {torch.get_num_threads()} threads"
    )
    results, sections = [], []
    for variant in cfg.variants:
        figures, section = profile_variant(variant, cfg, shape, batches, device)
        gc.collect()  # the variant's model and optimizer, before the next one is measured
        if device.type == "cuda":
            torch.cuda.empty_cache()
        results.append(figures)
        sections.append(section)
        print(
            f"{variant}: {figures['step_s']:.3f} s/step, {figures['tokens_per_s']:,.0f} tokens/s, "
            f"peak {_format_bytes(figures['peak_bytes'])}",
            file=sys.stderr,
        )
    header = [
        f"# training step profile: {cfg.objective}, shape {cfg.shape} ({results[0]['params'] / 1e6:.1f}M "
        f"parameters), batch {cfg.batch_size}, canvas {cfg.canvas_length}, {source}",
        f"device: {device_name}; torch {torch.__version__}, transformers {transformers.__version__}",
        "",
    ]
    summary = ["| variant | s/step | tokens/s | peak memory |", "| --- | --- | --- | --- |"]
    summary += [
        f"| {r['variant']} | {r['step_s']:.3f} | {r['tokens_per_s']:,.0f} | {_format_bytes(r['peak_bytes'])} |"
        for r in results
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + summary + [""] + sections) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.profile", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the text report to write")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="diffusion")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prompt-length", type=int, default=832)
    parser.add_argument("--canvas-length", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timed", type=int, default=3)
    parser.add_argument("--profiled", type=int, default=1)
    parser.add_argument("--variants", default="lean", help=f"comma-separated, of {','.join(VARIANTS)}")
    parser.add_argument("--corpus", type=Path, help="cut batches from this corpus (needs --tokenizer)")
    parser.add_argument("--tokenizer", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ProfileConfig(
        objective=args.objective,
        shape=args.shape,
        batch_size=args.batch_size,
        prompt_length=args.prompt_length,
        canvas_length=args.canvas_length,
        warmup_steps=args.warmup,
        timed_steps=args.timed,
        profiled_steps=args.profiled,
        variants=tuple(v for v in args.variants.split(",") if v),
        device=args.device,
        seed=args.seed,
    )
    profile_training(cfg, args.out, args.corpus, args.tokenizer)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
