"""``infill bench``: the engine's figures, each measured side by side in one run on the same model and inputs.

1. our engine vs transformers' ``generate()`` at the same step cap (time per fill, ratio);
2. warm single-line inline-completion latency through the language server at 1, 4 and 16 clients;
3. a request after one keystroke vs a cold request (the encoder cache at work);
4. tokens per forward pass on single- and multi-line holes, and pass@1 there vs one token per step;
5. torch vs ONNX Runtime time per denoising step (with the ``onnx`` extra installed);
6. ``typing`` (only when named in ``--only``: it replays minutes of typing per run): the latency from the
   last keystroke before a pause to the suggestion, per editor client and waiting policy
   (``infill_tools/typing_bench.py``), and the first fill after a cursor jump and a pause with warming off and on
   (``--jumps``); ``anchor``: the engine cache's share of the prompt when the cursor moves; ``carry`` (only
   when named): typed text carried on the canvas vs encoded, paired on the same holes
   (``infill_tools/carry_bench.py``);
7. ``replicas`` (only when named: it starts a local Ray cluster; the ``serve`` extra): the HTTP API on Ray
   Serve with 2 engine replicas vs 1 under the same load (``infill_tools/ray_bench.py``).

Absolute times mean something only on the machine they were taken on; ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

import engine.core.engine_core
from engine.host.launch import ONNX_EXTRA_MISSING, EngineLaunch, onnx_available
from engine.protocol import InfillRequest, InfillResult
from infill_lsp.json_stdout import stdout_to_stderr
from infill_tools.carry_bench import bench_carry
from infill_tools.typing_bench import bench_anchor, bench_jumps, bench_typing
from infill_tools.typing_traces import default_sources

CONTEXT_SOURCE = Path(engine.core.engine_core.__file__)  # real Python source for prompts: the engine core itself


def bench_context(tokenizer, prefix_tokens: int = 760, suffix_tokens: int = 256) -> tuple[str, str]:
    """Real Python source around a hole: ~``prefix_tokens`` before the cursor, ``suffix_tokens`` or more after.

    The cursor starts the body of a new method, written between two methods of ``engine/core/engine_core.py``, so the
    engine sees a full context on both sides (1024 tokens with the defaults: the engine's budget).
    """
    lines = CONTEXT_SOURCE.read_text().splitlines(keepends=True)

    def count(chunk: list[str]) -> int:
        return len(tokenizer.encode("".join(chunk)))

    for cut, line in enumerate(lines):
        if not line.startswith("    def ") or count(lines[:cut]) < prefix_tokens or count(lines[cut:]) < suffix_tokens:
            continue
        hole = "    def summarize(self, values):\n        "
        first = cut
        while first > 0 and count(lines[first - 1 : cut]) + len(tokenizer.encode(hole)) <= prefix_tokens:
            first -= 1
        return "".join(lines[first:cut]) + hole, "\n\n" + "".join(lines[cut:])
    raise RuntimeError(f"{CONTEXT_SOURCE} is too short for a {prefix_tokens}+{suffix_tokens}-token context")


def _run(core, request: InfillRequest) -> tuple[InfillResult, float]:
    started = time.perf_counter()
    core.add(request)
    result = None
    while core.has_work():
        for message in core.step():
            if isinstance(message, InfillResult):
                result = message
    return result, (time.perf_counter() - started) * 1000


def bench_generate(core, context: tuple[str, str], steps: int, width: int, repeats: int) -> dict:
    """Time per fill: our engine vs ``model.generate()``, same model, prompt, step cap and canvas.

    Cold: both encode the whole prompt. After a keystroke: the engine's document cache holds the prompt
    as it was one character earlier (an editor's usual request); ``generate()`` has no such cache.
    """
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import EntropyBoundSamplerConfig

    prefix, suffix = context
    model = core.runner.model
    special = core.tokenizer.special
    prompt = core._prompt(InfillRequest("0", prefix, suffix, language="python"))
    ids = torch.tensor([prompt], device=core.runner.device)
    sampler = core.config.sampler
    model.config.canvas_length = width
    gen_kwargs = dict(
        max_new_tokens=width, max_denoising_steps=steps,
        sampler_config=EntropyBoundSamplerConfig(entropy_bound=float(sampler.entropy_bound)),
        t_min=sampler.t_min, t_max=sampler.t_max, stability_threshold=1, confidence_threshold=0.05,
        eos_token_id=special.eom, pad_token_id=special.pad,
    )

    def request(rid: int, key: str, text: str) -> InfillRequest:
        return InfillRequest(str(rid), text, suffix, language="python", document_key=key, max_steps=steps,
                             canvas_lengths=(width,))

    with torch.inference_mode():
        model.generate(input_ids=ids, **gen_kwargs)  # warm-up
    _run(core, request(10_000, "", prefix))
    generate_ms, generate_tpf, cold_ms, cold_steps, warm_ms, warm_steps = [], [], [], [], [], []
    for i in range(repeats):  # interleaved, so a noisy spell hits all three alike
        with torch.inference_mode():
            started = time.perf_counter()
            out = model.generate(input_ids=ids, **gen_kwargs)
            generate_ms.append((time.perf_counter() - started) * 1000)
        if getattr(out, "tokens_per_forward", None) is not None:
            generate_tpf.append(float(out.tokens_per_forward[0]))
        result, elapsed = _run(core, request(10_001 + 3 * i, f"cold-{time.time()}-{i}", prefix))
        cold_ms.append(elapsed)
        cold_steps.append(result.forward_passes)
        key = f"warm-{time.time()}-{i}"
        _run(core, request(10_002 + 3 * i, key, prefix[:-1]))
        result, elapsed = _run(core, request(10_003 + 3 * i, key, prefix))
        warm_ms.append(elapsed)
        warm_steps.append(result.forward_passes)
    g, c, w = (statistics.median(x) for x in (generate_ms, cold_ms, warm_ms))
    return {"step_cap": steps, "canvas": width, "prompt_tokens": len(prompt),
            "generate_ms": round(g, 1), "engine_cold_ms": round(c, 1), "speedup_cold": round(g / c, 2),
            "engine_after_keystroke_ms": round(w, 1), "speedup_after_keystroke": round(g / w, 2),
            "engine_steps_cold": statistics.median(cold_steps),
            "engine_steps_after_keystroke": statistics.median(warm_steps),
            "generate_tokens_per_forward": round(statistics.fmean(generate_tpf), 3) if generate_tpf else None}


def bench_keystroke(core, context: tuple[str, str], repeats: int) -> dict:
    """A request after one typed character vs a cold request for the same hole (single-line canvas).

    The typed character is ``r``: it may or may not agree with the fill the cold request produced, so the
    figure shows the encoder cache alone; ``agreeing`` types the first character of that fill instead,
    as a user accepting it letter by letter does (the engine then seeds the canvas with the rest).
    """
    prefix, suffix = context
    out = {}
    for mode in ("r", "agreeing"):
        cold, warm, cached, steps, cold_steps = [], [], [], [], []
        for i in range(repeats):
            key = f"doc-{mode}-{time.time()}-{i}"
            first, elapsed = _run(core, InfillRequest(str(20_000 + 2 * i), prefix, suffix, language="python",
                                                      document_key=key, single_line=True))
            cold.append(elapsed)
            cold_steps.append(first.forward_passes)
            typed = "r"
            if mode == "agreeing":
                shown = first.candidates[0].text if first.candidates else ""
                typed = shown[:1] if shown[:1].strip() else "r"
            result, elapsed = _run(core, InfillRequest(str(20_001 + 2 * i), prefix + typed, suffix, language="python",
                                                       document_key=key, single_line=True))
            warm.append(elapsed)
            cached.append(result.cached_tokens / max(1, result.prompt_tokens))
            steps.append(result.forward_passes)
        c, w = statistics.median(cold), statistics.median(warm)
        name = "" if mode == "r" else "agreeing_"
        out.update({f"{name}cold_ms": round(c, 1), f"{name}after_keystroke_ms": round(w, 1),
                    f"{name}ratio": round(w / c, 3), f"{name}cached_fraction": round(min(cached), 3),
                    f"{name}steps_after_keystroke": statistics.median(steps),
                    f"{name}steps_cold": statistics.median(cold_steps)})
    return out


def bench_burst(core, context: tuple[str, str], documents: int, repeats: int) -> dict:
    """Keystroke requests from ``documents`` documents arriving together: their encoder passes batched
    (``encode_batch``, the default) vs one document at a time. Time until every fill is done (4-step cap)."""
    prefix, suffix = context
    runner = core.runner
    times: dict[str, list[float]] = {"batched_ms": [], "one_by_one_ms": []}
    for rep in range(repeats):
        for mode in times:
            keys = [f"burst-{mode}-{rep}-{i}-{time.time()}" for i in range(documents)]
            texts = [prefix + f"# note {i}\n        " for i in range(documents)]
            for i, (key, text) in enumerate(zip(keys, texts, strict=True)):
                _run(core, InfillRequest(str(30_000 + i), text, suffix, language="python", document_key=key,
                                         single_line=True, max_steps=4))
            if mode == "one_by_one_ms":
                runner.encode_batch = None  # the core then encodes each prompt alone
            try:
                started = time.perf_counter()
                for i, (key, text) in enumerate(zip(keys, texts, strict=True)):
                    core.add(InfillRequest(str(31_000 + i), text + "r", suffix, language="python", document_key=key,
                                           single_line=True, max_steps=4))
                while core.has_work():
                    core.step()
                times[mode].append((time.perf_counter() - started) * 1000)
            finally:
                if mode == "one_by_one_ms":
                    del runner.encode_batch
    out = {"documents": documents, **{k: round(statistics.median(v), 1) for k, v in times.items()}}
    out["speedup"] = round(out["one_by_one_ms"] / out["batched_ms"], 2)
    return out


def bench_parallelism(core, problems: int) -> dict:
    """Tokens per forward and pass@1 with parallel decoding vs one token per step."""
    from engine.core.sampler import SamplerConfig
    from infill_tools.humaneval import DEFAULT_DATA, DiffusionFiller, evaluate, load_problems

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


@contextlib.contextmanager
def engine_socket(launch: EngineLaunch, extra_args: tuple[str, ...] = ()) -> Iterator[Path]:
    """An engine process for ``launch`` listening on a fresh private socket, stopped on exit."""
    from engine.clients.connect import start_engine_process

    directory = Path(tempfile.mkdtemp(prefix="infill-bench-", dir="/tmp"))
    directory.chmod(0o700)
    sock = directory / "engine.sock"
    idle_exit = 0.0 if extra_args else 120.0  # an HTTP engine takes no idle exit
    engine = start_engine_process(dataclasses.replace(launch, idle_exit=idle_exit), sock, extra_args=extra_args,
                                  module="infill_http" if extra_args else "engine")
    try:
        for _ in range(1200):
            if sock.exists() or engine.poll() is not None:
                break
            time.sleep(0.05)
        if not sock.exists():
            raise RuntimeError("the engine process did not start listening")
        yield sock
    finally:
        engine.terminate()
        engine.wait(15)
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def bench_lsp(launch: EngineLaunch, context: tuple[str, str], clients: list[int], requests: int) -> list[dict]:
    """Warm inline-completion latency through ``infill serve`` processes sharing one engine process."""
    from infill_tools.loadgen import run_editors

    with engine_socket(launch) as sock:
        results = []
        for count in clients:
            before = asyncio.run(_engine_completed(sock))
            figures = asyncio.run(run_editors(str(sock), context[0], count, requests, suffix=context[1]))
            # Requests the engine finished (cold ones included): empty answers are fills the server
            # filtered, not requests that skipped the engine.
            figures["engine_completed"] = asyncio.run(_engine_completed(sock)) - before
            results.append(figures)
            print(f"  lsp: {results[-1]}", file=sys.stderr)
        return results


async def _engine_completed(sock: Path) -> int:
    from engine.clients.unix_socket import SocketEngineClient

    client = SocketEngineClient(sock, client_name="infill-bench")
    await client.start()
    try:
        return (await client.status()).completed
    finally:
        await client.close()


def bench_http(launch: EngineLaunch, context: tuple[str, str], requests: int, clients: int = 16) -> dict:
    """The HTTP API against the Unix socket: per-request latency of the same warm fill through each,
    alternating, in one engine process; then ``clients`` concurrent HTTP clients, p50/p95."""
    import http.client
    import socket as socket_module
    import threading

    from engine.clients.unix_socket import SocketEngineClient
    from infill_tools.loadgen import percentile

    with socket_module.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefix, suffix = context
    body = json.dumps({"input_prefix": prefix, "input_suffix": suffix, "n_predict": 16, "id_slot": 0}).encode()

    def http_fill(conn: http.client.HTTPConnection, payload: bytes) -> float:
        started = time.perf_counter()
        conn.request("POST", "/infill", body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return (time.perf_counter() - started) * 1000

    async def socket_fills(sock: Path, count: int, conn: http.client.HTTPConnection) -> tuple[list[float], list[float]]:
        client = SocketEngineClient(sock, client_name="infill-bench")
        await client.start()
        via_socket: list[float] = []
        via_http: list[float] = []
        try:
            for i in range(count + 1):  # the first of each is cold: dropped
                started = time.perf_counter()
                await client.infill(InfillRequest(str(i + 1), prefix, suffix, document_key="bench-http",
                                                  canvas_lengths=(16,)), timeout=300)
                elapsed = (time.perf_counter() - started) * 1000
                http_ms = await asyncio.to_thread(http_fill, conn, body)
                if i:
                    via_socket.append(elapsed)
                    via_http.append(http_ms)
        finally:
            await client.close()
        return via_socket, via_http

    with engine_socket(launch, ("--http", f"127.0.0.1:{port}")) as sock:
        for _ in range(600):
            with contextlib.suppress(OSError):
                probe_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe_conn.request("GET", "/health")
                if probe_conn.getresponse().status == 200:
                    break
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        via_socket, via_http = asyncio.run(socket_fills(sock, requests, conn))
        conn.close()
        socket_ms, http_ms = statistics.median(via_socket), statistics.median(via_http)
        latencies: list[float] = []
        lock = threading.Lock()

        def client_run(index: int) -> None:
            own = json.dumps({"input_prefix": prefix + f"\n# client {index}\n", "input_suffix": suffix,
                              "n_predict": 16, "id_slot": index}).encode()
            mine = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                http_fill(mine, own)  # cold
                for _ in range(requests):
                    elapsed = http_fill(mine, own)
                    with lock:
                        latencies.append(elapsed)
            finally:
                mine.close()

        threads = [threading.Thread(target=client_run, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    return {
        "requests": requests,
        "socket_median_ms": round(socket_ms, 1),
        "http_median_ms": round(http_ms, 1),
        "http_over_socket": round(http_ms / socket_ms, 3),
        "http_overhead_ms": round(http_ms - socket_ms, 1),
        "concurrent_clients": clients,
        "concurrent_p50_ms": round(percentile(latencies, 0.5), 1),
        "concurrent_p95_ms": round(percentile(latencies, 0.95), 1),
        "concurrent_fills_per_s": round((clients * (requests + 1)) / wall, 2),
    }


def bench_backends(core, context: tuple[str, str], width: int, repeats: int) -> dict:
    """Time per denoising step on each available backend, same cache and canvas."""
    from engine.core.kv import PromptKV

    runner = core.runner
    prompt = core._prompt(InfillRequest("0", *context, language="python"))
    kv = runner.encode(PromptKV(), prompt)
    canvas = torch.randint(core.noise_low, runner.vocab_size, (1, width))
    out = {}
    runner.denoise(canvas, [kv], None)
    started = time.perf_counter()
    for _ in range(repeats):
        runner.denoise(canvas, [kv], None)
    out["torch_step_ms"] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    from engine.model.onnx_runner import OnnxDenoiser

    started = time.perf_counter()
    denoiser = OnnxDenoiser.for_model(runner.loaded.path).use_windows(runner.text_config)
    out["onnx_load_or_export_s"] = round(time.perf_counter() - started, 2)
    denoiser.denoise(canvas, kv)
    started = time.perf_counter()
    for _ in range(repeats):
        denoiser.denoise(canvas, kv)
    out["onnx_step_ms"] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    out["torch_over_onnx"] = round(out["torch_step_ms"] / out["onnx_step_ms"], 2)
    from engine.model.onnx_runner import OnnxEncoder

    encoder = OnnxEncoder.for_model(runner.loaded.path, runner.text_config, runner.chunk)
    encodes = {"torch_encode_ms": [], "onnx_encode_ms": []}
    for _ in range(max(2, repeats // 4)):  # interleaved; the whole prompt, cold
        for key, encode in (("torch_encode_ms", runner.encode), ("onnx_encode_ms", encoder.encode)):
            started = time.perf_counter()
            encode(PromptKV(), prompt)
            encodes[key].append((time.perf_counter() - started) * 1000)
    out.update({key: round(statistics.median(values), 1) for key, values in encodes.items()})
    out["prompt_tokens"] = len(prompt)
    out["torch_dtype"] = str(runner.loaded.dtype).removeprefix("torch.")
    return out


def bench_dtypes(launch: EngineLaunch, context: tuple[str, str], repeats: int) -> dict:
    """fp32 vs bf16 weights: prompt encoding and denoising-step time, interleaved, and argmax agreement."""
    from engine.core.kv import PromptKV

    setups = {}
    for name in ("float32", "bfloat16"):
        core = dataclasses.replace(launch, backend="torch", dtype=name).load_core()
        prompt = core._prompt(InfillRequest("0", *context, language="python"))
        kv = core.runner.encode(PromptKV(), prompt)
        seeded = torch.Generator().manual_seed(0)
        canvas = torch.randint(core.noise_low, core.runner.vocab_size, (1, 16), generator=seeded)
        setups[name] = (core.runner, prompt, kv, canvas)
    times: dict[str, list[float]] = {f"{n}_{k}": [] for n in setups for k in ("encode_ms", "step_ms")}
    for _ in range(repeats):
        for name, (runner, prompt, kv, canvas) in setups.items():
            started = time.perf_counter()
            runner.encode(PromptKV(), prompt)
            times[f"{name}_encode_ms"].append((time.perf_counter() - started) * 1000)
            for _ in range(4):
                started = time.perf_counter()
                runner.denoise(canvas, [kv], None)
                times[f"{name}_step_ms"].append((time.perf_counter() - started) * 1000)
    out = {key: round(statistics.median(values), 1) for key, values in times.items()}
    logits = {name: runner.denoise(canvas, [kv], None) for name, (runner, _, kv, canvas) in setups.items()}
    agree = logits["float32"].argmax(-1) == logits["bfloat16"].argmax(-1)
    out["argmax_agreement"] = round(float(agree.float().mean()), 3)
    out["prompt_tokens"] = len(setups["float32"][1])
    out["encode_speedup"] = round(out["float32_encode_ms"] / out["bfloat16_encode_ms"], 2)
    out["step_speedup"] = round(out["float32_step_ms"] / out["bfloat16_step_ms"], 2)
    return out


def _run_parts(args: argparse.Namespace, launch: EngineLaunch) -> dict:
    """Measure the parts ``args.only`` names (the default set when none) and return the report."""
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    core = launch.load_core()
    context = bench_context(core.tokenizer)
    parts = set(filter(None, args.only.split(","))) or {
        "generate", "keystroke", "burst", "parallelism", "lsp", "backends", "dtypes", "anchor"
    }
    sources = args.sources or default_sources(Path(__file__).resolve().parent.parent)
    report: dict = {"model": core.welcome.model_name, "device": core.welcome.device,
                    "torch_threads": torch.get_num_threads(), "trained": core.welcome.trained,
                    "dtype": str(core.runner.loaded.dtype).removeprefix("torch."),
                    "context_tokens": len(core._prompt(InfillRequest("0", *context, language="python")))}
    if "generate" in parts:
        report["engine_vs_generate"] = bench_generate(core, context, steps=16, width=16, repeats=args.repeats)
        print(f"  generate: {report['engine_vs_generate']}", file=sys.stderr)
    if "keystroke" in parts:
        report["keystroke_vs_cold"] = bench_keystroke(core, context, args.repeats)
        print(f"  keystroke: {report['keystroke_vs_cold']}", file=sys.stderr)
    if "burst" in parts:
        report["keystroke_burst"] = bench_burst(core, context, 16, max(3, args.repeats // 2))
        print(f"  burst: {report['keystroke_burst']}", file=sys.stderr)
    if "backends" in parts and not onnx_available():
        report["backends"] = {"skipped": ONNX_EXTRA_MISSING}
    elif "backends" in parts:
        report["backends"] = bench_backends(core, context, 16, args.repeats * 4)
        print(f"  backends: {report['backends']}", file=sys.stderr)
    if "dtypes" in parts:
        report["dtypes"] = bench_dtypes(launch, context, args.repeats)
        print(f"  dtypes: {report['dtypes']}", file=sys.stderr)
    if "parallelism" in parts and args.problems:
        report["parallel_decoding"] = bench_parallelism(core, args.problems)
        print(f"  parallelism: {report['parallel_decoding']}", file=sys.stderr)
    if "lsp" in parts and args.clients:
        counts = [int(x) for x in args.clients.split(",") if x]
        report["lsp_latency"] = bench_lsp(launch, context, counts, args.lsp_requests)
    if "http" in parts:
        report["http"] = bench_http(launch, context, args.http_requests, clients=args.http_clients)
        print(f"  http: {report['http']}", file=sys.stderr)
    if "anchor" in parts:
        report["cursor_moves"] = bench_anchor(core, sources, samples=max(4, args.repeats * 2), seed=args.seed)
        print(f"  anchor: {report['cursor_moves']}", file=sys.stderr)
    if "carry" in parts:
        report["carry"] = bench_carry(core, limit=args.carry_holes)
        print(f"  carry: {report['carry']}", file=sys.stderr)
    if "typing" in parts:
        with engine_socket(launch) as sock:
            report["typing"] = bench_typing(
                str(sock), sources, policies=[p for p in args.policies.split(",") if p],
                clients=[c for c in args.editor_clients.split(",") if c],
                debounce_ms=args.debounce_ms, seed=args.seed, files=args.typing_files, holes_per_file=args.typing_holes,
                speed=args.speed, server_root=args.server_root)
            if args.jumps:
                report["typing_jumps"] = bench_jumps(str(sock), sources, jumps=args.jumps,
                                                     pause_ms=args.jump_pause_ms, seed=args.seed)
    if "replicas" in parts:
        from infill_tools.ray_bench import bench_replicas

        report["ray_serve_replicas"] = bench_replicas(launch, context, clients=args.replica_clients,
                                                      requests=args.replica_requests,
                                                      cpus_per_replica=args.cpus_per_replica)
        print(f"  replicas: {report['ray_serve_replicas']}", file=sys.stderr)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infill bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    EngineLaunch.add_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the report as one line of JSON, and nothing else on stdout")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each timing (default 5)")
    parser.add_argument("--clients", default="1,4,16", help="LSP client counts ('' to skip)")
    parser.add_argument("--lsp-requests", type=int, default=8, help="warm requests per client")
    parser.add_argument("--http-requests", type=int, default=8, help="http part: warm requests per client")
    parser.add_argument("--http-clients", type=int, default=16, help="http part: concurrent HTTP clients")
    parser.add_argument("--problems", type=int, default=40, help="benchmark problems per split (0 to skip)")
    parser.add_argument("--only", default="", help="comma list of parts: generate,keystroke,burst,parallelism,lsp,http,"
                        "backends,dtypes,anchor,carry,typing,replicas (http, carry, typing and replicas run only when "
                        "named)")
    parser.add_argument("--carry-holes", type=int, default=100,
                        help="carry part: single-line holes typed into, carried vs encoded (default 100)")
    typing = parser.add_argument_group("typing and anchor parts")
    typing.add_argument("--policies", default="none,fixed,adaptive",
                        help="waiting policies to compare (empty: no typing replay, only the jumps)")
    typing.add_argument("--editor-clients", default="vscode,neovim", help="how requests are sent: vscode,neovim")
    typing.add_argument("--debounce-ms", type=int, default=30, help="debounceMs of every run (fixed: the wait)")
    typing.add_argument("--typing-files", type=int, default=3, help="files a trace types into")
    typing.add_argument("--typing-holes", type=int, default=4, help="holes per file")
    typing.add_argument("--speed", type=float, default=1.0, help="divides the trace's times (tests)")
    typing.add_argument("--seed", type=int, default=0)
    typing.add_argument("--jumps", type=int, default=20,
                        help="cursor jumps timed with warming off and on: jump, pause, then a fill (0: none)")
    typing.add_argument("--jump-pause-ms", type=float, default=300.0, help="the rest after each jump")
    typing.add_argument("--sources", nargs="*", type=Path,
                        help="Python files for traces (default: tests/vendor/requests)")
    typing.add_argument("--server-root", type=Path, help="run the language server of this checkout (a 'before' figure)")
    replicas = parser.add_argument_group("replicas part (Ray Serve)")
    replicas.add_argument("--replica-clients", type=int, default=8, help="editors at once, one document each")
    replicas.add_argument("--replica-requests", type=int, default=6, help="requests per editor")
    replicas.add_argument("--cpus-per-replica", type=float, default=1.0, help="CPUs (torch threads) per replica")
    args = parser.parse_args(argv)
    launch = EngineLaunch.from_args(args, parser)
    with stdout_to_stderr(args.json):  # stdout holds the report alone (Ray's workers print too)
        report = _run_parts(args, launch)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
