"""Through a real language server: Restart Engine gives a fresh engine process, and a server whose engine
settings the shared engine does not serve tells the user which are in force (end to end, fake engine core)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_helpers import PYTHONPATH, initialize, status, stop_engine_on, wait_for_messages
from lsprotocol import types
from pytest_lsp import LanguageClient

from engine.clients.connect import open_client, stop_engine
from engine.host.launch import EngineLaunch

FAKE = "fake_core:make_core"


@pytest.fixture
def sock(monkeypatch, short_dir):
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)  # an engine this test starts imports the fake core
    return short_dir / "engine.sock"


def _options(sock: Path, **engine: object) -> dict:
    return {"engine": {"mode": "spawn", "socket": str(sock), "core_factory": FAKE, **engine}, "debounce_ms": 0}


async def _engine_pid(client: LanguageClient) -> int:
    for _ in range(200):
        info = (await status(client))["engine"]
        if info.get("pid"):
            return info["pid"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the engine did not come up: {info}")


async def test_restart_engine_starts_a_fresh_engine_process(client: LanguageClient, sock: Path):
    await initialize(client, "visual-studio-code", _options(sock))
    try:
        before = await _engine_pid(client)
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="infill.restartEngine"))
        after = await _engine_pid(client)
        assert after != before
        await wait_for_messages(client, 1)
        assert any(f"stopped the engine (pid {before})" in m.message for m in client.messages)
    finally:
        await stop_engine_on(sock)


async def test_a_settings_mismatch_on_a_shared_engine_is_shown_once(client: LanguageClient, sock: Path):
    other = open_client(EngineLaunch(core_factory=FAKE, dtype="float32", idle_exit=60.0), socket=sock)
    await other.start()  # another editor's engine, still in use
    try:
        await initialize(client, "neovim", _options(sock, dtype="bfloat16"))
        assert await _engine_pid(client) == other.engine_pid
        await wait_for_messages(client, 1)
        shown = [m.message for m in client.messages if "not your settings" in m.message]
        assert len(shown) == 1
        assert "dtype bfloat16 (the engine's weights are float32)" in shown[0] and "1 other client" in shown[0]
    finally:
        await stop_engine(other, sock)
