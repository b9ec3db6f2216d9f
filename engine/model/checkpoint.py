"""Model directories: find and check one, read its card, choose the weights' dtype, load its weights.

A model directory holds ``config.json``, safetensors weights (one file or shards with an index),
``tokenizer.json`` and a card (``infill_model.json``) saying how it was made. A published checkpoint has
no card: its card is derived (named after the directory, trained). Loading never fetches and never runs
code from it, refuses before reading weights when the memory plan does not fit the device
(``engine.model.memory_plan``), and keeps no vision tower: the engine serves text.
Training writes these directories (``training.export``); serving reads them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.core.config import EngineConfig
from engine.model.files import check_model_dir
from engine.model.memory_plan import (
    MemoryPlan,
    count_text,
    fit_batch,
    plan_memory,
    quantization,
    read_config,
    require_fits,
)

log = logging.getLogger(__name__)

MODEL_CARD = "infill_model.json"

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(slots=True)
class LoadedModel:
    model: object
    card: dict
    path: Path
    dtype: torch.dtype
    device: torch.device
    plan: MemoryPlan | None = None
    vision_parameters_dropped: int = 0


def default_model_dir() -> Path:
    """The embedded model shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "models" / "infill-small"


def read_model_card(model_dir: str | Path) -> dict:
    """Return the card of a model directory ({} for a directory without one, e.g. a foreign checkpoint)."""
    path = Path(model_dir) / MODEL_CARD
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def model_card(model_dir: str | Path) -> dict:
    """The card of a model directory, or for one without a card (a published checkpoint) the card derived
    from it: named after the directory, trained."""
    card = read_model_card(model_dir)
    if card:
        return card
    return {"name": Path(model_dir).resolve().name, "trained": True, "derived": True}


def check_quantization_support(config) -> str:
    """The checkpoint's quantization method ('' for none); raise RuntimeError, in one line saying what to
    install, when transformers cannot load it here."""
    method = quantization(config)
    if method == "compressed-tensors" and importlib.util.find_spec("compressed_tensors") is None:
        raise RuntimeError(
            "this checkpoint is quantized with compressed-tensors (e.g. FP8), which needs the package: "
            "pip install compressed-tensors"
        )
    return method


def drop_vision_tower(model) -> int:
    """Remove the vision tower and its projection from a loaded model (text serving never calls them);
    return how many parameters went."""
    encoder = model.model.encoder
    dropped = 0
    for name in ("vision_tower", "embed_vision"):
        module = getattr(encoder, name, None)
        if module is not None:
            dropped += sum(p.numel() for p in module.parameters())
            setattr(encoder, name, None)
    return dropped


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


def load_model(model_dir: str | Path, device: str = "cpu", dtype: torch.dtype | str | None = None,
               config: EngineConfig | None = None) -> LoadedModel:
    """Load a DiffusionGemma checkpoint from a local directory; never fetches, never runs its code.

    Before any weight is read, the memory plan for ``config``'s budgets is checked against the device's
    free memory (MemoryPlanError when it does not fit). The vision tower is dropped before the weights
    move to the device, so it never takes device memory.
    """
    from transformers import DiffusionGemmaForBlockDiffusion

    path = check_model_dir(model_dir)
    torch_device = torch.device(device)
    dtype = resolve_dtype(dtype, torch_device)
    model_config = read_config(path)
    check_quantization_support(model_config)
    if config is not None:
        plan = fit_batch(model_config, dtype, config, torch_device)
    else:
        plan = plan_memory(model_config, dtype)
    require_fits(plan, torch_device)
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(
        path,
        dtype=dtype,
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=False,
        attn_implementation="sdpa",
    )
    dropped = drop_vision_tower(model)
    model.to(torch_device).eval()
    model.config.text_config._experts_implementation = "grouped_mm"
    counts = plan.counts
    log.info("loaded %s: %s parameters (%s text kept, %s active per token, %s vision dropped), %s on %s",
             path, count_text(counts.total), count_text(counts.text), count_text(counts.active),
             count_text(dropped), plan.dtype, torch_device)
    for line in plan.lines():
        log.info("memory plan: %s", line)
    return LoadedModel(model, model_card(path), path, dtype, torch_device, plan, dropped)
