"""The whole product path: an LSP session, a real engine process over its socket, the transformers model class.

A tiny untrained DiffusionGemma model (built in the test) is served by ``python -m engine``; the server
connects to it and answers an inline completion with a fill produced by the engine's denoising loop.
Plain-text documents keep the parse check from rejecting an untrained model's noise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsp_helpers import PYTHONPATH, ROOT, SERVER, complete, initialize, open_document, status
from pytest_lsp import LanguageClient

URI = "file:///work/notes.txt"
TEXT = "the quick brown fox jumps over the lazy dog\nand then it ran away\n"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def engine_socket(tiny_model_dir: Path):
    directory = Path(tempfile.mkdtemp(prefix="infill-", dir="/tmp"))
    directory.chmod(0o700)
    sock = directory / "engine.sock"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    command = [sys.executable, "-m", "engine", "--socket", str(sock), "--model", str(tiny_model_dir),
               "--idle-exit", "60"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        for _ in range(600):
            if sock.exists() or process.poll() is not None:
                break
            import time

            time.sleep(0.05)
        assert sock.exists(), "the engine did not start listening"
        yield sock
    finally:
        process.terminate()
        process.wait(15)
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


async def test_inline_completion_comes_from_the_diffusion_engine(client: LanguageClient, engine_socket: Path):
    options = {"engine": {"mode": "connect", "socket": str(engine_socket)}, "debounce_ms": 0,
               "request_timeout_ms": 20_000, "max_steps": 4}
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
