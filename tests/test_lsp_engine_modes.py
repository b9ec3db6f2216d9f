"""End to end through the real engine clients: in-process, connect to a running engine, and spawn one.

The engine side uses tests/fake_core.py's FakeCore, whose fill is ``[<prefix[-6:]>|<suffix[:6]>]``;
plain-text documents keep the parse check out of the way.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import PYTHONPATH, ROOT, complete, initialize, open_document, status
from pytest_lsp import LanguageClient

pytest.importorskip("engine.clients.inproc")
pytest.importorskip("fake_core")

URI = "file:///work/notes.txt"
TEXT = "hello abcdef" + "ghijkl more\n"
EXPECTED = "[abcdef|ghijkl]"


@pytest.fixture
def socket_dir(short_dir):
    return short_dir


async def fill_of(client: LanguageClient) -> list[str]:
    open_document(client, URI, TEXT, language_id="plaintext")
    items = await complete(client, URI, 0, len("hello abcdef"))
    return [i.insert_text for i in items]


async def test_inproc_engine(client: LanguageClient):
    options = {"engine": {"mode": "inproc", "core_factory": "fake_core:make_core"}, "debounce_ms": 0}
    await initialize(client, "neovim", options)
    assert await fill_of(client) == [EXPECTED]
    info = await status(client)
    assert info["engine"]["model"] == "fake-model" and info["heavy_modules_loaded"] == []


async def test_connect_to_a_running_engine(client: LanguageClient, socket_dir: Path):
    sock = socket_dir / "engine.sock"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    args = [
        sys.executable,
        "-m",
        "engine",
        "--socket",
        str(sock),
        "--core-factory",
        "fake_core:make_core",
    ]
    engine = subprocess.Popen([*args, "--idle-exit", "30"], env=env, cwd=ROOT)
    try:
        for _ in range(200):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        options = {"engine": {"mode": "connect", "socket": str(sock)}, "debounce_ms": 0}
        await initialize(client, "visual-studio-code", options)
        assert await fill_of(client) == [EXPECTED]
        assert (await status(client))["engine"]["state"] == "ready"
    finally:
        engine.terminate()
        engine.wait(10)


async def test_spawn_starts_an_engine_when_none_listens(client: LanguageClient, socket_dir: Path):
    from engine.clients.unix_socket import SocketEngineClient

    sock = socket_dir / "engine.sock"
    options = {
        "engine": {"mode": "spawn", "socket": str(sock), "core_factory": "fake_core:make_core"},
        "debounce_ms": 0,
        "request_timeout_ms": 20_000,
    }
    await initialize(client, "neovim", options)
    try:
        assert await fill_of(client) == [EXPECTED]
    finally:
        if sock.exists():  # the spawned engine outlives the server by design: shut it down
            engine = SocketEngineClient(sock)
            await engine.start()
            await engine.shutdown_engine()
            await engine.close()
            for _ in range(100):
                if not sock.exists():
                    break
                await asyncio.sleep(0.05)
