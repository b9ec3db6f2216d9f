"""Weights dtype and device choice: bf16 where the hardware multiplies it natively, fp32 elsewhere."""

from __future__ import annotations

import pytest
import torch

from engine.core.loading import load_core
from engine.model import checkpoint as checkpoint_module
from engine.model.checkpoint import preferred_dtype, resolve_device, resolve_dtype
from engine.protocol import InfillRequest, InfillResult


def test_dtype_names_and_the_environment_override(monkeypatch):
    monkeypatch.delenv("INFILL_DTYPE", raising=False)
    assert resolve_dtype("float32", "cpu") is torch.float32
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    assert resolve_dtype(torch.float16, "cpu") is torch.float16
    assert resolve_dtype("auto", "cuda") is torch.bfloat16
    monkeypatch.setenv("INFILL_DTYPE", "float32")
    assert resolve_dtype("auto", "cuda") is torch.float32 and resolve_dtype(None, "cpu") is torch.float32
    monkeypatch.setenv("INFILL_DTYPE", "int3")
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("auto", "cpu")
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("fp8", "cpu")


def test_the_cpu_default_follows_its_bf16_support(monkeypatch):
    monkeypatch.setattr(checkpoint_module, "cpu_has_bf16_dot", lambda: True)
    assert preferred_dtype("cpu") is torch.bfloat16
    monkeypatch.setattr(checkpoint_module, "cpu_has_bf16_dot", lambda: False)
    assert preferred_dtype("cpu") is torch.float32
    assert preferred_dtype("cuda") is torch.bfloat16


def test_auto_device_is_the_cpu_without_a_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected and resolve_device(None) == expected
    assert resolve_device("cpu") == "cpu"


def test_a_bf16_core_serves_fills_close_to_the_fp32_one(tiny_model_dir):
    cores = {name: load_core(tiny_model_dir, dtype=name) for name in ("float32", "bfloat16")}
    assert cores["bfloat16"].runner.model.dtype == torch.bfloat16
    logits = {}
    for name, core in cores.items():
        kv = core.runner.encode(core.kv_store.lookup("", []), list(range(20, 120)))
        assert kv.keys[0].dtype == (torch.bfloat16 if name == "bfloat16" else torch.float32)
        canvas = torch.arange(200, 216)[None]
        logits[name] = core.runner.denoise(canvas, [kv], None)
        assert logits[name].dtype == torch.float32  # the sampler always reads fp32
        core.add(InfillRequest("1", "def f(x):\n    return ", "\n", language="python", max_steps=8))
        results = []
        while core.has_work():
            results += [m for m in core.step() if isinstance(m, InfillResult)]
        assert len(results) == 1 and results[0].steps >= 1
    # bf16 keeps 8 bits of mantissa: on a random tiny model the logits agree in shape, not digit for digit
    # (the trained model's argmax agreed at every position: `infill bench --only dtypes`).
    pair = torch.stack([logits["float32"].flatten(), logits["bfloat16"].flatten()])
    assert torch.corrcoef(pair)[0, 1] > 0.95
