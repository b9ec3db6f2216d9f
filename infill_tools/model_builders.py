"""Tiny untrained models for tests: a real DiffusionGemma model directory built in milliseconds."""

from __future__ import annotations

from pathlib import Path

SAMPLE_CODE = '''
def add(a, b):
    """Return the sum of a and b."""
    return a + b


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()


function greet(name) {
  return `hello ${name}`;
}

func Max(a, b int) int {
    if a > b {
        return a
    }
    return b
}

fn main() {
    let v: Vec<i32> = (0..10).collect();
    println!("{:?}", v);
}
'''


def build_tiny_model_dir(path: str | Path, vocab_size: int = 512, seed: int = 0, shape: str = "tiny") -> Path:
    """Write an untrained tiny model (weights, tokenizer, card) to ``path`` and return it."""
    import torch
    from transformers import DiffusionGemmaForBlockDiffusion

    from engine.model.architecture import SHAPES, ModelShape
    from training.export import export_model
    from training.tokenizer_train import train_tokenizer

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer([SAMPLE_CODE] * 20, vocab_size=vocab_size, min_frequency=1)
    tok_file = path.parent / f"{path.name}.tokenizer.json"
    tokenizer.save(str(tok_file))
    torch.manual_seed(seed)
    shape_obj = ModelShape(**{**SHAPES[shape].to_dict(), "vocab_size": tokenizer.get_vocab_size()})
    model = DiffusionGemmaForBlockDiffusion(shape_obj.to_config())
    export_model(model, shape_obj, tok_file, path, trained=False, name=f"{shape}-untrained")
    tok_file.unlink()
    return path
