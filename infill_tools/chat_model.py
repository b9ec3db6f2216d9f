"""Adapt the embedded model to DiffusionGemma-it's chat prompt, on this machine's CPU.

The chat format (``engine/prompt/formats.toml``) is what the published checkpoint is served with. Its figures that
depend on a model that has learned something (how many denoising steps a fill takes, and so the latency
after a keystroke against a cold request) cannot be taken on the random-weight test checkpoint, and the
published weights need a GPU. This command makes a small trained model that speaks the chat format:

1. the embedded model's tokenizer with its fill-in-the-middle tokens renamed to Gemma 4's turn markers
   (``<fim_prefix>`` -> ``<|turn>``, ``<eom>`` -> ``<turn|>``, the two others to unused names), so the
   engine detects the chat format and the end-of-fill embedding keeps its meaning;
2. ``infill train run --format chat --init-from engine/models/infill-small`` on a corpus of this
   environment's site-packages (built first when ``--corpus`` is not given), for ``--minutes``;
3. the published generation settings (48 steps, entropy bound 0.1, temperature 0.8 -> 0.4, stability 1,
   confidence 0.005), so the engine runs ``generate()``'s sampler, as for DiffusionGemma-it.

    python -m infill_tools.chat_model /tmp/chat-small --minutes 35
    infill bench --only keystroke --model /tmp/chat-small/model --device cpu --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infill_tools.published import generation_config
from training.fim_examples import FimRecipe
from training.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED = ROOT / "engine" / "models" / "infill-small"
# The embedded tokenizer's FIM tokens and the chat names they take (ids unchanged).
RENAMES = {"<fim_prefix>": "<|turn>", "<eom>": "<turn|>", "<fim_suffix>": "<unused7>", "<fim_middle>": "<unused8>"}


def chat_tokenizer(source: Path, out: Path) -> dict[str, int]:
    """Write ``source``'s tokenizer.json with ``RENAMES`` applied to ``out``; return the ids of the renamed
    tokens (by their new names) and of ``<eos>``."""
    data = json.loads(source.read_text(encoding="utf-8"))
    ids = {}
    for added in data["added_tokens"]:
        if added["content"] == "<eos>":
            ids["<eos>"] = added["id"]
        elif added["content"] in RENAMES:
            ids[RENAMES[added["content"]]] = added["id"]
            added["content"] = RENAMES[added["content"]]
    missing = {*RENAMES.values(), "<eos>"} - set(ids)
    if missing:
        raise ValueError(f"{source} lacks tokens the chat layout needs ({', '.join(sorted(missing))})")
    vocab = data["model"]["vocab"]
    for old, new in RENAMES.items():
        if old in vocab:
            vocab[new] = vocab.pop(old)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return ids


def finish_model_dir(model_dir: Path, end_id: int, eos_id: int) -> None:
    """Give an exported model the published generation settings, its end ids and its own name."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    ends = [eos_id, end_id]
    config["eos_token_id"] = ends
    config["text_config"]["eos_token_id"] = ends
    (model_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    generation = generation_config()  # the published sampling values
    generation.eos_token_id = ends
    generation.save_pretrained(model_dir)
    card_path = model_dir / "infill_model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["name"] = "infill-small-chat"
    card["adapted_from"] = "infill-small (engine/models/infill-small), FIM tokens renamed to chat turns"
    card_path.write_text(json.dumps(card, indent=2), encoding="utf-8")


def build_corpus(out: Path) -> Path:
    from training.corpus import main as corpus_main

    code = corpus_main(["build", "--sources-dir", "", "--out", str(out), "--max-compressed-mb", "6",
                        "--max-shard-mb", "6", "--seed", "0"])
    if code:
        raise SystemExit(f"building the corpus failed (exit {code})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.chat_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="run directory; the model is written to OUT/model")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time")
    parser.add_argument("--corpus", type=Path, help="a corpus from `infill train corpus build` "
                        "(default: build one of this environment's site-packages into OUT/corpus)")
    parser.add_argument("--init-from", type=Path, default=EMBEDDED)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out: Path = args.out
    ids = chat_tokenizer(args.init_from / "tokenizer.json", out / "tokenizer.json")
    corpus = args.corpus or (out / "corpus" if (out / "corpus").is_dir() else build_corpus(out / "corpus"))
    cfg = TrainConfig(
        shape="small", steps=100_000, batch_size=args.batch_size, lr=args.lr, warmup_steps=10, seed=args.seed,
        workers=1, eval_every=50, save_every=25, log_every=5, time_limit_s=args.minutes * 60,
        plan_steps_from_time=True, prompt_format="chat", init_from=str(args.init_from),
        recipe=FimRecipe(max_prefix_tokens=384, max_suffix_tokens=96, canvas_lengths=(16, 32, 64)),
    )
    summary = train(cfg, corpus, out / "tokenizer.json", out)
    finish_model_dir(out / "model", end_id=ids["<turn|>"], eos_id=ids["<eos>"])
    print(f"wrote {out / 'model'}: {summary['step']} steps, {summary['tokens']:,} tokens, "
          f"eval denoise loss {summary['final_eval'].get('denoise', float('nan')):.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
