"""The published checkpoint's layout through the whole product path: an editor session, the chat format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_helpers import complete, initialize, open_document, status

from infill_tools.published import build_published_checkpoint

URI = "file:///work/notes.txt"
TEXT = "the quick brown fox jumps over the lazy dog\nand then it ran away\n"


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory) -> Path:
    return build_published_checkpoint(tmp_path_factory.mktemp("published") / "diffusiongemma-26B-A4B-it")


async def test_a_published_layout_checkpoint_fills_through_the_language_server(client, published_dir):
    options = {"engine": {"mode": "inproc", "modelDir": str(published_dir), "dtype": "float32",
                          "startTimeoutMs": 120_000},
               "debounce_ms": 0, "request_timeout_ms": 120_000, "max_steps": 2,
               "num_candidates": 8}  # random weights: most fills fail the checks of a file without a grammar
    await initialize(client, "neovim", options)
    open_document(client, URI, TEXT, language_id="plaintext")
    for _ in range(600):  # the model loads in the server's process
        engine = (await status(client))["engine"]
        if engine["state"] != "starting":
            break
        await asyncio.sleep(0.2)
    assert engine["state"] == "ready", engine
    assert engine["model"] == "diffusiongemma-26B-A4B-it" and engine["prompt_format"] == "chat"
    items = await complete(client, URI, 0, len("the quick brown "))
    assert items and items[0].insert_text  # random weights: some text, through the chat format's canvas
