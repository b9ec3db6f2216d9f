"""``infill train``: train an infill model (diffusion or the AR baseline) from a corpus, resumably.

Batches are cut from corpus files by DataLoader workers; the loop runs AdamW with warmup and cosine decay
under bf16 autocast on a GPU (fp32 on a CPU), evaluates a fixed held-out set, checkpoints the full state
so a run resumes where it stopped, and stops cleanly at a wall-clock limit. The result is exported as a
self-describing model directory (fp16 safetensors shards, tokenizer, recipe, corpus hash, losses).

``--format`` trains on another prompt format of ``engine/prompt/formats.toml`` (the engine's own prompt code builds
the examples), and ``--init-from`` starts from a model directory's weights instead of random ones: together
they adapt a trained model to a format, for example the embedded model to DiffusionGemma-it's chat turns.

``--context-fraction`` is the share of examples whose prompt carries repository context built from the other
files of the same package, as the language server builds it (``training.context_examples``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from engine.model.architecture import SHAPES, ModelShape, count_parameters
from engine.prompt.tokenizer import InfillTokenizer
from training.edit_examples import EditSampler
from training.fim_examples import FimBatch, FimRecipe, FimSampler, collate, equal_length_batches
from training.git_edits import load_edit_cases
from training.objectives import OBJECTIVES, ObjectiveConfig


@dataclass(slots=True, kw_only=True)
class TrainConfig:
    objective: str = "diffusion"
    shape: str = "small"
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    workers: int = 2
    eval_every: int = 250
    eval_batches: int = 4
    save_every: int = 500
    log_every: int = 20
    time_limit_s: float = 0.0  # 0 = no limit; else stop (and save) before this many seconds
    plan_steps_from_time: bool = False  # set `steps` from the measured step time and the time limit
    plan_safety: float = 0.97  # fraction of the estimated steps to plan for (below 1 when sharing a GPU)
    plan_file: str = ""  # write the planned step count here
    steps_from: str = ""  # wait for another run's plan file and train the same number of steps
    lean_norms: bool = True  # kernels.use_lean_rms_norm: the same function, less activation memory
    compile: bool = False  # torch.compile each layer (kernels.compile_layers)
    prompt_format: str = "fim"  # a format of engine/prompt/formats.toml; "fim": the FIM layout of engine.prompt.fim
    init_from: str = ""  # a model directory whose weights the run starts from (same shape and vocabulary)
    edit_fraction: float = 0.0  # share of rows that are edit examples (training.edit_examples); diffusion only
    edit_data: str = ""  # real edits from git histories (training.git_edits), drawn for edit_data_share of edit rows
    edit_data_share: float = 0.25
    recipe: FimRecipe = field(default_factory=FimRecipe)
    objective_cfg: ObjectiveConfig = field(default_factory=ObjectiveConfig)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"TrainConfig.objective must be one of {sorted(OBJECTIVES)}, got {self.objective!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"TrainConfig.shape must be one of {sorted(SHAPES)}, got {self.shape!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("TrainConfig.steps and batch_size must be positive")
        if not 0.0 <= self.edit_fraction <= 1.0:
            raise ValueError(f"TrainConfig.edit_fraction must be in [0, 1], got {self.edit_fraction}")
        if self.edit_fraction and self.objective != "diffusion":
            raise ValueError("TrainConfig.edit_fraction needs the diffusion objective (the AR baseline has no canvas)")
        if not 0.0 <= self.edit_data_share <= 1.0:
            raise ValueError(f"TrainConfig.edit_data_share must be in [0, 1], got {self.edit_data_share}")
        if self.edit_data and not self.edit_fraction:
            raise ValueError("TrainConfig.edit_data needs an edit_fraction above 0")


def load_corpus_texts(corpus_dir: Path, max_files: int = 0) -> list[tuple[str, str]]:
    """Return (text, language) pairs of a corpus built by ``infill train corpus``."""
    return load_corpus_files(corpus_dir, max_files)[0]


def load_corpus_files(corpus_dir: Path, max_files: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the (text, language) pairs of a corpus and, in the same order, each file's (package key, path)."""
    from training.context_examples import package_key
    from training.shards import iter_records

    texts, places = [], []
    for record in iter_records(corpus_dir):
        texts.append((record["text"], record.get("language", "text")))
        places.append((package_key(record), record.get("path", "")))
        if max_files and len(texts) >= max_files:
            break
    if not texts:
        raise ValueError(f"corpus at {corpus_dir} holds no files")
    return texts, places


