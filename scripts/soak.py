"""Soak test (not run by CI): N simulated editors against one engine for M minutes, in rounds.

Each round runs ``infill_tools.loadgen.run_editors`` (real ``infill serve`` processes over stdio, all on
one engine socket) and then samples the engine: RSS, StatusReply active/queued (must be back to 0)
and cache bytes. The engine is the tiny untrained model by default, or a FakeCore with --fake. Prints
one JSON line per round and a summary; exits 1 if memory grew past --max-rss-growth-mib, work stayed
active, or any request errored.

    python scripts/soak.py --minutes 30 --editors 16
    python scripts/soak.py --minutes 2 --editors 4 --fake
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TEXT = "import math\n\n\ndef mean(values):\n    total = 0\n    for v in values:\n        total += v\n    "


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)


async def _status(socket_path: Path):
    from engine.clients.unix_socket import SocketEngineClient

    client = SocketEngineClient(socket_path, request_timeout=30)
    await client.start()
    try:
        return await client.status()
    finally:
        await client.close()


async def soak(args: argparse.Namespace) -> int:
    from infill_tools.loadgen import run_editors

    workdir = Path(tempfile.mkdtemp(prefix="infill-soak-", dir="/tmp"))
    socket_path = workdir / "run" / "engine.sock"
    socket_path.parent.mkdir(mode=0o700)
    from engine.clients.connect import start_engine_process
    from engine.host.launch import EngineLaunch

    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])  # the fake cores live there
    if args.fake:
        launch = EngineLaunch(core_factory="fake_core:slow_core")
    else:
        from infill_tools.model_builders import build_tiny_model_dir

        launch = EngineLaunch(model_dir=Path(args.model) if args.model else build_tiny_model_dir(workdir / "tiny"))
    engine = start_engine_process(launch, socket_path, log_level="warning", output=None)
    try:
        deadline = time.monotonic() + 300
        while not socket_path.exists():
            if engine.poll() is not None or time.monotonic() > deadline:
                print("the engine did not start", file=sys.stderr)
                return 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        first_rss, rounds, failures = 0, [], []
        ends = time.monotonic() + args.minutes * 60
        while time.monotonic() < ends:
            figures = await run_editors(str(socket_path), TEXT, args.editors, args.requests, pause_s=args.pause,
                                        timeout_s=args.timeout)  # fmt: skip
            await asyncio.sleep(1.0)  # let cancelled work drain
            status = await _status(socket_path)
            rss = _rss_kib(engine.pid)
            first_rss = first_rss or rss
            line = {"round": len(rounds) + 1, **figures, "engine_rss_mib": round(rss / 1024, 1),
                    "active": status.active, "queued": status.queued, "cache_bytes": status.cache_bytes}  # fmt: skip
            print(json.dumps(line), flush=True)
            rounds.append(line)
            if figures["errors"] or status.active or status.queued:
                failures.append(f"round {line['round']}: errors={figures['errors']} active={status.active}")
        growth = (rounds[-1]["engine_rss_mib"] - first_rss / 1024) if rounds else 0.0
        if growth > args.max_rss_growth_mib:
            failures.append(f"engine RSS grew by {growth:.1f} MiB")
        requests = sum(r["requests"] for r in rounds)
        summary = {"rounds": len(rounds), "requests": requests, "rss_growth_mib": round(growth, 1),
                   "p50_ms_last": rounds[-1]["p50_ms"] if rounds else 0,
                   "p95_ms_last": rounds[-1]["p95_ms"] if rounds else 0, "failures": failures}  # fmt: skip
        print(json.dumps({"summary": summary}), flush=True)
        return 1 if failures else 0
    finally:
        engine.terminate()
        try:
            engine.wait(30)
        except subprocess.TimeoutExpired:
            engine.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--editors", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="requests per editor per round")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between keystrokes")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--fake", action="store_true", help="a FakeCore engine instead of the tiny model")
    parser.add_argument("--model", default=None, help="a model directory (default: a fresh tiny model)")
    parser.add_argument("--max-rss-growth-mib", type=float, default=64.0)
    return asyncio.run(soak(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
