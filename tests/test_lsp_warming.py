"""Encode before the pause, through a real server and a real (tiny) engine: infill/didMoveCursor warms the
place the cursor rests at, a fill there then finds its whole prompt encoded; moves, settings and bad input."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest_lsp
from lsp_helpers import complete, initialize, open_document, server_config, status, type_text, wait_for_status
from lsprotocol import types
from pytest_lsp import LanguageClient

RECORD = Path(tempfile.mkdtemp(prefix="infill-warm-")) / "engine.jsonl"
URI = "file:///work/app/shapes.py"
TEXT = (
    "import math\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n\n\n"
    "def perimeter(radius):\n    return 2 * math.pi * radius\n\n\ndef describe(radius):\n    text = \n    return text\n"
)
FIRST = (4, len("    return math.pi"))  # (line, character) of two places far apart
SECOND = (12, len("    text = "))


@pytest_lsp.fixture(config=server_config(RECORD_ENGINE=str(RECORD)))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def engine_log() -> list[dict]:
    return [json.loads(line) for line in RECORD.read_text().splitlines()] if RECORD.exists() else []


def warm_adds() -> list[dict]:
    return [e for e in engine_log() if e["event"] == "add" and e["warm"]]


async def start(client: LanguageClient, tiny_model_dir: Path, **settings) -> None:
    RECORD.unlink(missing_ok=True)
    options = {"engine": {"mode": "inproc", "core_factory": "recording_core:make_logging_core",
                          "model_dir": str(tiny_model_dir), "start_timeout_ms": 60_000},
               "debounce_ms": 0, "request_timeout_ms": 60_000, "max_steps": 2, "warm_delay_ms": 100, **settings}
    await initialize(client, "neovim", options)
    open_document(client, URI, TEXT)
    await wait_for_status(client, lambda s: s["engine"]["state"] == "ready", timeout=60)


def move(client: LanguageClient, line: int, character: int, *, uri: str = URI, version: int | None = 1) -> None:
    document = {"uri": uri} if version is None else {"uri": uri, "version": version}
    client.protocol.notify("infill/didMoveCursor", {"textDocument": document,
                                                    "position": {"line": line, "character": character}})


async def test_a_resting_cursor_is_warmed_and_the_fill_there_reuses_the_whole_prompt(client, tiny_model_dir):
    await start(client, tiny_model_dir)
    move(client, *SECOND)
    info = await wait_for_status(client, lambda s: s["warming"]["warmed"] == 1)
    assert info["warming"]["sent"] == 1 and info["warming"]["encoded_tokens"] > 0
    (warm,) = warm_adds()
    assert warm["key"] == URI and warm["prompt"].rstrip().endswith("def describe(radius):\n    text =")
    await complete(client, URI, *SECOND)
    adds = [e for e in engine_log() if e["event"] == "add"]
    real = adds[-1]
    assert not real["warm"] and real["prompt"] == warm["prompt"]  # planned exactly as the fill is
    (result,) = [e for e in engine_log() if e["event"] == "result" and e["id"] == real["id"]]
    assert result["cached_tokens"] == result["prompt_tokens"] == real["tokens"]  # nothing left to encode
    work = (await status(client))["engine_work"]
    assert work["cached_tokens"] == work["prompt_tokens"] > 0
    # The same place again, as of the same version: no second warm-up.
    move(client, *SECOND)
    await asyncio.sleep(0.4)
    assert len(warm_adds()) == 1


async def test_a_fill_after_a_jump_without_warming_encodes_its_prompt(client, tiny_model_dir):
    """The counterpart: warming off, the first fill at a new place encodes most of its prompt."""
    await start(client, tiny_model_dir, warm=False)
    move(client, *SECOND)
    await asyncio.sleep(0.4)
    await complete(client, URI, *SECOND)
    assert warm_adds() == []
    (result,) = [e for e in engine_log() if e["event"] == "result"]
    assert result["cached_tokens"] < result["prompt_tokens"] // 2
    assert (await status(client))["warming"]["sent"] == 0


async def test_a_second_move_cancels_the_first_warm_up(client, tiny_model_dir):
    await start(client, tiny_model_dir, warm_delay_ms=200)
    move(client, *FIRST)
    move(client, *SECOND)
    info = await wait_for_status(client, lambda s: s["warming"]["warmed"] == 1)
    await asyncio.sleep(0.3)
    (warm,) = warm_adds()
    assert warm["prompt"].rstrip().endswith("    text =")  # the second place, never the first
    assert info["warming"]["cancelled"] == 1


async def test_bad_moves_are_ignored_quietly_and_warming_can_be_turned_off(client, tiny_model_dir):
    await start(client, tiny_model_dir)
    move(client, 0, 0, uri="file:///work/app/not-open.py")
    move(client, 999, 0)
    move(client, *SECOND, version=0)  # a version the document is past
    client.protocol.notify("infill/didMoveCursor", {"textDocument": {"uri": URI}, "position": {"line": -1}})
    client.protocol.notify("infill/didMoveCursor", [1, 2, 3])
    info = await wait_for_status(client, lambda s: s["warming"]["ignored"] == 5)
    await asyncio.sleep(0.3)
    assert warm_adds() == [] and info["warming"]["sent"] == 0 and client.messages == []
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"warm": False}))
    await wait_for_status(client, lambda s: s["warming"]["enabled"] is False)  # its handler is a coroutine
    move(client, *SECOND)
    await asyncio.sleep(0.4)
    info = await status(client)
    assert warm_adds() == [] and info["warming"]["enabled"] is False and info["warming"]["sent"] == 0


async def test_without_cursor_reports_the_place_of_the_last_change_is_warmed(client, tiny_model_dir):
    await start(client, tiny_model_dir)
    type_text(client, URI, 2, 12, len("    text = "), "str(")
    await wait_for_status(client, lambda s: s["warming"]["warmed"] == 1)
    (warm,) = warm_adds()
    assert warm["prompt"].rstrip().endswith("    text = str(")


