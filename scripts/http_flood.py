"""One key floods an HTTP engine (the embedded model, in its own process) from 3 WebSockets; prints what the
engine accepted, its peak and after-flood resident memory, and a second key's light fill alone and beside
the flood.

    PYTHONPATH=. python scripts/http_flood.py [--per-socket 16] [--candidates 8] [--steps 24]

Figures for RELIABILITY.md ("The HTTP API"); run it on a quiet machine (the latencies are wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import msgspec
from websockets.sync.client import connect

from engine.clients.unix_socket import SocketEngineClient
from engine.host.launch import EngineLaunch
from engine.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    Hello,
    InfillRequest,
    InfillResult,
    Welcome,
)
from infill_tools.bench import engine_socket

HEAVY_PREFIX = "import os\n\n" + "".join(f"def handler_{i}(request, config):\n    return request.get({i})\n\n"
                                           for i in range(60))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(sock: Path):
    async def ask():
        client = SocketEngineClient(sock, request_timeout=600)  # the first answers once the model has loaded
        await client.start()
        try:
            return await client.status()
        finally:
            await client.close()

    return asyncio.run(ask())


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of ``pid``, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def _light_fill(port: int, key: str) -> float:
    """Seconds for one small /infill of ``key``."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"input_prefix": "def add(a, b):\n    return ", "input_suffix": "\n", "n_predict": 16})
    conn.request("POST", "/infill", body=body, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:  # 504: past the engine's --request-timeout
        return float("inf")
    return time.monotonic() - started


def _flood_socket(port: int, key: str, index: int, args: argparse.Namespace, tally: dict[str, int]) -> None:
    with connect(f"ws://127.0.0.1:{port}/v1/engine", additional_headers={"Authorization": f"Bearer {key}"},
                 max_size=None) as ws:
        ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "flood")))
        msgspec.msgpack.decode(ws.recv(timeout=60), type=Welcome)
        for rid in range(args.per_socket):
            ws.send(msgspec.msgpack.encode(InfillRequest(
                f"flood-{index}-{rid}", HEAVY_PREFIX + f"# socket {index} request {rid}\n", "\n",
                document_key=f"flood-{index}-{rid}",
                canvas_lengths=(64, 128), num_candidates=args.candidates, max_steps=args.steps)))
        for _ in range(args.per_socket):
            reply = msgspec.msgpack.decode(ws.recv(timeout=1800), type=InfillResult | ErrorReply)
            name = ("overloaded" if reply.code == ErrorCode.OVERLOADED else "error") if isinstance(reply, ErrorReply) \
                else "served"
            tally[name] = tally.get(name, 0) + 1
            if name == "error":
                tally.setdefault(f"first error: {reply.message[:120]}", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-socket", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--solo-runs", type=int, default=3)
    parser.add_argument("--beside-runs", type=int, default=5, help="light fills timed one by one during the flood")
    parser.add_argument("--step-seconds", default="auto", help="the engine's --step-seconds (0: steps unbounded)")
    args = parser.parse_args()
    port = _free_port()
    flooder, light = "flood-" + "a" * 24, "light-" + "b" * 24
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys"
        keys.write_text(f"alice:{flooder}\nbob:{light}\n")
        keys.chmod(0o600)
        extra = ("--http", f"127.0.0.1:{port}", "--api-key-file", str(keys))
        with engine_socket(EngineLaunch(step_seconds=args.step_seconds), extra) as sock:
            pid = _status(sock).pid
            for _ in range(100):  # the HTTP front comes up with the socket; wait for /health
                try:
                    if _light_fill(port, light) < float("inf"):
                        break
                except OSError:
                    time.sleep(0.2)
            solo = statistics.median(_light_fill(port, light) for _ in range(args.solo_runs))
            fresh = _memory(pid)
            tally: dict[str, int] = {}
            threads = [threading.Thread(target=_flood_socket, args=(port, flooder, i, args, tally)) for i in range(3)]
            flood_start = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(2.0)  # the flood admitted and encoding
            busy = _status(sock)
            besides = [_light_fill(port, light) for _ in range(args.beside_runs)]
            for t in threads:
                t.join()
            flood_seconds = time.monotonic() - flood_start
            time.sleep(3.0)  # idle: the engine hands freed memory back
            after = _memory(pid)
    print(f"flood: 3 WebSockets x {args.per_socket} requests ({args.candidates} candidates x 2 canvases, "
          f"{args.steps} steps) under one key: {tally.get('served', 0)} served, {tally.get('overloaded', 0)} "
          f"OVERLOADED, {tally.get('error', 0)} other errors; engine active {busy.active}, queued {busy.queued} "
          "2 s in" + "".join(f"\n  {k}" for k in tally if k.startswith("first error")))
    print(f"engine memory: {fresh['VmRSS'] / 2**20:.0f} MiB before (peak so far {fresh['VmHWM'] / 2**20:.0f}), "
          f"peak {after['VmHWM'] / 2**20:.0f} MiB, {after['VmRSS'] / 2**20:.0f} MiB after")
    beside, worst = statistics.median(besides), max(besides)
    print(f"light fill of a second key: {solo:.2f} s alone (median of {args.solo_runs}), {beside:.2f} s beside the "
          f"flood (median of {len(besides)}; {beside / solo:.1f}x), worst {worst:.2f} s ({worst / solo:.1f}x); "
          f"the flood took {flood_seconds:.1f} s (--step-seconds {args.step_seconds})")


if __name__ == "__main__":
    main()
