"""Training at toy scale on the CPU: both objectives run, loss goes down, checkpoints resume, export loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.training.fim_examples import FimRecipe, FimSampler, collate
from engine.training.shards import plan_shards, record_line, write_shards

SOURCE = '''
def scale(values, factor):
    """Multiply every value by factor."""
    return [v * factor for v in values]


def total(values):
    result = 0
    for value in values:
        result += value
    return result


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self, by=1):
        self.count += by
        return self.count
'''


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory) -> tuple[Path, Path]:
    from engine.training.tokenizer_train import train_tokenizer

    root = tmp_path_factory.mktemp("toy")
    records = [
        {"text": SOURCE.replace("value", name), "language": "python", "package": "toy", "version": "0",
         "license": "MIT", "path": f"toy/{i}.py", "sha256": str(i)}
        for i, name in enumerate(["value", "item", "entry", "x", "number", "elem"] * 4)
    ]
    lines = [record_line(r) for r in records]
    write_shards(root / "corpus", lines, plan_shards([len(x) for x in lines], 1 << 20))
    tokenizer = train_tokenizer([r["text"] for r in records], vocab_size=400, min_frequency=1)
    tokenizer.save(str(root / "tokenizer.json"))
    return root / "corpus", root / "tokenizer.json"


def test_fim_examples_fit_the_canvas_and_rebuild_the_file(toy_corpus):
    import random

    from engine.tokenizer import InfillTokenizer

    tokenizer = InfillTokenizer.from_file(toy_corpus[1])
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=400))
    rng = random.Random(0)
    special = tokenizer.special
    for _ in range(50):
        example = sampler.sample(SOURCE, "python", 16, rng)
        assert example is not None and len(example.middle) < 16
        prompt = example.prompt
        assert prompt[:3] == [special.bos, special.languages["python"], special.fim_suffix]
        assert prompt[-1] == special.fim_middle
        split = prompt.index(special.fim_prefix)
        suffix, prefix = prompt[3:split], prompt[split + 1 : -1]
        assert tokenizer.decode(prefix) + tokenizer.decode(example.middle) + tokenizer.decode(suffix) == SOURCE
    batch = collate([sampler.sample(SOURCE, "python", 16, rng) for _ in range(4)], 16, special.pad, special.eom)
    assert batch.canvas_ids.shape == (4, 16)
    assert (batch.canvas_ids[torch.arange(4), batch.middle_lengths] == special.eom).all()


@pytest.mark.parametrize("objective", ["diffusion", "ar"])
def test_toy_training_reduces_loss_resumes_and_exports(toy_corpus, tmp_path, objective):
    import engine.architecture as arch
    from engine.training.train import TrainConfig, train

    corpus, tokenizer = toy_corpus
    cfg = TrainConfig(objective=objective, shape="tiny", steps=30, batch_size=8, lr=3e-3, warmup_steps=3,
                      workers=0, eval_every=30, save_every=10, log_every=10,
                      recipe=FimRecipe(max_prefix_tokens=96, max_suffix_tokens=32, canvas_lengths=(16,)))
    summary = train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r and "event" not in r]
    assert losses[-1] < losses[0]
    assert summary["step"] == 30
    # Resuming continues from the saved state instead of starting over.
    cfg.steps = 35
    summary2 = train(cfg, corpus, tokenizer, tmp_path / "run", "cpu")
    assert summary2["step"] == 35 and summary2["tokens"] > summary["tokens"]
    card = json.loads((tmp_path / "run" / "model" / "infill_model.json").read_text())
    assert card["objective"] == objective and card["shape"]["num_experts"] == arch.SHAPES["tiny"].num_experts
    assert card["summary"]["tokens"] == summary2["tokens"]
    from engine.runner import load_model

    loaded = load_model(tmp_path / "run" / "model")
    from engine.tokenizer import InfillTokenizer

    assert loaded.model.config.text_config.vocab_size == InfillTokenizer.from_file(tokenizer).vocab_size
    assert all(p.stat().st_size < 16 * 1024 * 1024 for p in (tmp_path / "run" / "model").glob("*.safetensors"))
