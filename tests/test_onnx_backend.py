"""The ONNX Runtime encoder and denoising step match the torch ones, and the core serves through them."""

from __future__ import annotations

import torch

from engine.core.kv import PromptKV
from engine.protocol import InfillRequest, InfillResult


def test_onnx_step_matches_torch_and_serves(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from engine.core.loading import load_core
    from engine.model.onnx_export import onnx_path_for
    from engine.model.onnx_runner import OnnxDenoiser, OnnxRunner

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

    # The encoder graph: the same caches as torch's chunked encode, cold and extending a cache past the
    # sliding window.
    from engine.model.onnx_runner import OnnxEncoder

    encoder = OnnxEncoder.for_model(tiny_model_dir, runner.text_config, chunk=29)
    prompt = list(range(20, 150))
    for base in (PromptKV(), runner.encode(PromptKV(), prompt[:75])):
        expected_kv, got_kv = runner.encode(base, prompt), encoder.encode(base, prompt)
        assert got_kv.ids == expected_kv.ids == prompt
        for a, b in zip(expected_kv.keys + expected_kv.values, got_kv.keys + got_kv.values, strict=True):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    assert len(encoder.encode(PromptKV(), prompt, budget=40).ids) == 40

    onnx_core = load_core(tiny_model_dir, backend="onnx")
    assert isinstance(onnx_core.runner, OnnxRunner) and onnx_core.runner.loaded.dtype == torch.float32
    assert onnx_core.welcome.backend == "onnx"
    onnx_core.add(InfillRequest("1", "def f(x):\n    return ", "\n", language="python", max_steps=3))
    results = []
    while onnx_core.has_work():
        results += [m for m in onnx_core.step() if isinstance(m, InfillResult)]
    assert len(results) == 1 and results[0].forward_passes >= 1
