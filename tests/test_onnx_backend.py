"""The ONNX Runtime denoising step matches the torch one, and the core serves through it."""

from __future__ import annotations

import torch

from engine.kv import PromptKV
from engine.protocol import InfillRequest, InfillResult


def test_onnx_step_matches_torch_and_serves(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from engine.core import load_core
    from engine.onnx_runner import OnnxDenoiser, onnx_path_for

    core = load_core(tiny_model_dir, backend="torch")
    runner = core.runner
    kv = runner.encode(PromptKV(), list(range(20, 120)))  # longer than the tiny model's sliding window
    canvas = torch.randint(30, runner.vocab_size, (1, 8))
    denoiser = OnnxDenoiser.for_model(tiny_model_dir).use_windows(runner.text_config)
    assert onnx_path_for(tiny_model_dir).is_file()
    sc = torch.randn(1, 8, runner.vocab_size)
    for logits in (None, sc):
        expected = runner.denoise(canvas, [kv], logits)
        got = denoiser.denoise(canvas, kv, logits)
        assert torch.allclose(expected, got, atol=1e-3), (expected - got).abs().max()

    onnx_core = load_core(tiny_model_dir, backend="onnx")
    assert onnx_core.welcome.backend == "onnx"
    onnx_core.add(InfillRequest(1, "def f(x):\n    return ", "\n", language="python", max_steps=3))
    results = []
    while onnx_core.has_work():
        results += [m for m in onnx_core.step() if isinstance(m, InfillResult)]
    assert len(results) == 1 and results[0].forward_passes >= 1
