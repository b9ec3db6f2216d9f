"""``infill bench --only typing,anchor``: the latency a user feels while typing, per waiting policy.

``bench_typing`` replays a typing trace (``typing_traces``) through a real ``infill serve`` process per
run, all of them connected to one real engine process, the way an editor sends it:

- ``vscode``: an automatic inline request on every change, the one before it cancelled with
  ``$/cancelRequest``;
- ``neovim``: the plugin's pattern (``editors/neovim/lua/infill/ghost.lua``): a request 75 ms after the
  last change or cursor move, the one before it cancelled;
- both: an explicit "suggest" in a pause sends an invoked request (trigger kind 1) at once.

A suggestion is shown when its answer arrives while the document and cursor are still the ones it was
asked for; an answer with items that arrives after the user typed on is stale. Per client and policy:
the latency from the last keystroke before a pause to the suggestion shown (p50/p95; and to any answer,
since the fill layer rightly refuses some fills, at the end of a finished line above all), pauses left
without an answer, stale answers, engine forward passes and encoded prompt tokens per shown suggestion,
invoked latency, and the waits the server chose (invoked requests must show none).

``bench_anchor`` measures, on the engine core, the share of a prompt its document's cache holds when
the cursor moves: after a keystroke, to a hole in the same function, elsewhere in the document, and
back to a hole, each with the prefix start on the grid (``ANCHOR_GRID_SHARE``) and sliding (grid off).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import BaseLanguageClient

from infill_tools.loadgen import close_client, plain
from infill_tools.typing_traces import DELETE, INVOKE, JUMP, TYPE, Event, Trace, make_trace

POLICIES = ("none", "fixed", "adaptive")
CLIENT_KINDS = ("vscode", "neovim")
NEOVIM_DEBOUNCE_MS = 75.0  # the plugin's default
AUTOMATIC, INVOKED = types.InlineCompletionTriggerKind.Automatic, types.InlineCompletionTriggerKind.Invoked
WARMUP = "def mean(values):\n    total = sum(values)\n    return total / len(values)\n\n\ndef main():\n    "


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "count": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {"p50": pick(0.5), "p95": pick(0.95), "count": len(ordered)}


@dataclass(slots=True)
class Tally:
    shown_at: dict[tuple, float] = field(default_factory=dict)  # state -> when its first suggestion showed
    answered_at: dict[tuple, float] = field(default_factory=dict)  # state -> its first answer, items or none
    shown: int = 0
    stale: int = 0
    empty: int = 0
    errors: int = 0
    invoked_sent: int = 0
    invoked_ms: list[float] = field(default_factory=list)  # those answered before the user typed on
    invoked_shown: int = 0


class Editor:
    """One editor window on one server: documents, the cursor, and requests sent as ``kind`` sends them."""

    def __init__(self, client: BaseLanguageClient, kind: str, speed: float, timeout_s: float,
                 language_id: str = "python") -> None:
        if kind not in CLIENT_KINDS:
            raise ValueError(f"client kind must be one of {', '.join(CLIENT_KINDS)}, got {kind!r}")
        self.client, self.kind, self.speed, self.timeout_s = client, kind, speed, timeout_s
        self.language_id = language_id
        self.lines: dict[str, list[str]] = {}
        self.versions: dict[str, int] = {}
        self.cursor: tuple[str, int, int] = ("", 0, 0)
        self.edits = 0
        self.tally = Tally()
        self._ids = itertools.count(1)
        self._pending: str | None = None
        self._cancelled: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()

    def state(self) -> tuple:
        return (self.edits, *self.cursor)

    def open(self, uri: str, text: str) -> None:
        self.lines[uri], self.versions[uri] = text.split("\n"), 1
        item = types.TextDocumentItem(uri=uri, language_id=self.language_id, version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))

    def play(self, event: Event) -> None:
        if event.kind == INVOKE:
            self._cancel()
            self.ask(INVOKED)
            return
        if event.kind == JUMP:
            self.cursor = (event.uri, event.line, event.column)
            if self.kind == "neovim":  # CursorMovedI schedules a request
                self._changed()
            return
        line, column = self.lines[event.uri][event.line], event.column
        start = column - 1 if event.kind == DELETE else column
        self.lines[event.uri][event.line] = line[:start] + event.text + line[column:]
        self.versions[event.uri] += 1
        edit = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(event.line, start), types.Position(event.line, column)), text=event.text
        )
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=event.uri, version=self.versions[event.uri]), [edit]))
        self.edits += 1
        self.cursor = (event.uri, event.line, start + len(event.text))
        self._changed()

    def _changed(self) -> None:
        self._cancel()
        if self.kind == "vscode":
            self.ask(AUTOMATIC)
        else:
            delay = NEOVIM_DEBOUNCE_MS / 1000 / self.speed
            self._timer = asyncio.get_running_loop().call_later(delay, self.ask, AUTOMATIC)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending is not None:
            self._cancelled.add(self._pending)
            self.client.protocol.notify("$/cancelRequest", types.CancelParams(id=self._pending))
            self._pending = None

    def ask(self, trigger: types.InlineCompletionTriggerKind) -> None:
        msg_id = self._pending = f"typing-{next(self._ids)}"
        self.tally.invoked_sent += trigger == INVOKED
        task = asyncio.ensure_future(self._request(msg_id, trigger, self.state()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, msg_id: str, trigger: types.InlineCompletionTriggerKind, state: tuple) -> None:
        loop = asyncio.get_running_loop()
        _, uri, line, column = state
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=trigger),
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, column))
        sent = loop.time()
        try:
            protocol = self.client.protocol
            answer = protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
            result = await asyncio.wait_for(answer, self.timeout_s)
        except Exception:  # noqa: BLE001 - a cancelled request may answer with an error; others are counted
            self.tally.errors += msg_id not in self._cancelled
            return
        finally:
            if self._pending == msg_id:
                self._pending = None
        arrived = loop.time()
        items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
        if trigger == INVOKED and msg_id not in self._cancelled:
            self.tally.invoked_ms.append((arrived - sent) * 1000)
        if trigger == AUTOMATIC and msg_id not in self._cancelled and state == self.state():
            self.tally.answered_at.setdefault(state, arrived)
        if not items:
            self.tally.empty += msg_id not in self._cancelled
        elif msg_id in self._cancelled or state != self.state():
            self.tally.stale += 1
        else:
            self.tally.shown += 1
            self.tally.invoked_shown += trigger == INVOKED
            if trigger == AUTOMATIC:
                self.tally.shown_at.setdefault(state, arrived)

    async def settle(self, timeout_s: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


async def server_status(client: BaseLanguageClient) -> dict[str, Any]:
    return plain(await asyncio.wait_for(client.protocol.send_request_async("infill/status", {}), 10))


async def _engine_figures(sock: str) -> dict[str, int]:
    from engine.clients.unix_socket import SocketEngineClient

    client = SocketEngineClient(Path(sock), client_name="infill-typing-bench")
    await client.start()
    try:
        reply = await client.status()
    finally:
        await client.close()
    return {"completed": reply.completed, "forward_passes": reply.forward_passes,
            "cache_hit_tokens": reply.cache_hit_tokens, "cache_lookup_tokens": reply.cache_lookup_tokens}


async def replay(sock: str, trace: Trace, *, kind: str, policy: str, debounce_ms: int, speed: float = 1.0,
                 timeout_s: float = 30.0, settings: dict[str, Any] | None = None,
                 language_id: str = "python", server_root: Path | None = None) -> dict[str, Any]:
    """Replay ``trace`` through a fresh ``infill serve`` as a ``kind`` client with ``policy``; the figures.

    ``settings`` go to the server too; ``language_id`` "plaintext" lets an untrained model's fills show;
    ``server_root`` runs the server of another checkout (a "before" figure; it ignores unknown settings).
    """
    client = BaseLanguageClient("infill-typing-bench", "1")
    place = {"cwd": server_root, "env": {**os.environ, "PYTHONPATH": str(server_root)}} if server_root else {}
    # Its log goes nowhere: nobody reads the server's stderr pipe, which would fill and block it.
    await client.start_io(sys.executable, "-m", "infill_lsp.server", "--log-level", "warning",
                          "--log-file", os.devnull, **place)
    editor = Editor(client, kind, speed, timeout_s, language_id)
    try:
        # next_edit_inline_completion: off, as the VS Code and Neovim clients this replays as send it
        options = {"engine": {"mode": "connect", "socket": sock}, "debounce_policy": policy,
                   "debounce_ms": debounce_ms, "request_timeout_ms": int(timeout_s * 1000), "event_log": False,
                   "next_edit_inline_completion": False, **(settings or {})}
        capabilities = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()))
        await asyncio.wait_for(client.initialize_async(
            types.InitializeParams(capabilities=capabilities, initialization_options=options)), timeout_s)
        client.initialized(types.InitializedParams())
        warm = f"{next(iter(trace.documents)).rsplit('/', 1)[0]}/warmup.py"
        editor.open(warm, WARMUP)
        editor.cursor = (warm, WARMUP.count("\n"), 4)
        editor.ask(AUTOMATIC)  # the engine's first request and the server's handshake, outside the figures
        await editor.settle(timeout_s)
        editor.tally = Tally()
        for uri, text in trace.documents.items():
            editor.open(uri, text)
        before = await _engine_figures(sock)
        loop = asyncio.get_running_loop()
        start = loop.time()
        marks: dict[int, tuple[tuple, float]] = {}
        for index, event in enumerate(trace.events):
            await asyncio.sleep(max(0.0, start + event.at_ms / 1000 - loop.time()))
            editor.play(event)
            if event.kind in (TYPE, DELETE):
                marks[index] = (editor.state(), loop.time())
        await asyncio.sleep(max(0.0, start + trace.end_ms / 1000 - loop.time()))
        await editor.settle(timeout_s)
        after = await _engine_figures(sock)
        server = await server_status(client)
    finally:
        await close_client(client)
    tally = editor.tally
    to_answer, to_suggestion = [], []
    for index in trace.pauses():
        state, typed_at = marks[index]
        if state in tally.answered_at:
            to_answer.append((tally.answered_at[state] - typed_at) * 1000)
        if state in tally.shown_at:
            to_suggestion.append((tally.shown_at[state] - typed_at) * 1000)
    work = {key: after[key] - before[key] for key in after}
    encoded = work["cache_lookup_tokens"] - work["cache_hit_tokens"]
    shown = max(1, tally.shown)
    return {
        "client": kind, "policy": policy, "debounce_ms": debounce_ms, "speed": speed,
        "pauses": len(trace.pauses()), "pause_to_suggestion_ms": percentiles(to_suggestion),
        "pause_to_answer_ms": percentiles(to_answer), "unanswered_pauses": len(trace.pauses()) - len(to_answer),
        "shown": tally.shown, "stale": tally.stale, "empty": tally.empty,
        "errors": tally.errors,
        "engine": {"requests": work["completed"], "forward_passes": work["forward_passes"],
                   "forward_passes_per_shown": round(work["forward_passes"] / shown, 2),
                   "encoded_tokens": encoded, "encoded_tokens_per_shown": round(encoded / shown, 1),
                   "cached_fraction": round(work["cache_hit_tokens"] / max(1, work["cache_lookup_tokens"]), 3)},
        "invoked": {"requests": tally.invoked_sent, "latency_ms": percentiles(tally.invoked_ms),
                    "shown": tally.invoked_shown},
        "server_waits_ms": server.get("debounce", {}).get("waits", {}),
        "server_policy": server.get("debounce", {}).get("policy"),
    }


def bench_typing(sock: str, sources: list[Path], *, policies: list[str], clients: list[str], debounce_ms: int = 30,
                 seed: int = 0, files: int = 3, holes_per_file: int = 4, speed: float = 1.0,
                 timeout_s: float = 30.0, server_root: Path | None = None) -> list[dict[str, Any]]:
    """Every client kind with every policy, on the same trace (fresh documents per run), one run at a time."""
    runs = []
    for kind, policy in itertools.product(clients, policies):
        root = f"file:///typing/{kind}-{policy}-{time.time_ns()}"
        trace = make_trace(sources, seed=seed, files=files, holes_per_file=holes_per_file, speed=speed, root=root)
        figures = asyncio.run(replay(sock, trace, kind=kind, policy=policy, debounce_ms=debounce_ms, speed=speed,
                                     timeout_s=timeout_s, server_root=server_root))
        figures["server_root"] = str(server_root or "")
        print(f"  typing: {figures}", file=sys.stderr)
        runs.append(figures)
    return runs


# ---- cursor jumps: the first fill at a new place, with and without warming -----------------------------

MOVE_DEBOUNCE_MS = 100.0  # the editors report a cursor move once it stood still this long
ENGINE_WORK = ("results", "prompt_tokens", "cached_tokens")


def jump_places(sources: list[Path], root: str, *, jumps: int, seed: int) -> tuple[dict[str, str], list[tuple]]:
    """Documents (uri -> text) and ``jumps`` places (uri, line, character): ends of indented ASCII code lines,
    each in a part of its file not visited before, the files taken in turn."""
    rng = random.Random(seed)
    documents: dict[str, str] = {}
    candidates: list[list[tuple]] = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        uri = f"{root}/{path.name}"
        lines = text.split("\n")
        ends = [(uri, n, len(line)) for n, line in enumerate(lines)
                if line.isascii() and line.startswith((" ", "\t")) and len(line.strip()) > 8
                and not line.strip().startswith("#")]
        if len(ends) > 20:
            documents[uri] = text
            rng.shuffle(ends)
            candidates.append(ends)
    places: list[tuple] = []
    while len(places) < jumps and any(candidates):
        for ends in candidates:
            if ends and len(places) < jumps:
                places.append(ends.pop())
    return documents, places


async def start_session(name: str, sock: str, documents: dict[str, str], *, timeout_s: float,
                        settings: dict[str, Any] | None = None) -> BaseLanguageClient:
    """A fresh ``infill serve`` on ``sock``'s engine, initialized as the editors do (no debounce, the event log
    off, ``settings`` on top), its first fill (the engine's first request and the server's handshake) done on a
    file of its own outside the figures, and ``documents`` (uri -> text) open."""
    client = BaseLanguageClient(name, "1")
    await client.start_io(sys.executable, "-m", "infill_lsp.server", "--log-level", "warning",
                          "--log-file", os.devnull)
    try:
        options = {"engine": {"mode": "connect", "socket": sock}, "debounce_policy": "none",
                   "request_timeout_ms": int(timeout_s * 1000), "event_log": False,
                   "next_edit_inline_completion": False, **(settings or {})}  # as the editors send it
        capabilities = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()))
        await asyncio.wait_for(client.initialize_async(
            types.InitializeParams(capabilities=capabilities, initialization_options=options)), timeout_s)
        client.initialized(types.InitializedParams())
        editor = Editor(client, "vscode", 1.0, timeout_s)
        warmup = f"{next(iter(documents)).rsplit('/', 1)[0]}/warmup.py"
        editor.open(warmup, WARMUP)
        editor.cursor = (warmup, WARMUP.count("\n"), 4)
        editor.ask(AUTOMATIC)
        await editor.settle(timeout_s)
        for uri, text in documents.items():
            editor.open(uri, text)
    except BaseException:
        await close_client(client)
        raise
    return client


async def timed_fill(client: BaseLanguageClient, uri: str, line: int, character: int, timeout_s: float
                     ) -> tuple[float, list]:
    """An automatic inline completion at (``line``, ``character``) of ``uri``: its milliseconds and items."""
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=AUTOMATIC),
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character))
    sent = time.perf_counter()
    answer = await asyncio.wait_for(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params), timeout_s)
    elapsed = (time.perf_counter() - sent) * 1000
    return elapsed, answer.items if isinstance(answer, types.InlineCompletionList) else list(answer or [])


async def replay_jumps(sock: str, documents: dict[str, str], places: list[tuple], *, warm: bool, pause_ms: float,
                       timeout_s: float = 30.0, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh ``infill serve`` (warming on or off); per place: jump there, report the move as the editors do
    (``MOVE_DEBOUNCE_MS`` after it), rest ``pause_ms``, then ask an automatic inline completion there."""
    client = await start_session("infill-jump-bench", sock, documents, timeout_s=timeout_s,
                                 settings={"warm": warm, **(settings or {})})
    latencies: list[float] = []
    keystroke: list[float] = []  # the same place after one typed character ("r")
    agreeing: list[float] = []  # the same place after typing the first character of the fill shown there
    keystroke_work: dict[str, int] = {}
    versions: dict[str, int] = {}
    shown = errors = 0
    try:
        before = await server_status(client)
        for uri, line, character in places:
            await asyncio.sleep(MOVE_DEBOUNCE_MS / 1000)
            moved = {"textDocument": {"uri": uri, "version": versions.get(uri, 1)},
                     "position": {"line": line, "character": character}}
            client.protocol.notify("infill/didMoveCursor", moved)
            await asyncio.sleep(max(0.0, pause_ms - MOVE_DEBOUNCE_MS) / 1000)
            try:
                elapsed, items = await timed_fill(client, uri, line, character, timeout_s)
            except Exception:  # noqa: BLE001 - counted
                errors += 1
                continue
            latencies.append(elapsed)
            shown += bool(items)
            # One keystroke at the place, then the same ask; its engine work is kept out of the jump fills' figures.
            # Where a fill was shown, first its own first character (the user accepting it as they type), undone
            # again; then "r", which may or may not agree with the fill.
            ahead = (await server_status(client))["engine_work"]
            first = _inserted(items, line, character)[:1]
            if first and first != "\n":
                _type(client, uri, versions, line, character, first)
                try:
                    elapsed, _ = await timed_fill(client, uri, line, character + 1, timeout_s)
                    agreeing.append(elapsed)
                except Exception:  # noqa: BLE001 - counted
                    errors += 1
                _type(client, uri, versions, line, character, "", delete=1)
            _type(client, uri, versions, line, character, "r")
            try:
                elapsed, _ = await timed_fill(client, uri, line, character + 1, timeout_s)
            except Exception:  # noqa: BLE001 - counted
                errors += 1
                continue
            keystroke.append(elapsed)
            behind = (await server_status(client))["engine_work"]
            for k in ENGINE_WORK:
                keystroke_work[k] = keystroke_work.get(k, 0) + behind[k] - ahead[k]
        after = await server_status(client)
    finally:
        await close_client(client)
    work = {k: after["engine_work"][k] - before["engine_work"][k] - keystroke_work.get(k, 0) for k in ENGINE_WORK}
    encoded = work["prompt_tokens"] - work["cached_tokens"]
    warming = after.get("warming", {})
    return {"warm": warm, "pause_ms": pause_ms, "jumps": len(places), "first_fill_ms": percentiles(latencies),
            "after_keystroke_ms": percentiles(keystroke), "after_agreeing_keystroke_ms": percentiles(agreeing),
            "shown": shown, "errors": errors,
            "fill_encoded_tokens_mean": round(encoded / max(1, work["results"]), 1),
            "fill_cached_fraction": round(work["cached_tokens"] / max(1, work["prompt_tokens"]), 3),
            "warm_ups": {k: warming.get(k, 0) for k in ("sent", "warmed", "cancelled", "encoded_tokens")}}


