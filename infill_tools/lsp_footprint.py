"""The language server's footprint: its start time and resident memory after ``initialize``, and after it has
opened one real file of each language, for this checkout and, side by side, for another one.

    python -m infill_tools.lsp_footprint [--compare DIR] [--repeats 3] [--json]

The real server (``python -m infill_lsp.cli serve``) runs as a subprocess over stdio, spoken to in raw JSON-RPC;
its engine setting points at a socket nothing listens on, so no engine starts and the figures are the language
server's own. "start" is the time from starting the process to the answer to ``initialize``; memory is
``VmRSS`` of ``/proc/PID/status`` (Linux). The files are the vendored real files of ``tests/vendor/languages``
(one per language) and ``tests/vendor/requests/__init__.py`` for Python, each opened with its language's first
editor language id; ``--compare DIR`` runs the server of the checkout at DIR (say ``git worktree add /tmp/old
SHA``) on the same files, interleaved with this one's runs. Each figure is the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grammars import default_table, entry_for_path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "tests" / "vendor"
NOT_SOURCE = ("LICENSE", "NOTICE")
TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class RealFile:
    language: str  # the table name
    language_id: str  # what an editor sends
    path: Path


def real_files() -> list[RealFile]:
    """One vendored real file per language of the table that has one, in table order."""
    found: dict[str, Path] = {"python": VENDOR / "requests" / "__init__.py"}
    for folder in sorted((VENDOR / "languages").iterdir()):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                entry = entry_for_path(path)
                if not path.name.startswith(NOT_SOURCE) and entry is not None and entry.name == folder.name:
                    found.setdefault(entry.name, path)
    table = default_table()
    return [RealFile(name, table[name].language_ids[0], found[name]) for name in table if name in found]


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` in KiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class StdioServer:
    """A language server subprocess spoken to in JSON-RPC over its stdin and stdout."""

    def __init__(self, tree: Path, socket: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree), "XDG_STATE_HOME": str(socket.parent)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infill_lsp.cli", "serve"], cwd=tree, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:  # a request of the server's: answer it with nothing
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "id" in message:
                self.answers.put(message)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> dict[str, Any]:
        """Send a request and wait for its answer (an error answer included)."""
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": str(self.next_id), "method": method, "params": params})
        while True:
            answer = self.answers.get(timeout=TIMEOUT_S)
            if answer.get("id") == str(self.next_id):
                return answer

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=10)
        except (queue.Empty, subprocess.TimeoutExpired, BrokenPipeError, OSError):
            self.process.kill()
            self.process.wait()


def measure(tree: Path, files: list[RealFile]) -> dict[str, float]:
    """One run of the server of ``tree``: start time (ms), and RSS (MiB) after initialize and after each file."""
    with tempfile.TemporaryDirectory(prefix="infill-footprint-") as scratch:
        server = StdioServer(tree, Path(scratch) / "no-engine.sock")
        try:
            options = {"engine": {"mode": "connect", "socket": str(Path(scratch) / "no-engine.sock")},
                       "eventLog": False}  # fmt: skip
            capabilities = {"textDocument": {"inlineCompletion": {}}}
            answer = server.request("initialize", {"processId": os.getpid(), "rootUri": None,
                                                   "capabilities": capabilities, "initializationOptions": options})
            if "result" not in answer:
                raise RuntimeError(f"{tree}: initialize failed: {answer}")
            out = {"start_ms": (time.perf_counter() - server.started) * 1000}
            server.notify("initialized", {})
            server.request("infill/footprint", {})  # any request: answered once what came before is handled
            out["initialized"] = rss_kib(server.process.pid) / 1024
            for real in files:
                text = real.path.read_text(encoding="utf-8")
                server.notify("textDocument/didOpen", {"textDocument": {
                    "uri": real.path.as_uri(), "languageId": real.language_id, "version": 1, "text": text}})
                server.request("infill/footprint", {})
                out[real.language] = rss_kib(server.process.pid) / 1024
            out["opened"] = len(files)
            return out
        finally:
            server.close()


def footprints(trees: dict[str, Path], files: list[RealFile], repeats: int) -> dict[str, dict[str, float]]:
    """The median of ``repeats`` runs per tree, the trees' runs interleaved."""
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for _ in range(repeats):
        for label, tree in trees.items():
            runs[label].append(measure(tree, files))
    return {label: {key: statistics.median(run[key] for run in rs) for key in rs[0]} for label, rs in runs.items()}


def table(results: dict[str, dict[str, float]], files: list[RealFile]) -> str:
    labels = list(results)
    lines = ["| measurement | " + " | ".join(labels) + " |", "| --- |" + " --- |" * len(labels)]

    def row(name: str, key: str, unit: str, digits: int) -> None:
        lines.append(f"| {name} | " + " | ".join(f"{results[label][key]:,.{digits}f} {unit}" for label in labels)
                     + " |")

    row("start to the answer to `initialize`", "start_ms", "ms", 0)
    row("resident memory after `initialize`", "initialized", "MiB", 1)
    for real in files:
        title = default_table()[real.language].title
        row(f"... after opening the {title} file too (`{real.path.name}`)", real.language, "MiB", 1)
    last = files[-1].language
    lines.append("| growth from opening the files | " + " | ".join(
        f"{results[label][last] - results[label]['initialized']:,.1f} MiB" for label in labels) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.lsp_footprint", description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, default=None, help="another checkout, measured beside this one")
    parser.add_argument("--repeats", type=int, default=3, help="runs per checkout; figures are medians (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.compare is not None and not (args.compare / "infill_lsp" / "cli.py").is_file():
        parser.error(f"--compare {args.compare}: not a checkout of infill (no infill_lsp/cli.py)")
    trees = {"this checkout": ROOT}
    if args.compare is not None:
        trees = {f"{args.compare}": args.compare.resolve(), **trees}
    files = real_files()
    results = footprints(trees, files, args.repeats)
    print(json.dumps(results, indent=1) if args.json else table(results, files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
