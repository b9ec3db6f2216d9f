"""What a model directory must hold, checked without torch (the CLIs check --model before any work)."""

from __future__ import annotations

from pathlib import Path


class ModelDirError(FileNotFoundError):
    """A --model that is not a model directory; the message says what is missing."""


def check_model_dir(model_dir: str | Path) -> Path:
    """Return ``model_dir`` as a Path when it holds a config, safetensors weights and a tokenizer; raise
    ModelDirError (a FileNotFoundError) saying what is missing."""
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise ModelDirError(f"{path} is not a model directory (no config.json); --model takes a folder with "
                            "config.json, *.safetensors and tokenizer.json")
    if not any(path.glob("*.safetensors")):
        raise ModelDirError(f"{path} holds no .safetensors weights (other formats are refused)")
    if not (path / "tokenizer.json").is_file():
        raise ModelDirError(f"{path} holds no tokenizer.json")
    return path
