"""Simulated editors: N language-server sessions typing into a document and asking for inline completions.

Each editor is a real ``infill serve`` process driven over stdio by pygls' client; all of them share one
engine process through its socket, as editor windows on one machine do. Used by ``infill bench`` (latency
at 1, 4, 16 clients) and by load tests.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.client import BaseLanguageClient


@dataclass(slots=True)
class EditorRun:
    latencies_ms: list[float] = field(default_factory=list)
    empty: int = 0
    errors: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _editor(index: int, socket: str, prefix: str, suffix: str, requests: int, pause_s: float,
                  run: EditorRun, timeout_s: float) -> None:
    client = BaseLanguageClient("infill-loadgen", "1")
    await client.start_io(sys.executable, "-m", "infill_lsp.server")
    try:
        options = {"engine": {"mode": "connect", "socket": socket}, "debounce_ms": 0,
                   "request_timeout_ms": int(timeout_s * 1000)}
        await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities())),
            initialization_options=options)), timeout_s)
        client.initialized(types.InitializedParams())
        uri = f"file:///bench/editor{index}.py"
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=prefix + suffix)))
        lines = prefix.split("\n")  # the cursor: the end of the prefix
        line, column = len(lines) - 1, len(lines[-1])
        typed = "total = sum(values"
        for number in range(requests + 1):
            if number:  # one keystroke, then a request, as while typing
                char = typed[(number - 1) % len(typed)]
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=uri, version=number + 1),
                    [types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(line, column), types.Position(line, column)), text=char)]))
                column += 1
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=types.Position(line, column))), timeout_s)
            except Exception:  # noqa: BLE001 - counted, the run goes on
                run.errors += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
            if number:  # the first request is the cold one: warm latency only
                run.latencies_ms.append(elapsed)
                run.empty += not items
            await asyncio.sleep(pause_s)
    finally:
        await close_client(client)


async def close_client(client: BaseLanguageClient) -> None:
    """Shut the server down as an editor does (shutdown, exit), then stop the client; never raises."""
    try:
        await asyncio.wait_for(client.shutdown_async(None), 5)
        client.exit(None)
    except Exception:  # noqa: BLE001 - a server already gone is what we wanted
        pass
    await client.stop()


def plain(value: Any) -> Any:
    """pygls hands custom results back as namedtuples: dicts and lists out."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def run_editors(socket: str, text: str, editors: int, requests: int, pause_s: float = 0.05,
                      timeout_s: float = 30.0, suffix: str = "") -> dict:
    """Run ``editors`` simulated editors concurrently; return latency percentiles of warm requests.

    Each document is ``text + suffix`` with the cursor between the two.
    """
    runs = [EditorRun() for _ in range(editors)]
    editing = (_editor(i, socket, text, suffix, requests, pause_s, runs[i], timeout_s) for i in range(editors))
    await asyncio.gather(*editing)
    latencies = [x for r in runs for x in r.latencies_ms]
    return {
        "clients": editors,
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        "empty": sum(r.empty for r in runs),
        "errors": sum(r.errors for r in runs),
    }
