"""The whole product path: an LSP session, a real engine process over its socket, the transformers model class.

A tiny untrained DiffusionGemma model (built in the test) is served by ``python -m engine``; the server
connects to it and answers an inline completion with a fill produced by the engine's denoising loop.
Plain-text documents keep the parse check from rejecting an untrained model's noise.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_helpers import complete, initialize, open_document, status
from pytest_lsp import LanguageClient

from engine.host.launch import EngineLaunch
from infill_tools import bench

URI = "file:///work/notes.txt"
TEXT = "the quick brown fox jumps over the lazy dog\nand then it ran away\n"


@pytest.fixture
def engine_socket(tiny_model_dir: Path):
    with bench.engine_socket(EngineLaunch(model_dir=tiny_model_dir)) as sock:
        yield sock


async def test_inline_completion_comes_from_the_diffusion_engine(client: LanguageClient, engine_socket: Path):
    options = {"engine": {"mode": "connect", "socket": str(engine_socket)}, "debounce_ms": 0,
               "request_timeout_ms": 20_000, "max_steps": 4,
               "num_candidates": 8}  # random weights: most fills fail the checks of a file without a grammar
    await initialize(client, "neovim", options)
    open_document(client, URI, TEXT, language_id="plaintext")
    items = []
    for _ in range(3):  # the engine may still be warming up on a loaded machine
        items = await complete(client, URI, 0, len("the quick brown "))
        if items:
            break
        await asyncio.sleep(0.5)
    assert items and items[0].insert_text
    info = await status(client)
    engine = info["engine"]
    assert engine["state"] == "ready"
    assert engine["model"] == "tiny-untrained"
    assert engine["backend"] == "torch"
    assert info["heavy_modules_loaded"] == []  # torch lives in the engine process only
