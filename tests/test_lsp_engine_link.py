"""The server's hold on the engine: start, outage reported once, backoff, restart, cancel, timeouts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from lsp_fake_engine import FakeEngineClient
from lsp_helpers import PYTHONPATH, ROOT

from engine.protocol import InfillRequest
from infill_lsp.config import EngineSettings
from infill_lsp.engine_link import EngineLink, EngineState, make_engine_client, resolve_callable
from infill_lsp.server import _tcp_address

SETTINGS = EngineSettings(mode="factory", factory="lsp_fake_engine:make_client", restart_backoff_ms=1000)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def request(fill: str, request_id: str = "1") -> InfillRequest:
    return InfillRequest(request_id=request_id, prefix=f"# FILL: {fill}\nx = ", suffix="\n")


def link_with(clients: list[FakeEngineClient], outages: list[str], clock=None) -> EngineLink:
    made = iter(clients)
    return EngineLink(SETTINGS, lambda s: next(made), on_outage=outages.append, clock=clock or Clock())


async def test_a_healthy_engine_answers_and_records_latency():
    outages: list[str] = []
    link = link_with([FakeEngineClient()], outages)
    result = await link.infill(request("1"), timeout=1)
    assert result is not None and result.candidates[0].text == "1"
    assert link.state is EngineState.READY and outages == []
    assert link.latency_ms()["count"] == 1
    info = await link.status()
    assert info["model"] == "fake-engine" and info["completed"] == 1
    await link.close()


async def test_a_crash_is_reported_and_retried_after_a_growing_backoff():
    clock, outages = Clock(), []
    clients = [FakeEngineClient() for _ in range(3)]
    link = link_with(clients, outages, clock)
    assert await link.infill(request("<<unavailable>>"), timeout=1) is None
    assert link.state is EngineState.DOWN and len(outages) == 1
    assert await link.infill(request("2"), timeout=1) is None  # backing off: no new client yet
    clock.now += 1.01
    assert await link.infill(request("<<unavailable>>"), timeout=1) is None
    assert link.failures == 2 and link.backoff_s() == 2.0
    clock.now += 1.5
    assert await link.infill(request("2"), timeout=1) is None  # 2 s backoff not over yet
    clock.now += 1.0
    result = await link.infill(request("2"), timeout=1)
    assert result is not None and link.failures == 0 and link.restarts == 2
    await link.close()


async def test_an_engine_that_cannot_start_degrades_to_no_answers():
    outages: list[str] = []
    link = link_with([FakeEngineClient(fail_start=True)], outages)
    assert await link.infill(request("1"), timeout=1) is None
    assert link.state is EngineState.DOWN and "refuses to start" in outages[0]
    assert "refuses to start" in (await link.status())["last_error"]


async def test_a_factory_that_raises_is_an_outage_not_a_crash():
    def broken(settings):
        raise RuntimeError("no such engine")

    outages: list[str] = []
    link = EngineLink(SETTINGS, broken, on_outage=outages.append)
    assert await link.infill(request("1"), timeout=1) is None
    assert outages == ["no such engine"]


async def test_a_request_error_fails_alone():
    outages: list[str] = []
    link = link_with([FakeEngineClient()], outages)
    assert await link.infill(request("<<error>>"), timeout=1) is None
    assert link.state is EngineState.READY and outages == []
    assert await link.infill(request("3", "2"), timeout=1) is not None


async def test_a_timeout_cancels_the_request_but_keeps_a_live_engine():
    client = FakeEngineClient()
    link = link_with([client], [])
    assert await link.infill(request("<<hang>>"), timeout=0.1) is None
    await asyncio.sleep(0.05)
    assert link.state is EngineState.READY
    assert (await link.status())["active"] == 0


async def test_cancelling_the_caller_cancels_the_engine_request():
    client = FakeEngineClient()
    link = link_with([client], [])
    task = asyncio.ensure_future(link.infill(request("<<hang>>", "7"), timeout=30))
    await asyncio.sleep(0.05)
    assert (await link.status())["active"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert (await link.status())["active"] == 0 and client.completed == 1


async def test_restart_replaces_the_client_at_once():
    first, second = FakeEngineClient(), FakeEngineClient()
    link = link_with([first, second], [])
    await link.infill(request("1"), timeout=1)
    await link.restart()
    await link.infill(request("1"), timeout=1)
    assert second.requests and first.dead


async def test_closed_links_answer_nothing():
    link = link_with([FakeEngineClient()], [])
    await link.close()
    assert await link.infill(request("1"), timeout=1) is None


def test_factory_mode_resolves_the_named_function():
    assert isinstance(make_engine_client(SETTINGS), FakeEngineClient)


def test_inproc_mode_builds_an_inproc_client_over_a_core_factory():
    pytest.importorskip("engine.clients.inproc")
    client = make_engine_client(EngineSettings(mode="inproc", core_factory="fake_core:make_core"))
    assert type(client).__name__ == "InprocEngineClient"


def test_resolve_callable_reports_bad_names():
    from engine.clients.interface import EngineUnavailable

    with pytest.raises(EngineUnavailable, match="cannot load"):
        resolve_callable("tests.no_such_module:f")


@pytest.mark.parametrize("value", ["0.0.0.0:9000", "example.com:80", "127.0.0.1", "127.0.0.1:notaport"])
def test_tcp_listens_on_loopback_only(value):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        _tcp_address(value)


def test_tcp_address_accepts_loopback():
    assert _tcp_address("127.0.0.1:2087") == ("127.0.0.1", 2087)
    assert _tcp_address("[::1]:2087") == ("::1", 2087)


def test_the_language_server_process_imports_neither_torch_nor_onnxruntime():
    code = (
        "import sys, infill_lsp.server, infill_lsp.engine_link\n"
        "from infill_lsp.engine_link import make_engine_client\n"
        "from infill_lsp.config import EngineSettings\n"
        "make_engine_client(EngineSettings(mode='connect', socket='/nonexistent'))\n"
        "make_engine_client(EngineSettings(mode='inproc', core_factory='fake_core:make_core'))\n"
        "infill_lsp.server.create_server()\n"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_code_naming_settings_need_the_servers_permission(monkeypatch):
    from engine.clients.interface import EngineUnavailable
    from infill_lsp.config import parse_settings
    from infill_lsp.engine_link import make_engine_client

    settings, _ = parse_settings({"engine": {"mode": "factory", "factory": "os:system"}})
    monkeypatch.delenv("INFILL_ALLOW_CODE_SETTINGS", raising=False)
    with pytest.raises(EngineUnavailable, match="INFILL_ALLOW_CODE_SETTINGS"):
        make_engine_client(settings.engine)
    settings, _ = parse_settings({"engine": {"mode": "inproc", "core_factory": "os:system"}})
    with pytest.raises(EngineUnavailable):
        make_engine_client(settings.engine)
