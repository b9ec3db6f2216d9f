"""Writing a trained model as a self-describing model directory the engine can serve (``engine.model.checkpoint``)."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

import torch

from engine.model.architecture import ModelShape
from engine.model.checkpoint import MODEL_CARD


def _corpus_fingerprint(corpus: Path | None) -> dict:
    if corpus is None:
        return {}
    info: dict = {"path": str(corpus)}
    manifest = corpus / "manifest.tsv"
    if manifest.is_file():
        info["manifest_sha256"] = hashlib.sha256(manifest.read_bytes()).hexdigest()
    summary = corpus / "corpus.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text())
            info["summary"] = {k: data[k] for k in ("files", "bytes", "languages", "licenses") if k in data}
        except (OSError, ValueError):
            pass
    return info


def export_model(
    model,
    shape: ModelShape,
    tokenizer_path: Path,
    out_dir: Path,
    *,
    corpus: Path | None = None,
    train_config: dict | None = None,
    summary: dict | None = None,
    trained: bool = True,
    name: str = "infill-small",
    max_shard_size: str = "15MB",
) -> Path:
    """Save ``model`` in fp16 safetensors shards with its tokenizer and a card describing how it was made."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    half = copy.deepcopy(model).to("cpu", dtype=torch.float16)
    half.save_pretrained(tmp, max_shard_size=max_shard_size, safe_serialization=True)
    tokenizer_path = Path(tokenizer_path)
    if tokenizer_path.is_dir():
        tokenizer_path = tokenizer_path / "tokenizer.json"
    shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
    card = {
        "format": 1,
        "name": name,
        "architecture": "DiffusionGemmaForBlockDiffusion",
        "objective": (train_config or {}).get("objective", "diffusion"),
        "trained": trained,
        "shape": shape.to_dict(),
        "dtype": "float16",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "train_config": train_config or {},
        "summary": summary or {},
        "corpus": _corpus_fingerprint(corpus),
        "torch_version": torch.__version__,
    }
    (tmp / MODEL_CARD).write_text(json.dumps(card, indent=2, default=str))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir

