"""``infill bench``: the engine's figures, each measured side by side in one run on the same model and inputs.

1. our engine vs transformers' ``generate()`` at the same step cap (time per fill, ratio);
2. warm single-line inline-completion latency through the language server at 1, 4 and 16 clients;
3. a request after one keystroke vs a cold request (the encoder cache at work);
4. tokens per forward pass on single- and multi-line holes, and pass@1 there vs one token per step;
5. torch vs ONNX Runtime time per denoising step (when an ONNX export is available).

Absolute times mean something only on the machine they were taken on; ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from engine.protocol import InfillRequest, InfillResult

CONTEXT_SOURCE = Path(__file__).with_name("core.py")


def context_text(tokenizer, tokens: int = 1024) -> str:
    """Real Python source of about ``tokens`` tokens, ending inside a function body (the cursor)."""
    source = CONTEXT_SOURCE.read_text()
    text = ""
    for line in source.splitlines(keepends=True):
        if len(tokenizer.encode(text + line)) > tokens - 24:
            break
        text += line
    return text + "\n\ndef summarize(values):\n    "


def _run(core, request: InfillRequest) -> tuple[InfillResult, float]:
    started = time.perf_counter()
    core.add(request)
    result = None
    while core.has_work():
        for message in core.step():
            if isinstance(message, InfillResult):
                result = message
    return result, (time.perf_counter() - started) * 1000


def bench_generate(core, text: str, steps: int, width: int, repeats: int) -> dict:
    """Time per fill: our engine vs ``model.generate()``, both cold, same prompt, step cap and canvas."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import EntropyBoundSamplerConfig

    model = core.runner.model
    special = core.special
    prompt = core._prompt(InfillRequest(0, text, "", language="python"))
    ids = torch.tensor([prompt], device=core.runner.device)
    sampler = core.config.sampler
    model.config.canvas_length = width
    gen_kwargs = dict(
        max_new_tokens=width, max_denoising_steps=steps,
        sampler_config=EntropyBoundSamplerConfig(entropy_bound=float(sampler.entropy_bound)),
        t_min=sampler.t_min, t_max=sampler.t_max, stability_threshold=1, confidence_threshold=0.05,
        eos_token_id=special.eom, pad_token_id=special.pad,
    )
    with torch.inference_mode():
        model.generate(input_ids=ids, **gen_kwargs)  # warm-up
        generate_ms, generate_passes = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            out = model.generate(input_ids=ids, **gen_kwargs)
            generate_ms.append((time.perf_counter() - started) * 1000)
            tpf = float(out.tokens_per_forward[0]) if getattr(out, "tokens_per_forward", None) is not None else 0.0
            generate_passes.append(tpf)
    _run(core, InfillRequest(10_000, text, "", language="python", max_steps=steps, canvas_lengths=(width,)))
    engine_ms, engine_steps = [], []
    for i in range(repeats):
        request = InfillRequest(10_001 + i, text, "", language="python", document_key=f"cold-{time.time()}-{i}",
                                max_steps=steps, canvas_lengths=(width,))
        result, elapsed = _run(core, request)
        engine_ms.append(elapsed)
        engine_steps.append(result.forward_passes)
    g, e = statistics.median(generate_ms), statistics.median(engine_ms)
    return {"step_cap": steps, "canvas": width, "prompt_tokens": len(prompt),
            "generate_ms": round(g, 1), "engine_ms": round(e, 1), "speedup": round(g / e, 2),
            "engine_steps": statistics.median(engine_steps),
            "generate_tokens_per_forward": round(statistics.fmean(generate_passes), 3)}


def bench_keystroke(core, text: str, repeats: int) -> dict:
    """A request after one typed character vs a cold request for the same hole."""
    cold, warm = [], []
    for i in range(repeats):
        key = f"doc-{time.time()}-{i}"
        result, elapsed = _run(core, InfillRequest(20_000 + 2 * i, text, "", language="python", document_key=key,
                                                   single_line=True))
        cold.append(elapsed)
        result, elapsed = _run(core, InfillRequest(20_001 + 2 * i, text + "r", "", language="python",
                                                   document_key=key, single_line=True))
        warm.append(elapsed)
        cached = result.cached_tokens / max(1, result.prompt_tokens)
    c, w = statistics.median(cold), statistics.median(warm)
    return {"cold_ms": round(c, 1), "after_keystroke_ms": round(w, 1), "ratio": round(w / c, 3),
            "cached_fraction": round(cached, 3)}


def bench_parallelism(core, problems: int) -> dict:
    """Tokens per forward and pass@1 with parallel decoding vs one token per step."""
    from engine.humaneval import DEFAULT_DATA, DiffusionFiller, evaluate, load_problems
    from engine.sampler import SamplerConfig

    out = {}
    single = load_problems(DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz", problems, 1033 // problems)
    span = load_problems(DEFAULT_DATA / "HumanEval-RandomSpanInfillingLight.jsonl.gz", problems, 164 // problems)
    default = core.config.sampler
    for name, sampler in (("parallel", default), ("one_per_step", SamplerConfig.one_token_per_step())):
        core.config.sampler = sampler
        for split, items, canvas, single_line in (("single_line", single, (16,), True),
                                                 ("multi_line", span, (64,), False)):
            steps = 64 if name == "one_per_step" else 0
            report = evaluate(items, DiffusionFiller(core, steps, canvas), single_line)
            out[f"{split}_{name}"] = {k: report[k] for k in ("problems", "pass@1", "tokens_per_forward",
                                                             "mean_forward_passes", "mean_latency_ms")}
    core.config.sampler = default
    return out


def bench_lsp(model_dir: str | None, text: str, clients: list[int], requests: int) -> list[dict]:
    """Warm inline-completion latency through ``infill serve`` processes sharing one engine process."""
    from infill_lsp.loadgen import run_editors

    directory = Path(tempfile.mkdtemp(prefix="infill-bench-", dir="/tmp"))
    directory.chmod(0o700)
    sock = directory / "engine.sock"
    command = [sys.executable, "-m", "engine", "--socket", str(sock), "--idle-exit", "120"]
    if model_dir:
        command += ["--model", str(model_dir)]
    engine = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            if sock.exists():
                break
            time.sleep(0.05)
        results = []
        for count in clients:
            results.append(asyncio.run(run_editors(str(sock), text, count, requests)))
            print(f"  lsp: {results[-1]}", file=sys.stderr)
        return results
    finally:
        engine.terminate()
        engine.wait(15)
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def bench_backends(core, text: str, width: int, repeats: int) -> dict:
    """Time per denoising step on each available backend, same cache and canvas."""
    from engine.kv import PromptKV

    runner = core.runner
    prompt = core._prompt(InfillRequest(0, text, "", language="python"))
    kv = runner.encode(PromptKV(), prompt)
    canvas = torch.randint(core.noise_low, runner.vocab_size, (1, width))
    out = {}
    runner.denoise(canvas, [kv], None)
    started = time.perf_counter()
    for _ in range(repeats):
        runner.denoise(canvas, [kv], None)
    out["torch_step_ms"] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    from engine.onnx_runner import OnnxDenoiser

    started = time.perf_counter()
    denoiser = OnnxDenoiser.for_model(runner.loaded.path).use_windows(runner.text_config)
    out["onnx_load_or_export_s"] = round(time.perf_counter() - started, 2)
    denoiser.denoise(canvas, kv)
    started = time.perf_counter()
    for _ in range(repeats):
        denoiser.denoise(canvas, kv)
    out["onnx_step_ms"] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    out["torch_over_onnx"] = round(out["torch_step_ms"] / out["onnx_step_ms"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infill bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory (default: the embedded model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clients", default="1,4,16", help="LSP client counts ('' to skip)")
    parser.add_argument("--lsp-requests", type=int, default=8, help="warm requests per client")
    parser.add_argument("--problems", type=int, default=40, help="benchmark problems per split (0 to skip)")
    parser.add_argument("--only", default="", help="comma list of parts: generate,keystroke,parallelism,lsp,backends")
    args = parser.parse_args(argv)
    from engine.core import load_core

    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    core = load_core(args.model, device=args.device)
    text = context_text(core.tokenizer)
    parts = set(filter(None, args.only.split(","))) or {"generate", "keystroke", "parallelism", "lsp", "backends"}
    report: dict = {"model": core.welcome.model_name, "device": core.welcome.device,
                    "torch_threads": torch.get_num_threads(), "trained": core.welcome.trained}
    if "generate" in parts:
        report["engine_vs_generate"] = bench_generate(core, text, steps=16, width=16, repeats=args.repeats)
        print(f"  generate: {report['engine_vs_generate']}", file=sys.stderr)
    if "keystroke" in parts:
        report["keystroke_vs_cold"] = bench_keystroke(core, text, args.repeats)
        print(f"  keystroke: {report['keystroke_vs_cold']}", file=sys.stderr)
    if "backends" in parts:
        report["backends"] = bench_backends(core, text, 16, args.repeats * 4)
        print(f"  backends: {report['backends']}", file=sys.stderr)
    if "parallelism" in parts and args.problems:
        report["parallel_decoding"] = bench_parallelism(core, args.problems)
        print(f"  parallelism: {report['parallel_decoding']}", file=sys.stderr)
    if "lsp" in parts and args.clients:
        counts = [int(x) for x in args.clients.split(",") if x]
        report["lsp_latency"] = bench_lsp(args.model, text, counts, args.lsp_requests)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