class FimBatches(torch.utils.data.IterableDataset):
    """An endless stream of collated FIM batches; each worker draws with its own seed.

    ``edit_fraction`` of the rows are edit examples (``training.edit_examples``): synthetic edits cut from the
    same files, or, for ``edit_data_share`` of them, real edits from ``edit_cases`` ((EditCase, language) pairs).
    """

    def __init__(
        self, texts, tokenizer_path: str, recipe: FimRecipe, batch_size: int, seed: int, buckets: int = 4,
        prompt_format: str = "fim", edit_fraction: float = 0.0, edit_cases=(), edit_data_share: float = 0.25,
        places: list[tuple[str, str]] | None = None, sampled: int = 0,
    ) -> None:
        self.texts = texts
        self.edit_fraction = edit_fraction
        self.edit_cases = list(edit_cases)
        self.edit_data_share = edit_data_share if self.edit_cases else 0.0
        self.places = places  # each text's (package key, path): context examples need them
        # Holes are cut from the first ``sampled`` texts only (0: all); the others are repository context only.
        sampled = sampled or len(texts)
        self.prompt_format = prompt_format
        self.buckets = buckets
        self.tokenizer_path = tokenizer_path
        self.recipe = recipe
        self.batch_size = batch_size
        self.seed = seed
        weights = [min(len(t), 16000) for t, _ in texts[:sampled]]
        total = float(sum(weights))
        acc, self.cumulative = 0.0, []
        for w in weights:
            acc += w / total
            self.cumulative.append(acc)

    def __iter__(self):
        import bisect

        info = torch.utils.data.get_worker_info()
        worker = info.id if info else 0
        rng = random.Random(self.seed * 1000 + worker)
        tokenizer = InfillTokenizer.from_file(self.tokenizer_path)
        fmt = bind_training_format(tokenizer, self.prompt_format)
        sampler = FimSampler(tokenizer, self.recipe, fmt)
        edits = EditSampler(tokenizer, self.recipe, fmt)
        builder = self._context_builder()
        if fmt is None:
            special, pad, end = tokenizer.special, tokenizer.special.pad, tokenizer.special.eom
        else:
            special, pad, end = None, tokenizer.token_id("<pad>") or 0, fmt.end_ids[0]
        while True:
            canvas = rng.choice(self.recipe.canvas_lengths)
            examples = []
            while len(examples) < self.batch_size * self.buckets:
                if self.edit_fraction and rng.random() < self.edit_fraction:
                    if rng.random() < self.edit_data_share:
                        case, language = rng.choice(self.edit_cases)
                        example = edits.example(case, language, canvas)
                    else:
                        _, (text, language) = self._draw(rng, bisect)
                        example = edits.sample(text, language, canvas, rng)
                else:
                    index, (text, language) = self._draw(rng, bisect)
                    hook = None
                    if builder is not None and rng.random() < self.recipe.context_fraction:
                        hook = builder.hook(index, rng, tokenizer.encode)
                    example = sampler.sample(text, language, canvas, rng, hook)
                if example is not None:
                    examples.append(example)
            # Batches of equal prompt length need no padding mask, so attention takes its fast kernels.
            for batch in equal_length_batches(examples, self.batch_size, special, fmt):
                yield collate(batch, canvas, pad, end)

    def _context_builder(self):
        """The repository-context builder over this stream's files; None when no example gets context."""
        if not self.places or self.recipe.context_fraction <= 0:
            return None
        from training.context_examples import ContextBuilder, serving_budgets

        recipe = self.recipe
        budget, prefix_chars, suffix_chars = serving_budgets(recipe.max_prefix_tokens, recipe.max_suffix_tokens,
                                                             recipe.chars_per_token)  # fmt: skip
        return ContextBuilder(self.texts, self.places, budget=budget, prefix_chars=prefix_chars,
                              suffix_chars=suffix_chars)  # fmt: skip

    def _draw(self, rng: random.Random, bisect) -> tuple[int, tuple[str, str]]:
        """A text to cut a hole from (weighted by length, among the first ``sampled``), and its index."""
        index = min(bisect.bisect_left(self.cumulative, rng.random()), len(self.cumulative) - 1)
        return index, self.texts[index]


