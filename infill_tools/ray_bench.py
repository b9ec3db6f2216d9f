"""``infill bench --only replicas``: the HTTP API on Ray Serve with 2 engine replicas vs 1, under the same load.

The load is ``clients`` editors at once, each typing into its own document: every request is the one
before plus one character (so each document's cache is reused when it stays on its replica), sent when
the previous answer is back. One run deploys 1 replica, drives the load, then deploys 2 and drives it
again (and once more with 2 replicas routed without affinity), on one local Ray cluster with
``cpus_per_replica`` CPUs per replica (a CPU replica's torch runs that many threads; on GPUs each replica
would hold one). Ray is imported only here.
"""

from __future__ import annotations

import concurrent.futures
import json
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request

from engine.host.launch import EngineLaunch
from infill_http.settings import HttpSettings
from infill_tools.loadgen import percentile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _editor(
    url: str, index: int, prefix: str, suffix: str, requests: int, canvas: int
) -> list[tuple[float, float, int]]:
    """One editor typing into document ``index``: (latency ms, cached fraction, status) per request."""
    out = []
    typed = "total = sum(values"
    for number in range(requests):
        text = prefix + typed[: number % len(typed)]
        body = json.dumps({"input_prefix": text, "input_suffix": suffix, "id_slot": index, "n_predict": canvas,
                           "language": "python"}).encode()
        request = urllib.request.Request(f"{url}/infill", data=body, headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                answer = json.loads(response.read())
                status = response.status
        except urllib.error.HTTPError as exc:
            answer, status = {}, exc.code
        elapsed = (time.perf_counter() - started) * 1000
        cached = answer.get("tokens_cached", 0) / max(1, answer.get("tokens_evaluated", 0))
        out.append((elapsed, cached, status))
    return out


def drive(url: str, context: tuple[str, str], clients: int, requests: int, canvas: int, first_slot: int = 0) -> dict:
    """``clients`` editors at once (documents ``first_slot``...), ``requests`` each; throughput over the
    whole run, latency of the warm requests."""
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        started = time.perf_counter()
        runs = list(pool.map(lambda i: _editor(url, first_slot + i, *context, requests, canvas),
                             range(clients)))
        wall = time.perf_counter() - started
    warm = [r for run in runs for r in run[1:]]  # an editor's first request is cold
    latencies = [ms for ms, _, status in warm if status == 200]
    return {
        "fills": sum(len(run) for run in runs),
        "errors": sum(status != 200 for run in runs for _, _, status in run),
        "wall_s": round(wall, 2),
        "fills_per_s": round(sum(len(run) for run in runs) / wall, 2),
        "warm_p50_ms": round(percentile(latencies, 0.5), 1),
        "warm_p95_ms": round(percentile(latencies, 0.95), 1),
        "warm_cached_fraction": round(statistics.fmean(c for _, c, _ in warm), 3) if warm else 0.0,
    }


def bench_replicas(launch: EngineLaunch, context: tuple[str, str], *, clients: int = 8, requests: int = 6,
                   canvas: int = 16, cpus_per_replica: float = 1.0) -> dict:
    """The same load on 1 then 2 engine replicas; ``throughput_ratio`` is fills per second with 2 over 1.
    A third run routes 2 replicas without document affinity (Serve's default): its cached fraction is what
    affinity saves."""
    import ray
    from ray import serve

    from infill_http.ray.serve import APP_NAME, build_app, deploy

    ray.init(num_cpus=max(1, round(2 * cpus_per_replica)), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    settings = HttpSettings(port=_free_port(), max_in_flight=4 * clients, request_timeout_s=300.0)
    url = f"http://127.0.0.1:{settings.port}"
    out: dict = {"clients": clients, "requests_per_client": requests, "canvas": canvas,
                 "cpus_per_replica": cpus_per_replica}
    try:
        for name, replicas, affinity in (("replicas_1", 1, True), ("replicas_2", 2, True),
                                         ("replicas_2_no_affinity", 2, False)):
            app = build_app(launch, settings, replicas=replicas, cpus_per_replica=cpus_per_replica, affinity=affinity)
            deploy(app, settings)
            drive(url, context, clients, 1, canvas, first_slot=1000)  # warm-up: a replica's first fill pays for imports
            out[name] = drive(url, context, clients, requests, canvas)
            print(f"  replicas: {name}: {out[name]}", file=sys.stderr)
            serve.delete(APP_NAME)
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    one, two = out["replicas_1"], out["replicas_2"]
    out["throughput_ratio"] = round(two["fills_per_s"] / one["fills_per_s"], 2) if one["fills_per_s"] else None
    out["warm_p50_ratio"] = round(two["warm_p50_ms"] / one["warm_p50_ms"], 2) if one["warm_p50_ms"] else None
    return out
