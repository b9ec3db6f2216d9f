"""The full-size GPU benchmark's code path, run at tiny size on the CPU (the GPU run is recorded in BENCHMARKS.md)."""

from __future__ import annotations

import json

import pytest
import torch


def test_gpu_bench_runs_on_a_tiny_shape(capsys):
    from infill_tools.gpu_bench import main

    assert main(["--shape", "tiny", "--device", "cpu", "--prompt", "40", "--batches", "1,2", "--canvases", "8",
                 "--steps", "1", "--ar-tokens", "4", "--generate-steps", "3"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{\n"):])
    assert [row["batch"] for row in report["steps"]] == [1, 2]
    assert report["ar_tokens_per_s_batch1"] > 0
    versus = report["engine_vs_generate"]
    assert versus["engine_ms"] > 0 and versus["generate_ms"] > 0 and 1 <= versus["engine_passes"] <= 3


def test_full_size_shape_matches_the_published_parameter_counts():
    from transformers import DiffusionGemmaForBlockDiffusion

    from engine.model.architecture import count_parameters
    from infill_tools.gpu_bench import SHAPES

    with torch.device("meta"):
        model = DiffusionGemmaForBlockDiffusion(SHAPES["diffusiongemma-26b-a4b"].to_config())
    counts = count_parameters(model)
    assert 24e9 < counts["total"] < 27e9 and 3.5e9 < counts["active"] < 4.2e9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_bench_small_shape_on_cuda():
    from infill_tools.gpu_bench import main

    assert main(["--shape", "small", "--device", "cuda", "--batches", "1", "--canvases", "32", "--steps", "2"]) == 0
