"""Bad editor input: settings of every wrong type, hostile positions and documents, racing edits.

Pure parts are fuzzed with hypothesis in this process (settings, document edits mirrored into the
incremental syntax tree, context extraction at any position); one end-to-end session then sends a
barrage of malformed and hostile requests to a real server process and checks it answers every one
and still completes afterwards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import random
import time
import uuid

import pytest
import pytest_lsp
import soak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_helpers import SERVER, change_document, complete, initialize, open_document, status
from lsprotocol import types
from pygls.protocol.json_rpc import JsonRPCRequestMessage
from pytest_lsp import LanguageClient
from reliability_support import record

from infill_lsp.config import Settings, parse_settings
from infill_lsp.context import Budgets, build_context
from infill_lsp.documents import Document, TextChange
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import UTF8, UTF16, UTF32, LineIndex, Position

FUZZ = settings(
    max_examples=soak.cases(fast=150, soak=1500), deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
REGISTRY = LanguageRegistry()
PYTHON = REGISTRY.get("python")
tried: dict[str, int] = {}


def count(name: str) -> None:
    tried[name] = tried.get(name, 0) + 1


# ---- settings of every wrong type ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = [f.name for f in dataclasses.fields(Settings)] + ["automaticSteps", "model", "socket", "infill"]
ENGINE_FIELDS = ["mode", "socket", "model_dir", "device", "backend", "core_factory", "factory",
                 "restart_backoff_ms", "startTimeoutMs"]  # fmt: skip


@soak.mark
@FUZZ
@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3).flatmap(
            lambda flat: st.dictionaries(st.sampled_from(ENGINE_FIELDS), json_values, max_size=5).map(
                lambda engine: {**flat, "engine": engine}
            )
        ),
    )
)
def test_parse_settings_never_raises_and_returns_valid_settings(raw) -> None:
    count("settings")
    parsed, warnings = parse_settings(raw)
    assert isinstance(parsed, Settings)
    dataclasses.replace(parsed)  # the result passes its own validation
    dataclasses.replace(parsed.engine)
    assert all(isinstance(w, str) and w for w in warnings)
    again, _ = parse_settings(raw, parsed)  # and layering on top of it is as safe
    assert isinstance(again, Settings)


@pytest.mark.parametrize(
    "value", [None, True, 3.5, -1, 10**30, "12", [], {}, [1], float("nan"), float("inf")]
)
def test_every_wrong_type_for_every_field_is_reported_by_name(value) -> None:
    for name in (f.name for f in dataclasses.fields(Settings) if f.name != "engine"):
        parsed, warnings = parse_settings({name: value})
        if not any(name in w for w in warnings):  # silently taken only when it is a valid value
            accepted = getattr(parsed, name)
            assert accepted == value or (isinstance(value, list) and accepted == tuple(value)), (name, value)
        count("settings by field")


# ---- documents, positions, context --------------------------------------------------------------

alphabet = st.sampled_from(
    list("abc ():\n\r\t_=#\"'[]{}.,\\") + ["\x00", "é", "😀", "\ud800", "\u2028", "　"]
)
texts = st.lists(alphabet, max_size=120).map("".join)
positions = st.tuples(st.integers(-3, 40), st.integers(-3, 60))


@soak.mark
@FUZZ
@given(texts, st.lists(st.tuples(st.one_of(st.none(), st.tuples(positions, positions)), texts), max_size=8),
       st.sampled_from([UTF8, UTF16, UTF32]))  # fmt: skip
def test_document_edits_keep_the_incremental_tree_equal_to_a_fresh_parse(text, edits, encoding) -> None:
    count("document edit sequences")
    document = Document("file:///f.py", text, language=PYTHON, encoding=encoding)
    for range_, inserted in edits:
        document.tree  # noqa: B018 - parse now, so the next edit is mirrored into a real tree
        change = TextChange(
            inserted, None if range_ is None else (Position(*range_[0]), Position(*range_[1]))
        )
        document.apply([change])
    tree = document.tree
    if "\x00" in document.text:
        assert tree is None and not document.completable
        return
    fresh = PYTHON.parse(document.text.encode("utf-8", "surrogatepass"))
    assert str(tree.root_node) == str(fresh.root_node)


@soak.mark
@FUZZ
@given(texts, positions, st.sampled_from([UTF8, UTF16, UTF32]), st.integers(0, 50), st.integers(0, 50))
def test_context_at_any_position_is_built_without_error(text, position, encoding, prefix, suffix) -> None:
    count("context at hostile positions")
    index = LineIndex(text, encoding)
    cursor = index.offset(Position(*position))
    assert 0 <= cursor <= len(text)
    if 0xD800 <= ord(text[cursor - 1 : cursor] or "a") <= 0xDBFF:
        pass  # a lone high surrogate is a character of its own in a Python str
    tree = PYTHON.parse(text.encode("utf-8", "surrogatepass"))
    context = build_context(
        text, cursor, language=PYTHON, tree=tree, budgets=Budgets(prefix_chars=prefix, suffix_chars=suffix)
    )
    assert text[context.prefix_start : context.suffix_end] == context.prefix + context.suffix
    assert index.offset(index.position(cursor)) == cursor or "\r" in text


@pytest.mark.parametrize(
    "name,text",
    [
        ("parentheses", "x = " + "(" * 50_000 + "\n"),
        ("brackets", "x = " + "[" * 20_000 + "]" * 20_000 + "\n"),
        ("nested ifs", "".join("    " * i + "if x:\n" for i in range(300)) + "    " * 300 + "pass\n"),
        ("nested lambdas", "f = " + "lambda: " * 5_000 + "1\n"),
        ("huge line", "x = '" + "a" * 1_000_000 + "'\n"),
    ],
)
def test_deeply_nested_and_huge_code_parses_and_completes_in_bounded_time(name, text) -> None:
    began = time.perf_counter()
    document = Document("file:///deep.py", text, language=PYTHON)
    tree = document.tree
    cursor = len(text) // 2
    context = build_context(
        text, cursor, language=PYTHON, tree=tree, budgets=Budgets(prefix_chars=4000, suffix_chars=1500)
    )
    document.apply([TextChange("y", (document.index.position(cursor), document.index.position(cursor)))])
    assert document.tree is not None
    elapsed = time.perf_counter() - began
    assert len(context.prefix) <= 4000 and len(context.suffix) <= 1500
    assert elapsed < 20, f"{name} took {elapsed:.1f}s"
    count("deep nesting / huge")


# ---- end to end: a barrage against a real server process -----------------------------------------

URI = "file:///work/fuzz.py"
HOSTILE_REQUESTS = soak.cases(fast=3, soak=8)  # per hostile document


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


async def answered(client: LanguageClient, method: str, params: object, timeout: float = 15.0) -> str:
    """Send a raw request, untyped, as a buggy editor would; return "result" or "error" (a hang fails)."""
    protocol = client.protocol
    msg_id = str(uuid.uuid4())
    future: concurrent.futures.Future = concurrent.futures.Future()
    protocol._request_futures[msg_id] = future  # what send_request does, minus typing the params
    protocol._send_data(JsonRPCRequestMessage(id=msg_id, method=method, params=params, jsonrpc="2.0"))
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        raise AssertionError(f"no answer to {method} {json.dumps(params)[:200]}") from None
    except Exception:  # noqa: BLE001 - a JSON-RPC error response is an answer
        return "error"
    return "result"


def inline(uri: str, line: object, character: object) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1}}  # fmt: skip


@soak.mark
async def test_a_barrage_of_hostile_requests_is_answered_and_the_server_keeps_working(client: LanguageClient):
    rng = random.Random(5)
    outcomes = {"result": 0, "error": 0}

    def tally(outcome: str) -> None:
        outcomes[outcome] += 1

    open_document(client, URI, "def f(a):\n    # FILL: return a\n    \n")
    assert [i.insert_text for i in await complete(client, URI, 2, 4)] == ["return a"]

    wrong_types = [None, "x", -1, 2**40, 1.5, [], {}, True]
    for line in wrong_types:  # wrong types and out-of-range values in every position field
        for character in rng.sample(wrong_types, 3):
            tally(await answered(client, "textDocument/inlineCompletion", inline(URI, line, character)))
    for params in (
        [],
        "x",
        None,
        {"textDocument": 3},
        {"position": {}},
        inline(5, 0, 0),
        inline("not a uri", 0, 0),
    ):
        tally(await answered(client, "textDocument/inlineCompletion", params))
    for method in ("infill/status", "workspace/executeCommand", "textDocument/codeAction"):
        tally(await answered(client, method, {"command": 5, "arguments": "x", "range": None}))

    hostile = {
        "file:///work/emoji.py": "s = '😀😀😀'\n# FILL: x\n",
        "file:///work/lone.py": "s = '\ud800'\n# FILL: x\n",
        "file:///work/nul.py": "x = 1\x00\x00\n",
        "file:///work/huge.py": "x = '" + "a" * 300_000 + "'\n",
        "file:///work/deep.py": "x = " + "(" * 30_000 + "\n",
        "file:///work/crlf.py": "a = 1\r\nb = 2\r# FILL: x\r\n",
        "file:///work/unknown.klingon": "Qapla'\n",
    }
    for uri, text in hostile.items():
        language = "klingon" if uri.endswith(".klingon") else "python"
        open_document(client, uri, text, language_id=language)
        lines = text.splitlines() or [""]
        # Inside a surrogate pair (column 6 of the emoji line), past the end of a line, past the end of the
        # file; then random ones (each request on the 30,000-deep document takes seconds: few in the fast run).
        positions = [(0, 6), (1, 2**31 - 1), (10**6, 0)]
        positions += [(rng.choice([0, 1, len(lines), 10**6]), rng.choice([0, 1, 5, 6, 7, 2**31 - 1]))
                      for _ in range(HOSTILE_REQUESTS - len(positions))]  # fmt: skip
        for line, character in positions:
            tally(await answered(client, "textDocument/inlineCompletion", inline(uri, line, character)))

    # Edits racing with requests: changes and completions interleaved without waiting.
    open_document(client, "file:///work/race.py", "def g():\n    # FILL: 1\n    \n", version=1)
    pending = []
    for version in range(2, 60):
        change_document(
            client,
            "file:///work/race.py",
            version,
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(2, 4), types.Position(2, 4 + rng.randint(0, 1))),
                text=rng.choice(["x", "", "😀", "\n", "(("]),
            ),
        )
        pending.append(
            asyncio.ensure_future(
                answered(
                    client,
                    "textDocument/inlineCompletion",
                    inline("file:///work/race.py", 2, rng.randint(0, 8)),
                )
            )
        )
    for outcome in await asyncio.wait_for(asyncio.gather(*pending), 60):
        tally(outcome)
    # A change to a document that was never opened, and a close of one never opened.
    change_document(
        client, "file:///work/never.py", 3, types.TextDocumentContentChangeWholeDocument(text="x")
    )
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier("file:///work/nope.py"))
    )

    # Still alive and still right.
    assert [i.insert_text for i in await complete(client, URI, 2, 4)] == ["return a"]
    assert await status(client)
    cases = sum(outcomes.values())
    assert cases == 24 + 7 + 3 + len(hostile) * HOSTILE_REQUESTS + 58  # every request answered, none hung
    record(
        "LSP hostile requests (one server process)",
        cases=cases,
        answered_result=outcomes["result"],
        answered_error=outcomes["error"],
        outcome="all answered, still completing",
    )


@soak.mark
def test_zz_record_pure_fuzz_counts() -> None:
    """Runs last in this module: records how many generated cases the properties above tried."""
    record(
        "LSP pure fuzz (settings, edits, positions, nesting)",
        cases=sum(tried.values()),
        per_property=dict(tried),
    )