def split_corpus(texts: list[tuple[str, str]], seed: int) -> tuple[list, list]:
    """The held-out and training files of a run with ``seed``: 1% (at least one file) held out."""
    texts = list(texts)
    random.Random(seed).shuffle(texts)
    held_out = max(1, len(texts) // 100)
    return texts[:held_out], texts[held_out:]


def bind_training_format(tokenizer: InfillTokenizer, name: str):
    """The bound prompt format a run trains on; None for the FIM layout (``engine.prompt.fim``)."""
    if name == "fim":
        return None
    from engine.prompt.formats import choose_format

    fmt = choose_format(tokenizer, name)  # refuses an unknown name, listing the known ones
    if fmt.suffix_on_canvas:
        raise ValueError(f"format {name!r} pins suffix tokens on the canvas; train on the format it extends")
    return fmt.bind(tokenizer)


def load_initial_weights(model, directory: Path) -> None:
    """Copy the weights of a model directory into ``model``; ValueError when the shapes differ."""
    from transformers import DiffusionGemmaForBlockDiffusion

    if not any(Path(directory).glob("*.safetensors")):
        raise ValueError(f"--init-from {directory}: no safetensors files there")
    source = DiffusionGemmaForBlockDiffusion.from_pretrained(str(directory), dtype=torch.float32).state_dict()
    own = model.state_dict()
    wrong = [k for k in own if k not in source or source[k].shape != own[k].shape]
    if wrong:
        found = tuple(source[wrong[0]].shape) if wrong[0] in source else "absent"
        raise ValueError(f"--init-from {directory}: its shape differs from the run's ({wrong[0]}: "
                         f"{found} vs {tuple(own[wrong[0]].shape)})")
    with torch.no_grad():
        for key, value in own.items():
            value.copy_(source[key])


def _wait_for_plan(path: Path, timeout_s: float = 600.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                return int(json.loads(path.read_text())["steps"])
            except (ValueError, KeyError):
                pass
        time.sleep(1.0)
    raise TimeoutError(f"no plan appeared at {path} within {timeout_s:.0f}s")


def build_model(shape: ModelShape, device: torch.device, lean_norms: bool = False, compile: bool = False):
    """Build the model with the fastest experts implementation that works on ``device``.

    ``lean_norms`` and ``compile`` swap in cheaper kernels for training (``training.kernels``);
    the weights and their state dict are the same either way.
    """
    from transformers import DiffusionGemmaForBlockDiffusion

    from training.kernels import compile_layers, use_lean_rms_norm

    config = shape.to_config("sdpa")
    model = DiffusionGemmaForBlockDiffusion(config).to(device)
    for impl in ("grouped_mm", "batched_mm", "eager"):
        config.text_config._experts_implementation = impl
        try:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                probe = model.model.encoder(input_ids=torch.full((2, 8), 20, device=device))
                probe.last_hidden_state.float().sum().backward()
            model.zero_grad(set_to_none=True)
            print(f"experts implementation: {impl}", file=sys.stderr)
            break
        except Exception as exc:  # noqa: BLE001 - any failure means: try the next implementation
            print(f"experts implementation {impl} failed: {exc}", file=sys.stderr)
    else:
        raise RuntimeError("no experts implementation works on this device")
    if lean_norms:
        use_lean_rms_norm(model)
    if compile:
        compile_layers(model)
    return model


def build_optimizer(model, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over the text weights (each tied tensor once), without weight decay on vectors."""
    decay, no_decay = [], []
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen or not p.requires_grad or "vision" in name:
            continue
        seen.add(id(p))
        (decay if p.ndim >= 2 else no_decay).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
        fused=device.type == "cuda",
    )


def autocast_for(device: torch.device):
    """The training autocast context: bf16 on a GPU, plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _log(record: dict, log_file) -> None:
    line = json.dumps(record)
    print(line, flush=True)
    if log_file is not None:
        log_file.write(line + "\n")
        log_file.flush()


def _save_state(path: Path, model, optimizer, step: int, tokens: int, cfg: TrainConfig, history: list) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "tokens": tokens,
            "config": asdict(cfg),
            "history": history,
            "rng": torch.get_rng_state(),
        },
        tmp,
    )
    os.replace(tmp, path)


def train_step(model, optimizer, objective, batch: FimBatch, cfg: TrainConfig, autocast):
    """One optimizer step on ``batch``; return the objective's stats and the gradient norm (a tensor).

    The parts are labelled for ``torch.profiler`` (``training.profile``).
    """
    with autocast():
        loss, stats = objective(model, batch, cfg.objective_cfg)
    optimizer.zero_grad(set_to_none=True)
    with torch.profiler.record_function("step:backward"):
        loss.backward()
    with torch.profiler.record_function("step:optimizer"):
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
    return stats, grad_norm


@torch.no_grad()
def evaluate(model, batches: list[FimBatch], cfg: TrainConfig, device, autocast,
             edit_batches: list[FimBatch] = ()) -> dict[str, float]:
    """Mean losses on the held-out fill batches, and on the held-out edit batches as ``edit_*``."""
    model.eval()
    totals: dict[str, float] = {}
    state = torch.get_rng_state()
    torch.manual_seed(1234)  # the same noise for every evaluation
    for label, group in (("", batches), ("edit_", edit_batches)):
        for batch in group:
            with autocast():
                _, stats = OBJECTIVES[cfg.objective](model, batch.to(device), cfg.objective_cfg)
            for key, value in stats.items():
                totals[label + key] = totals.get(label + key, 0.0) + value / len(group)
    torch.set_rng_state(state)
    model.train()
    return totals


def train(cfg: TrainConfig, corpus: Path, tokenizer_path: Path, out: Path, device_name: str = "auto") -> dict:
    """Train per ``cfg``; checkpoints under ``out/state.pt``; export the model to ``out/model``."""
    device = torch.device(device_name if device_name != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = InfillTokenizer.from_file(tokenizer_path)
    shape = SHAPES[cfg.shape]
    shape = ModelShape(**{**shape.to_dict(), "vocab_size": tokenizer.vocab_size})
    fmt = bind_training_format(tokenizer, cfg.prompt_format)
    if fmt is None:
        cfg.objective_cfg.noise_low_id = max(tokenizer.special.never_generated) + 1
    else:
        cfg.objective_cfg.noise_low_id = fmt.noise_low
    model = build_model(shape, device, lean_norms=cfg.lean_norms, compile=cfg.compile)
    params = count_parameters(model)
    optimizer = build_optimizer(model, cfg, device)
    state_path = out / "state.pt"
    step, tokens, history = 0, 0, []
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, tokens, history = state["step"], state["tokens"], state["history"]
        cfg.steps = max(cfg.steps, state["config"]["steps"]) if not cfg.plan_steps_from_time else cfg.steps
        print(f"resumed from {state_path} at step {step}", file=sys.stderr)
    elif cfg.init_from:
        load_initial_weights(model, Path(cfg.init_from))
        print(f"starting from the weights of {cfg.init_from}", file=sys.stderr)

    if cfg.steps_from:
        cfg.steps = _wait_for_plan(Path(cfg.steps_from))
    texts, places = load_corpus_files(corpus)
    order = list(range(len(texts)))
    random.Random(cfg.seed).shuffle(order)
    texts, places = [texts[i] for i in order], [places[i] for i in order]
    held_out = max(1, len(texts) // 100)
    # A held-out file is never context for a training example (the encoder's loss reads the prompt); held-out
    # holes take context from every file, so they carry it as often as training holes do.
    eval_texts, train_texts = texts[:held_out], texts[held_out:]
    eval_stream = iter(FimBatches(texts, str(tokenizer_path), cfg.recipe, cfg.batch_size, seed=999,
                                  prompt_format=cfg.prompt_format, places=places, sampled=held_out))
    eval_batches = [next(eval_stream) for _ in range(cfg.eval_batches)]
    edit_eval_batches = []
    if cfg.edit_fraction:  # the held-out files' synthetic edits, scored apart from the fills
        edit_stream = iter(FimBatches(eval_texts, str(tokenizer_path), cfg.recipe, cfg.batch_size, seed=998,
                                      prompt_format=cfg.prompt_format, edit_fraction=1.0))
        edit_eval_batches = [next(edit_stream) for _ in range(cfg.eval_batches)]
    edit_cases = load_edit_cases(Path(cfg.edit_data)) if cfg.edit_data else []
    stream = FimBatches(train_texts, str(tokenizer_path), cfg.recipe, cfg.batch_size, seed=cfg.seed + step,
                        prompt_format=cfg.prompt_format, edit_fraction=cfg.edit_fraction, edit_cases=edit_cases,
                        edit_data_share=cfg.edit_data_share, places=places[held_out:])
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if cfg.workers else None,
        persistent_workers=False,
    )

    def autocast():
        return autocast_for(device)

    log_file = (out / "train_log.jsonl").open("a")
    _log({"event": "start", "step": step, "params": params, "device": str(device), "config": asdict(cfg),
          "train_files": len(train_texts), "eval_files": len(eval_texts)}, log_file)
    objective = OBJECTIVES[cfg.objective]
    if step == 0 and cfg.init_from:  # where the starting weights stand, for the run's figures to compare with
        ev = evaluate(model, eval_batches, cfg, device, autocast, edit_eval_batches)
        history.append({"step": 0, "tokens": 0, **ev})
        _log({"event": "eval", "step": 0, **{k: round(v, 4) for k, v in ev.items()}}, log_file)
    model.train()
    started = time.monotonic()
    window_start, window_tokens, window_steps = started, 0, 0
    planned = not cfg.plan_steps_from_time
    calibration_start, calibration_step = started, 0
    last_stats: dict[str, float] = {}
    for batch in loader:
        if step >= cfg.steps:
            break
        elapsed = time.monotonic() - started
        if cfg.time_limit_s and elapsed > cfg.time_limit_s:
            _log({"event": "time_limit", "step": step, "elapsed_s": elapsed}, log_file)
            break
        # Plan the step count from the measured step time: a first estimate over steps 10-40, then a
        # final one over steps 100-200, past the warm-up (kernel autotuning, loader start) that made the
        # first estimate of the 2026-11-23 run 40% short. The cosine schedule follows the final plan.
        if not planned and step in (10, 100):
            calibration_start, calibration_step = time.monotonic(), step
        if not planned and step in (40, 200) and cfg.time_limit_s:
            per_step = (time.monotonic() - calibration_start) / (step - calibration_step)
            cfg.steps = step + int((cfg.time_limit_s - elapsed) / per_step * cfg.plan_safety)
            planned = step == 200 or cfg.steps <= 200
            _log({"event": "planned", "steps": cfg.steps, "step_s": per_step, "final": planned}, log_file)
            if cfg.plan_file and planned:
                Path(cfg.plan_file).write_text(json.dumps({"steps": cfg.steps}))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch_tokens = batch.tokens  # counted on the host, before the batch moves
        stats, grad_norm = train_step(model, optimizer, objective, batch.to(device), cfg, autocast)
        step += 1
        tokens += batch_tokens
        window_tokens += batch_tokens
        window_steps += 1
        last_stats = stats
        if step % cfg.log_every == 0:
            now = time.monotonic()
            _log({"step": step, "lr": round(lr_at(step, cfg), 6), "grad_norm": round(float(grad_norm), 3),
                  "tokens": tokens, "tok_per_s": round(window_tokens / (now - window_start)),
                  **{k: round(v, 4) for k, v in stats.items()}}, log_file)
            window_start, window_tokens, window_steps = now, 0, 0
        if step % cfg.eval_every == 0:
            ev = evaluate(model, eval_batches, cfg, device, autocast, edit_eval_batches)
            history.append({"step": step, "tokens": tokens, **ev})
            _log({"event": "eval", "step": step, **{k: round(v, 4) for k, v in ev.items()}}, log_file)
        if step % cfg.save_every == 0:
            _save_state(state_path, model, optimizer, step, tokens, cfg, history)
    final_eval = evaluate(model, eval_batches, cfg, device, autocast, edit_eval_batches)
    history.append({"step": step, "tokens": tokens, **final_eval})
    _save_state(state_path, model, optimizer, step, tokens, cfg, history)
    summary = {"event": "done", "step": step, "tokens": tokens, "final_eval": final_eval,
               "final_train": last_stats, "elapsed_s": time.monotonic() - started, "params": params}
    _log(summary, log_file)
    log_file.close()
    from training.export import export_model

    export_model(model, shape, tokenizer_path, out / "model", corpus=corpus, train_config=asdict(cfg),
                 summary=summary)
    return summary


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infill train run", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="diffusion")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=0.0, help="seconds; stop and save before it")
    parser.add_argument("--plan-from-time", action="store_true", help="derive --steps from the time limit")
    parser.add_argument("--plan-safety", type=float, default=0.97)
    parser.add_argument("--plan-file", default="", help="write the planned step count here")
    parser.add_argument("--steps-from", default="", help="take --steps from another run's plan file")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--max-prefix-tokens", type=int, default=640)
    parser.add_argument("--max-suffix-tokens", type=int, default=192)
    parser.add_argument("--canvas-lengths", default="16,32,64")
    parser.add_argument("--context-fraction", type=_fraction, default=FimRecipe().context_fraction, metavar="X",
                        help="share of examples whose prompt carries repository context from the other files of "
                             "their package, built as the language server builds it (0 to 1; default %(default)s)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--format", default="fim", help="prompt format to train on (engine/prompt/formats.toml; fim: "
                        "the embedded model's layout)")
    parser.add_argument("--init-from", type=Path, help="start from this model directory's weights")
    parser.add_argument("--reference-ops", action="store_true",
                        help="the model's own RMSNorm and full fp32 logits instead of the lean kernels")
    parser.add_argument("--compile", action="store_true", help="torch.compile each layer (minutes of warm-up)")
    parser.add_argument("--edit-fraction", type=float, default=0.0,
                        help="share of rows that are edit examples: the canvas starts from the text before an edit")
    parser.add_argument("--edit-data", type=Path, help="real edits from `python -m training.git_edits build`")
    parser.add_argument("--edit-data-share", type=float, default=0.25,
                        help="share of edit rows drawn from --edit-data (the rest are synthetic)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = _config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    train(cfg, args.corpus, args.tokenizer, args.out, args.device)
    return 0


def _config_from(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        objective=args.objective,
        shape=args.shape,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=args.warmup,
        workers=args.workers,
        seed=args.seed,
        time_limit_s=args.time_limit,
        plan_steps_from_time=args.plan_from_time,
        plan_safety=args.plan_safety,
        plan_file=args.plan_file,
        steps_from=args.steps_from,
        eval_every=args.eval_every,
        save_every=args.save_every,
        log_every=args.log_every,
        lean_norms=not args.reference_ops,
        compile=args.compile,
        prompt_format=args.format,
        init_from=str(args.init_from or ""),
        edit_fraction=args.edit_fraction,
        edit_data=str(args.edit_data or ""),
        edit_data_share=args.edit_data_share,
        objective_cfg=ObjectiveConfig(fused_lm_loss=not args.reference_ops),
        recipe=FimRecipe(
            max_prefix_tokens=args.max_prefix_tokens,
            max_suffix_tokens=args.max_suffix_tokens,
            canvas_lengths=tuple(int(x) for x in args.canvas_lengths.split(",")),
            context_fraction=args.context_fraction,
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
