"""The engine's lifecycle: an idle spawned engine exits, `infill engine status|stop|restart`, the editors'
Restart Engine starts a fresh process, and a client whose settings the shared engine does not serve gets it
restarted with them (no other client) or is told why not (others use it)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path

import msgspec
import pytest
from lsp_helpers import stop_engine_on

from engine.clients.connect import _engine_lock_held, open_client
from engine.host.launch import EMBEDDED_MODEL_DIR, EngineLaunch
from engine.protocol import Welcome
from infill_lsp.config import EngineSettings
from infill_lsp.engine_link import EngineLink, EngineState, make_engine_client, settings_notice

TESTS_DIR = Path(__file__).resolve().parent
FAKE = "fake_core:make_core"


@pytest.fixture
def sock(monkeypatch):
    """A socket path in a short private folder; spawned engines import the test fakes; none outlives the test."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p))
    base = Path(tempfile.mkdtemp(prefix="infill-c", dir="/tmp"))  # sun_path holds 107 bytes
    base.chmod(0o700)
    path = base / "engine.sock"
    yield path
    asyncio.run(stop_engine_on(path))
    shutil.rmtree(base, ignore_errors=True)


async def _released(path: Path, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while _engine_lock_held(path):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _state(pid: int) -> str:
    """'gone' when no process ``pid`` is left, its /proc state letter otherwise ('Z': a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "gone"
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def _settings(sock: Path, **fields) -> EngineSettings:
    return EngineSettings(mode="spawn", socket=str(sock), core_factory=FAKE, start_timeout_ms=60_000, **fields)


# ---- idle exit ---------------------------------------------------------------------------------------------


def test_editor_settings_spawn_engines_that_exit_when_idle():
    assert EngineSettings().launch().idle_exit == 300.0  # a few minutes by default
    assert EngineSettings(idle_exit_seconds=0).launch().idle_exit == 0.0  # kept, for servers
    with pytest.raises(ValueError, match="^engine.idle_exit_seconds "):
        EngineSettings(idle_exit_seconds=-1)


def test_an_idle_spawned_engine_exits_after_its_last_client_left(sock):
    async def scenario() -> None:
        client = make_engine_client(_settings(sock, idle_exit_seconds=1))
        await client.start()
        second = open_client(EngineLaunch(core_factory=FAKE), socket=sock, spawn=False)
        await second.start()
        await client.close()
        await asyncio.sleep(1.5)
        assert _engine_lock_held(sock), "it exited while a client was still connected"
        await second.close()
        assert await _released(sock, 10.0), "the idle engine did not exit"
        assert not sock.exists()

    asyncio.run(scenario())


# ---- infill engine status | stop | restart ---------------------------------------------------------------


def test_engine_status_stop_and_restart_from_the_command_line(sock, capsys):
    from engine.host.control import main

    async def start() -> int:
        client = open_client(EngineLaunch(core_factory=FAKE, dtype="float32", idle_exit=60.0), socket=sock)
        await client.start()
        pid = client.engine_pid
        await client.close()
        return pid

    pid = asyncio.run(start())
    assert main(["status", "--socket", str(sock), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["pid"] == pid and info["running"] and info["clients"] == 0
    assert info["model_name"] == "fake-model" and info["model_dir"] == str(EMBEDDED_MODEL_DIR)
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["idle_exit_s"] == 60.0
    assert info["rss_bytes"] > 10 * 2**20 and info["uptime_s"] > 0
    assert main(["status", "--socket", str(sock)]) == 0
    text = capsys.readouterr().out
    assert f"pid        {pid}" in text and "MiB resident" in text and "60s after its last client" in text

    assert main(["restart", "--socket", str(sock), "--core-factory", FAKE]) == 0
    assert f"stopped pid {pid}, started pid" in capsys.readouterr().out
    assert main(["status", "--socket", str(sock), "--json"]) == 0
    restarted = json.loads(capsys.readouterr().out)
    assert restarted["pid"] != pid
    assert (restarted["dtype"], restarted["idle_exit_s"]) == ("float32", 60.0)  # kept from the running engine

    assert main(["stop", "--socket", str(sock)]) == 0
    assert f"stopped the engine (pid {restarted['pid']})" in capsys.readouterr().out
    assert main(["status", "--socket", str(sock)]) == 1
    assert "no engine is listening" in capsys.readouterr().out


def test_the_cli_dispatches_engine_actions(sock, capsys):
    from infill_lsp.cli import main

    assert main(["engine", "status", "--socket", str(sock)]) == 1
    assert "no engine is listening" in capsys.readouterr().out


# ---- the editors' Restart Engine ---------------------------------------------------------------------------


async def _pid_of(link: EngineLink) -> int:
    info = await link.status()
    return info["pid"]


async def _ready(link: EngineLink) -> None:
    assert await link.ready_client(60.0) is not None, link.last_error


def test_restart_engine_starts_a_fresh_process_when_no_other_client_uses_it(sock):
    async def scenario() -> None:
        link = EngineLink(_settings(sock))
        await _ready(link)
        before = await _pid_of(link)
        message = await link.restart()
        assert message == f"stopped the engine (pid {before}); starting a fresh one"
        assert _state(before) in ("gone", "reaped"), "the stopped engine lingers as a zombie"
        await _ready(link)
        assert await _pid_of(link) != before
        await link.close()

    asyncio.run(scenario())


def test_restart_engine_keeps_an_engine_another_client_uses(sock):
    async def scenario() -> None:
        link, other = EngineLink(_settings(sock)), EngineLink(_settings(sock))
        await _ready(link)
        await _ready(other)
        before = await _pid_of(link)
        message = await link.restart()
        assert "also serves 1 other client" in message
        await _ready(link)
        assert await _pid_of(link) == before
        await link.close()
        await other.close()

    asyncio.run(scenario())


# ---- settings the running engine does not serve ------------------------------------------------------------


def test_a_settings_mismatch_restarts_an_unshared_engine_and_is_reported_on_a_shared_one(sock):
    async def scenario() -> None:
        notices: list[str] = []
        first = EngineLink(_settings(sock, dtype="float32"))
        await _ready(first)
        float32_pid = await _pid_of(first)

        shared = EngineLink(_settings(sock, dtype="bfloat16"), on_notice=notices.append)
        await _ready(shared)  # the first link still uses the engine: it keeps its settings
        assert await _pid_of(shared) == float32_pid
        assert len(notices) == 1
        assert "dtype bfloat16 (the engine's weights are float32)" in notices[0]
        assert "also serves 1 other client" in notices[0]
        await shared.close()
        await first.close()

        alone = EngineLink(_settings(sock, dtype="bfloat16"), on_notice=notices.append)
        await _ready(alone)  # nobody else uses it now: restarted with these settings
        assert alone.state is EngineState.READY and alone.welcome is not None
        assert alone.welcome.dtype == "bfloat16" and await _pid_of(alone) != float32_pid
        assert len(notices) == 1
        await alone.close()

    asyncio.run(scenario())


def test_an_editor_that_leaves_the_model_open_joins_an_engine_serving_another_and_restart_keeps_it(sock):
    async def scenario() -> None:
        served = open_client(EngineLaunch(model_dir=Path("/models/big"), dtype="bfloat16", core_factory=FAKE),
                             socket=sock)  # fmt: skip
        await served.start()  # started by hand, for a big checkpoint
        pid = served.engine_pid
        await served.close()
        notices: list[str] = []
        link = EngineLink(_settings(sock), on_notice=notices.append)  # no modelDir, dtype auto
        await _ready(link)
        assert await _pid_of(link) == pid and notices == []
        assert "starting a fresh one" in await link.restart()
        await _ready(link)
        info = await link.status()
        assert info["pid"] != pid and (info["model_dir"], info["dtype"]) == ("/models/big", "bfloat16")
        await link.close()

    asyncio.run(scenario())


def test_launch_mismatches_compare_what_the_engine_serves():
    welcome = Welcome(1, "m", "cuda:0", "torch", dtype="bfloat16", model_dir=str(EMBEDDED_MODEL_DIR))
    assert EngineLaunch().mismatches(welcome) == []
    assert EngineLaunch(device="cuda", dtype="bfloat16", backend="torch").mismatches(welcome) == []
    differences = EngineLaunch(model_dir=Path("/models/big"), device="cpu", dtype="float32").mismatches(welcome)
    assert [d.split()[0] for d in differences] == ["model", "device", "dtype"]
    assert EngineLaunch(dtype="float32").mismatches(Welcome(1, "m", "cpu", "torch")) == []  # an older engine
    kept = EngineLaunch(dtype="float32").keeping(welcome)
    assert (kept.model_dir, kept.device, kept.backend, kept.dtype) == (None, "cuda:0", "torch", "float32")
    big = msgspec.structs.replace(welcome, model_dir="/models/big")
    assert EngineLaunch().keeping(big).model_dir == Path("/models/big")
    notice = settings_notice(welcome, differences, 0, "connect")
    assert "engine.mode is connect" in notice and "m on cuda:0 (torch, bfloat16)" in notice


# ---- platforms: the peer check reads Linux's and macOS's credentials ----------------------------------------


def test_peer_credentials_on_linux_and_on_macos():
    import socket
    import struct

    from engine.clients.interface import _XUCRED, socket_peer

    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert socket_peer(left, linux=True) == (os.getpid(), os.getuid())

    class MacSocket:  # getsockopt(SOL_LOCAL, LOCAL_PEERCRED / LOCAL_PEERPID) as macOS answers it
        def getsockopt(self, level: int, option: int, size: int) -> bytes:
            assert level == 0
            if option == 0x001:
                assert size == _XUCRED.size == 76
                return _XUCRED.pack(0, 501, 1, 20, *([0] * 15))
            return struct.pack("i", 4242)

    assert socket_peer(MacSocket(), linux=False) == (4242, 501)


# ---- a second engine on a socket one already holds -----------------------------------------------------------


@pytest.fixture
def default_sock(monkeypatch):
    """The default socket path, moved into a short private folder; no engine on it outlives the test."""
    from engine.host.server import default_socket_path

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p))
    base = Path(tempfile.mkdtemp(prefix="infill-x", dir="/tmp"))
    base.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    path = default_socket_path()
    assert path.is_relative_to(base)
    yield path
    asyncio.run(stop_engine_on(path))
    shutil.rmtree(base, ignore_errors=True)


def _start_engine(path: Path) -> int:
    async def start() -> int:
        client = open_client(EngineLaunch(core_factory=FAKE, idle_exit=60.0), socket=path)
        await client.start()
        pid = client.engine_pid
        await client.close()
        return pid

    return asyncio.run(start())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_engine_http_beside_an_editors_engine_says_how_to_replace_it(default_sock, capsys, caplog):
    """It used to exit with only "another engine holds ...lock"."""
    from engine.host.server import EXIT_ALREADY_RUNNING
    from infill_http.command import main

    pid = _start_engine(default_sock)
    argv = ["--core-factory", FAKE, "--http", f"127.0.0.1:{_free_port()}", "--log-level", "error"]
    assert main(argv) == EXIT_ALREADY_RUNNING
    err = capsys.readouterr().err
    assert f"another engine (pid {pid}) holds" in caplog.text
    assert f"an engine is already running on {default_sock} (`infill engine status` says" in err
    assert f"    infill engine stop && infill engine {' '.join(argv)}\n" in err  # exactly what to run
    assert f"{' '.join(argv)} --socket {default_sock.with_name('engine-http.sock')}" in err


def test_a_second_engine_on_a_given_socket_names_that_socket_in_the_fix(sock, capsys):
    from engine.host.server import EXIT_ALREADY_RUNNING
    from infill_http.command import main

    _start_engine(sock)
    argv = ["--socket", str(sock), "--core-factory", FAKE, "--log-level", "error"]
    assert main(argv) == EXIT_ALREADY_RUNNING
    err = capsys.readouterr().err
    assert f"infill engine status --socket {sock}" in err
    assert f"    infill engine stop --socket {sock} && infill engine {' '.join(argv)}\n" in err


def test_restart_with_none_running_starts_an_engine_that_exits_like_an_editors(sock, capsys):
    """It used to start one with no idle exit, which stayed up (with its model in memory) until stopped."""
    from engine.host.control import main
    from engine.host.launch import EDITOR_IDLE_EXIT_S

    assert main(["restart", "--socket", str(sock), "--core-factory", FAKE]) == 0
    out = capsys.readouterr().out
    assert "none was running; started pid" in out and f"it exits {EDITOR_IDLE_EXIT_S:g}s after its last client" in out
    assert main(["status", "--socket", str(sock), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["idle_exit_s"] == EDITOR_IDLE_EXIT_S
    assert main(["stop", "--socket", str(sock)]) == 0
    capsys.readouterr()
    assert main(["restart", "--socket", str(sock), "--core-factory", FAKE, "--idle-exit", "0"]) == 0
    assert "it stays up until `infill engine stop`" in capsys.readouterr().out  # asked for: kept