def _inserted(items: list, line: int, character: int) -> str:
    """The text the first inline completion item inserts at (``line``, ``character``) ("" for none, or for
    an item replacing text elsewhere)."""
    if not items:
        return ""
    item = items[0]
    if item.range is not None and (item.range.start.line, item.range.start.character) != (line, character):
        return ""
    text = item.insert_text
    return text if isinstance(text, str) else getattr(text, "value", "")


def _type(client: BaseLanguageClient, uri: str, versions: dict[str, int], line: int, character: int, text: str,
          *, delete: int = 0) -> None:
    """Send the change of typing ``text`` at (``line``, ``character``) of ``uri`` (or deleting ``delete``
    characters there), as the next version."""
    versions[uri] = versions.get(uri, 1) + 1
    end = types.Position(line, character + delete)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
        [types.TextDocumentContentChangePartial(range=types.Range(types.Position(line, character), end), text=text)]))


def bench_jumps(sock: str, sources: list[Path], *, jumps: int = 20, pause_ms: float = 300.0, seed: int = 0,
                timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """First fill after a jump and a pause, warming off then on, on the same places (fresh document URIs per
    run, so neither finds the other's cache), one run at a time against one engine."""
    runs = []
    for warm in (False, True):
        root = f"file:///jumps/{'warm' if warm else 'cold'}-{time.time_ns()}"
        documents, places = jump_places(sources, root, jumps=jumps, seed=seed)
        figures = asyncio.run(replay_jumps(sock, documents, places, warm=warm, pause_ms=pause_ms, timeout_s=timeout_s))
        print(f"  jumps: {figures}", file=sys.stderr)
        runs.append(figures)
    return runs


# ---- the context window's cache reuse on cursor moves ---------------------------------------------------


def _line_ends(text: str) -> list[int]:
    """Offsets of the ends of indented code lines: cursors where a user finishes a line."""
    out, offset = [], 0
    for line in text.split("\n"):
        if line.startswith((" ", "\t")) and len(line.strip()) > 8 and not line.strip().startswith("#"):
            out.append(offset + len(line))
        offset += len(line) + 1
    return out


def bench_anchor(core, sources: list[Path], *, samples: int = 12, seed: int = 0) -> dict[str, Any]:
    """Cached share of the prompt when the cursor moves, with the prefix start on the grid and sliding."""
    from engine.core.kv import common_prefix_length
    from engine.protocol import InfillResult
    from infill_lsp.completion import context_budgets
    from infill_lsp.config import Settings
    from infill_lsp.context import ANCHOR_GRID_SHARE, build_context
    from infill_lsp.documents import encode_source
    from infill_lsp.fill import plan_from_context
    from infill_lsp.languages import LanguageRegistry

    support = LanguageRegistry().get("python")
    budgets, _ = context_budgets(Settings(), core.welcome)
    rng = random.Random(seed)
    documents = [(p.read_text(encoding="utf-8")) for p in sources]
    documents = [(t, _line_ends(t)) for t in documents if len(_line_ends(t)) > 60]
    visits_by_scenario: dict[str, list[list[tuple[str, int]]]] = {}
    for _ in range(samples):
        text, ends = rng.choice(documents)
        i = rng.randrange(20, len(ends) - 20)
        a, near = ends[i], ends[i + rng.randint(1, 5)]
        far = ends[(i + len(ends) // 2) % len(ends)]
        for name, visits in (("keystroke", [(text, a), (text[:a] + "x" + text[a:], a + 1)]),
                             ("same_function", [(text, a), (text, near)]),
                             ("same_document", [(text, a), (text, far)]),
                             ("back_to_hole", [(text, a), (text, far), (text, a)])):
            visits_by_scenario.setdefault(name, []).append(visits)
    ids = itertools.count(50_000)
    report: dict[str, Any] = {"prompt_order": "suffix first", "prefix_chars": budgets.prefix_chars}
    for label, share in (("grid", ANCHOR_GRID_SHARE), ("sliding", 0)):
        rows = {}
        for name, samples_of in visits_by_scenario.items():
            cached, prefix_first, same_start = [], [], 0
            for visits in samples_of:  # the last visit measured against the first
                key, anchor, first = f"anchor-{label}-{name}-{next(ids)}", None, None
                for text, cursor in visits:
                    tree = support.parse(encode_source(text))
                    ctx = build_context(text, cursor, language=support, tree=tree, budgets=budgets, anchor=anchor,
                                        grid_share=share)
                    hole = plan_from_context(ctx, cursor=cursor, language="python")
                    core.add(hole.request(next(ids), document_key=key, max_steps=1, canvas_lengths=(8,)))
                    result = None
                    while core.has_work():
                        result = next((m for m in core.step() if isinstance(m, InfillResult)), result)
                    anchor, first = ctx.prefix_start, first or ctx
                if result is not None:
                    cached.append(result.cached_tokens / max(1, result.prompt_tokens))
                    # What a prefix-first prompt would reuse: the tokens the two prefixes share from the start.
                    encode = core.tokenizer.encode
                    shared = common_prefix_length(encode(first.prefix), encode(ctx.prefix))
                    prefix_first.append(shared / max(1, result.prompt_tokens))
                    same_start += first.prefix_start == ctx.prefix_start
            rows[name] = {"cached_fraction": round(statistics.fmean(cached), 3),
                          "same_prefix_start": round(same_start / len(samples_of), 2),
                          "prefix_first_fraction": round(statistics.fmean(prefix_first), 3)}
        report[label] = rows
    return report
