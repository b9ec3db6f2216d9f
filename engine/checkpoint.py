"""Model directories: find and check one, read its card, choose the weights' dtype, load its weights.

A model directory holds ``config.json``, safetensors weights, ``tokenizer.json`` and a card
(``infill_model.json``) saying how it was made. Loading never fetches and never runs code from it.
Training writes these directories (``engine.training.export``); serving reads them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

MODEL_CARD = "infill_model.json"

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(slots=True)
class LoadedModel:
    model: object
    card: dict
    path: Path
    dtype: torch.dtype
    device: torch.device


def default_model_dir() -> Path:
    """The embedded model shipped inside the package."""
    return Path(__file__).parent / "models" / "infill-small"


def check_model_dir(model_dir: str | Path) -> Path:
    """Return ``model_dir`` as a Path when it holds a config and safetensors weights; raise FileNotFoundError."""
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a model directory (no config.json)")
    if not any(path.glob("*.safetensors")):
        raise FileNotFoundError(f"{path} holds no .safetensors weights (other formats are refused)")
    return path


def read_model_card(model_dir: str | Path) -> dict:
    """Return the card of a model directory ({} for a directory without one, e.g. a foreign checkpoint)."""
    path = Path(model_dir) / MODEL_CARD
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def resolve_device(device: str | None) -> str:
    """``auto`` / None -> cuda when torch sees a GPU, else cpu; anything else as given."""
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def cpu_has_bf16_dot() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX), as oneDNN then does."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def preferred_dtype(device: torch.device | str) -> torch.dtype:
    """The fastest dtype that keeps the model's fills: bf16 on GPUs and on CPUs with bf16 dot products.

    On the 2-core development CPU (AVX512-BF16) bf16 encoded a 1,014-token prompt 1.26-1.46x faster and ran
    a denoising step 1.35-1.6x faster than fp32, with the same argmax at every canvas position
    (``infill bench --only dtypes``; BENCHMARKS.md).
    """
    device = torch.device(device)
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16_dot()):
        return torch.bfloat16
    return torch.float32


def resolve_dtype(name: str | torch.dtype | None, device: torch.device | str) -> torch.dtype:
    """``auto`` / None -> ``$INFILL_DTYPE`` if set, else :func:`preferred_dtype`; otherwise a :data:`DTYPES` name."""
    if isinstance(name, torch.dtype):
        return name
    if name in (None, "", "auto"):
        name = os.environ.get("INFILL_DTYPE", "auto")
        if name in ("", "auto"):
            return preferred_dtype(device)
    if name not in DTYPES:
        raise ValueError(f"dtype must be auto or one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def load_model(model_dir: str | Path, device: str = "cpu", dtype: torch.dtype | str | None = None) -> LoadedModel:
    """Load a DiffusionGemma checkpoint from a local directory; never fetches, never runs its code."""
    from transformers import DiffusionGemmaForBlockDiffusion

    path = check_model_dir(model_dir)
    torch_device = torch.device(device)
    dtype = resolve_dtype(dtype, torch_device)
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(
        path,
        dtype=dtype,
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=False,
        attn_implementation="sdpa",
    )
    model.to(torch_device).eval()
    model.config.text_config._experts_implementation = "grouped_mm"
    return LoadedModel(model, read_model_card(path), path, dtype, torch_device)
