"""Loading a model directory into an EngineCore: the tokenizer, the prompt format, the weights on a device
with the torch or ONNX runner, and the sampling policy its ``generation_config.json`` asks for."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from engine.core.config import EngineConfig
from engine.core.engine_core import EngineCore
from engine.core.runner import Runner
from engine.core.sampler import GenerateConfig
from engine.model.checkpoint import check_model_dir, default_model_dir, load_model, resolve_device
from engine.prompt.formats import choose_format
from engine.prompt.tokenizer import InfillTokenizer


def load_core(model_dir: str | Path | None = None, device: str = "auto", backend: str = "torch",
              config: EngineConfig | None = None, dtype: str | torch.dtype | None = "auto") -> EngineCore:
    """Load a model directory (default: the embedded model) and return a core serving it.

    ``dtype``: ``auto`` (bf16 where the device multiplies it natively, else fp32), or a dtype name.
    """
    path = Path(model_dir) if model_dir else default_model_dir()
    if backend not in ("torch", "onnx", "auto"):
        raise ValueError(f"backend must be torch, onnx or auto, got {backend!r}")
    if backend == "onnx" and dtype in (None, "", "auto"):
        dtype = "float32"  # the exported graphs are fp32; torch's batched work must match their caches
    check_model_dir(path)
    tokenizer = InfillTokenizer.from_file(path)
    config = config or EngineConfig()
    choose_format(tokenizer, config.prompt_format, config.prompt_template).bind(tokenizer)  # refuse before loading
    loaded = load_model(path, device=resolve_device(device), dtype=dtype, config=config)
    card = loaded.card
    # "auto" is torch everywhere: on this project's 2-core CPU its step measured at or below ONNX Runtime's
    # (`infill bench --only backends`); ONNX stays a flag until a measurement says otherwise.
    runner: Runner
    if backend == "onnx":
        from engine.model.onnx_runner import OnnxRunner  # needs the onnx extra

        runner = OnnxRunner(loaded)
    else:
        from engine.model.torch_runner import TorchRunner

        runner = TorchRunner(loaded)
    return EngineCore(
        runner,
        tokenizer,
        config,
        model_name=card.get("name", path.name),
        trained=bool(card.get("trained", True)),
        canvas_length=int(getattr(loaded.model.config, "canvas_length", 0) or 0),
        generation=read_generation_config(path),
        edit_trained=float(card.get("train_config", {}).get("edit_fraction", 0) or 0) > 0,
    )


def read_generation_config(model_dir: Path) -> GenerateConfig | None:
    """The generate policy's settings from a model directory's ``generation_config.json``; None when it has
    none or sets no sampling value (the engine's own policy then runs)."""
    path = model_dir / "generation_config.json"
    if not path.is_file():
        return None
    return GenerateConfig.from_generation_config(json.loads(path.read_text(encoding="utf-8")))
