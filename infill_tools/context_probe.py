"""Does a model read its repository context? The denoising loss of the same holes with and without their block.

Holes are cut (``training.fim_examples``) from the Python files of the repository benchmark's workspaces
(``infill eval repo``'s vendored data, kept out of the training corpus), each given the block the language
server would send (``training.context_examples``, the workspace as the package); only holes that get a block
are kept. Each hole is scored twice with the same prefix, suffix, middle and noise: with the block in the
prompt's context slot and with the slot empty. A model that uses the context has a lower loss with it
(``delta`` = with - without < 0); the interval is a 95% t interval over (batch, noise seed) pairs. Far more
sensitive than exact match for a small model, and cheap on a CPU (~1 minute per model for 96 holes)::

    python -m infill_tools.context_probe engine/models/infill-small runs/ctx/model --json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import torch

from infill_tools.repo_data import DEFAULT_DATA, load_benchmark

T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 10: 2.23, 20: 2.09, 30: 2.04}  # two-sided, by df


def _t95(df: int) -> float:
    return T95[max(k for k in T95 if k <= df)] if df >= 1 else float("nan")


def paired_holes(tokenizer, data: Path, holes: int, seed: int, prefix_tokens: int, suffix_tokens: int,
                 canvas: int) -> list[tuple[list[int], list[int], list[int]]]:  # fmt: skip
    """``holes`` (prompt with the block, the same prompt without it, middle), FIM layout."""
    from training.context_examples import ContextBuilder, serving_budgets
    from training.fim_examples import FimRecipe, FimSampler

    workspaces, _ = load_benchmark(data)
    texts, places = [], []
    for repo, workspace in sorted(workspaces.items()):
        for path, text in sorted(workspace.files.items()):
            if path.endswith(".py") and len(text) > 200:
                texts.append((text, "python"))
                places.append((repo, path))
    if len(texts) < 2:
        raise ValueError(f"{data}: fewer than two Python files")
    budget, prefix_chars, suffix_chars = serving_budgets(prefix_tokens, suffix_tokens, 3.2)
    builder = ContextBuilder(texts, places, budget=budget, prefix_chars=prefix_chars, suffix_chars=suffix_chars)
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=prefix_tokens, max_suffix_tokens=suffix_tokens))
    rng = random.Random(seed)
    fim_prefix = tokenizer.special.fim_prefix
    out = []
    for _ in range(holes * 20):
        if len(out) == holes:
            break
        index = rng.randrange(len(texts))
        example = sampler.sample(texts[index][0], "python", canvas, rng, builder.hook(index, rng, tokenizer.encode))
        if example is None or not example.context:
            continue
        split = example.prompt.index(fim_prefix)
        bare = example.prompt[: split + 1] + example.prompt[split + 1 + len(example.context) :]
        out.append((example.prompt, bare, example.middle))
    return out


@torch.no_grad()
def probe(model_dir: Path, pairs, canvas: int, batch_size: int = 8, seeds: int = 2) -> dict:
    """The mean denoising loss of ``pairs`` with and without context under ``model_dir``, and their difference."""
    from engine.model.checkpoint import load_model
    from engine.prompt.tokenizer import InfillTokenizer
    from training.fim_examples import FimExample, collate
    from training.objectives import ObjectiveConfig, diffusion_loss

    special = InfillTokenizer.from_file(Path(model_dir) / "tokenizer.json").special
    model = load_model(model_dir, "cpu", torch.float32).model
    model.eval()
    cfg = ObjectiveConfig(ar_weight=0.0, self_conditioning_prob=0.0, noise_low_id=max(special.never_generated) + 1)
    with_context, without, deltas = [], [], []
    for start in range(0, len(pairs), batch_size):
        group = pairs[start : start + batch_size]
        for seed in range(seeds):
            losses = []
            for side in (0, 1):
                batch = collate([FimExample(p[side], p[2], "probe") for p in group], canvas, special.pad, special.eom)
                torch.manual_seed(1000 * start + seed)  # the same noise on both sides
                losses.append(diffusion_loss(model, batch, cfg)[1]["denoise"])
            with_context.append(losses[0])
            without.append(losses[1])
            deltas.append(losses[0] - losses[1])
    n = len(deltas)
    mean = sum(deltas) / n
    spread = _t95(n - 1) * math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1)) / math.sqrt(n) if n > 1 else 0.0
    return {"with_context": round(sum(with_context) / n, 4), "without": round(sum(without) / n, 4),
            "delta": round(mean, 4), "delta_95": [round(mean - spread, 4), round(mean + spread, 4)],
            "holes": len(pairs), "pairs": n}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.context_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="model directories (the first one's tokenizer cuts)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the repository benchmark's data")
    parser.add_argument("--holes", type=int, default=96)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prefix-tokens", type=int, default=256)
    parser.add_argument("--suffix-tokens", type=int, default=64)
    parser.add_argument("--canvas", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    args = parser.parse_args(argv)
    if args.holes < 2 or args.prefix_tokens < 2 or args.suffix_tokens < 0 or args.canvas < 2:
        parser.error("--holes, --prefix-tokens and --canvas must be >= 2, --suffix-tokens >= 0")
    from engine.prompt.tokenizer import InfillTokenizer

    torch.set_num_threads(1)
    tokenizer = InfillTokenizer.from_file(args.models[0] / "tokenizer.json")
    pairs = paired_holes(tokenizer, args.data, args.holes, args.seed, args.prefix_tokens, args.suffix_tokens,
                         args.canvas)  # fmt: skip
    if len(pairs) < 2:
        print(f"error: only {len(pairs)} holes got a context block", file=sys.stderr)
        return 2
    report = {str(model): probe(model, pairs, args.canvas) for model in args.models}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for model, row in report.items():
            low, high = row["delta_95"]
            print(f"{model}: loss with context {row['with_context']:.4f}, without {row['without']:.4f}, "
                  f"delta {row['delta']:+.4f} [{low:+.4f}, {high:+.4f}] over {row['holes']} holes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
