"""A remote engine: ``python -m engine --http`` in its own process, used over its WebSocket by
RemoteEngineClient, the language server (``engine.url``) and ``infill batch --engine-url``.

Two engine processes are shared by the module: a fake core (fast, deterministic; fills, partials, cancel,
keys, LSP, batch) and the embedded model (cache reuse across keystrokes, and a client that connects while
the model is still loading).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_lsp
from fake_core import fill_text
from lsp_helpers import PYTHONPATH, ROOT, STATE_HOME, complete, initialize, open_document, status
from lsprotocol import types
from processes import end_process
from pytest_lsp import ClientServerConfig, LanguageClient

from engine.clients.connect import open_client
from engine.clients.interface import EngineUnavailable
from engine.clients.remote import EngineRefused, RemoteEngine, RemoteEngineClient, websocket_url
from engine.host.launch import EngineLaunch
from engine.protocol import FinishReason, InfillRequest, Partial
from infill_lsp.batch import cli as batch_cli
from infill_lsp.config import parse_settings

KEY = "remote-test-key-0123456789abcdef"  # what the editor side holds
WRONG_KEY = "not-the-key-0123456789abcdef"
URI = "file:///work/notes.txt"
TEXT = "the quick brown fox jumps over the lazy dog\nand then it ran away\n"


@dataclass(frozen=True)
class Engine:
    url: str  # http://127.0.0.1:PORT
    key_file: Path  # the client's key file
    log: Path  # the engine process's output
    process: subprocess.Popen[bytes]
    loading_at_start: bool  # /health said 503 (model loading) when the port first answered
    certificate: Path | None = None  # the engine's self-signed TLS certificate, when it serves https

    def remote(self, **fields) -> RemoteEngine:
        return RemoteEngine(url=self.url, **{"api_key_file": self.key_file, **fields})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health(url: str) -> int | None:
    unverified = ssl.create_default_context()  # only asks whether the port answers yet
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2, context=unverified) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (its own CA), and the key."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=infill-test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    return certificate, key


def _serve(*flags: str, ready_timeout: float, tls: bool = False) -> Iterator[Engine]:
    """An engine process serving the HTTP API on a free loopback port with an API key (and with ``tls``, a
    self-signed certificate); it is stopped after."""
    directory = Path(tempfile.mkdtemp(prefix="infill-", dir="/tmp"))
    directory.chmod(0o700)
    certificate = None
    if tls:
        certificate, private_key = _self_signed(directory)
        flags = (*flags, "--ssl-certfile", str(certificate), "--ssl-keyfile", str(private_key))
    keys = directory / "keys"
    keys.write_text(f"# the engine's keys\neditor:{KEY}\n")
    key_file = directory / "key"
    key_file.write_text(f"{KEY}\n")
    key_file.chmod(0o600)
    log = directory / "engine.log"
    address = f"127.0.0.1:{_free_port()}"
    url = f"{'https' if tls else 'http'}://{address}"
    command = [sys.executable, "-m", "infill_http", "--socket", str(directory / "engine.sock"),
               "--http", address, "--api-key-file", str(keys), "--log-level", "debug", *flags]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": PYTHONPATH}, cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_timeout
        first = None
        while first is None and time.monotonic() < deadline and process.poll() is None:
            first = _health(url)
            time.sleep(0.05)
        assert first is not None, f"the engine did not serve HTTP: {log.read_text()[-2000:]}"
        yield Engine(url, key_file, log, process, loading_at_start=first == 503, certificate=certificate)
    finally:
        end_process(process, 15)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def fake_engine() -> Iterator[Engine]:
    yield from _serve("--core-factory", "fake_core:slow_core", ready_timeout=60)


@pytest.fixture(scope="module")
def tls_engine() -> Iterator[Engine]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test certificate")
    yield from _serve("--core-factory", "fake_core:make_core", ready_timeout=60, tls=True)


@pytest.fixture(scope="module")
def model_engine() -> Iterator[Engine]:
    yield from _serve(ready_timeout=120)


async def _started(engine: Engine, **options) -> RemoteEngineClient:
    client = RemoteEngineClient(engine.remote(), start_timeout=120, **options)
    await client.start()
    return client


# ---- addresses and settings ---------------------------------------------------------------------


def test_urls_become_the_engine_protocols_websocket_address():
    assert websocket_url("http://gpu:8012") == "ws://gpu:8012/v1/engine"
    assert websocket_url("https://gpu.example.com/infill/") == "wss://gpu.example.com/infill/v1/engine"
    assert websocket_url("wss://[::1]:9000") == "wss://[::1]:9000/v1/engine"
    assert websocket_url("ws://proxy:80/engine-ws") == "ws://proxy:80/engine-ws"
    for bad in ("ftp://gpu", "http://user:secret@gpu:8012", "http://gpu:8012/?key=secret", "http://:8012", "gpu:8012"):
        with pytest.raises(ValueError) as refused:
            websocket_url(bad)
        assert "secret" not in str(refused.value)


def test_engine_url_settings_are_checked_and_never_hold_the_key():
    settings, warnings = parse_settings(
        {"engine": {"url": "https://gpu:8012", "apiKeyFile": "~/.config/infill/key", "caFile": "/etc/ca.pem"}}
    )
    assert warnings == []
    remote = settings.engine.remote()
    assert remote is not None and remote.address == "wss://gpu:8012/v1/engine"
    assert remote.api_key_file == Path("~/.config/infill/key") and remote.ca_file == Path("/etc/ca.pem")
    settings, warnings = parse_settings({"engine": {"url": "http://u:hunter2hunter2@gpu:1", "apiKeyEnv": "1BAD"}})
    assert settings.engine.url == "" and settings.engine.api_key_env == "INFILL_API_KEY"
    assert len(warnings) == 2 and "hunter2" not in " ".join(warnings)


# ---- the client against a fake core ---------------------------------------------------------------


async def test_fills_stream_partials_and_report_status(fake_engine: Engine):
    client = await _started(fake_engine)
    try:
        assert client.welcome is not None and client.welcome.model_name == "fake-model"
        partials: list[Partial] = []
        request = InfillRequest(
            "7", "def add(a, b):\n    ", "\n", document_key="file:///a.py", max_steps=5, stream=True
        )
        result = await client.infill(request, partials.append, timeout=30)
        assert result.request_id == "7" and result.finish_reason == FinishReason.CONVERGED
        assert result.candidates[0].text == fill_text(request)
        assert [p.step for p in partials] == [1, 2, 3, 4] and all(p.request_id == "7" for p in partials)
        many = await asyncio.gather(*(client.infill(InfillRequest(str(100 + i), f"x{i}", "", max_steps=2), timeout=30)
                                      for i in range(40)))  # more than the engine's 16 in flight per client
        assert [r.candidates[0].text for r in many] == [f"[x{i}|]" for i in range(40)]
        reply = await client.status()
        assert reply.completed >= 41 and reply.pid == 0 and reply.model_dir == ""  # the operator's, not ours
    finally:
        await client.close()
    assert not client.alive


async def test_cancel_reaches_the_engine(fake_engine: Engine):
    client = await _started(fake_engine)
    try:
        started = asyncio.Event()
        request = InfillRequest("1", "long", "", max_steps=3000, stream=True)  # 60 s at 20 ms a step
        task = asyncio.create_task(client.infill(request, lambda p: started.set(), timeout=60))
        await asyncio.wait_for(started.wait(), 10)
        before = await client.status()
        assert before.active == 1
        await client.cancel("1")
        result = await asyncio.wait_for(task, 5)
        assert result.finish_reason == FinishReason.CANCELLED
        after = await client.status()
        assert after.active == 0 and after.completed == before.completed
    finally:
        await client.close()


async def test_a_wrong_or_missing_key_is_refused_clearly(fake_engine: Engine, tmp_path: Path, monkeypatch):
    wrong = tmp_path / "key"
    wrong.write_text(WRONG_KEY)
    with pytest.raises(EngineRefused) as refused:
        await RemoteEngineClient(fake_engine.remote(api_key_file=wrong)).start()
    address = websocket_url(fake_engine.url)
    assert str(refused.value) == f"the engine at {address} refused the API key (from {wrong})"
    monkeypatch.delenv("INFILL_API_KEY", raising=False)
    with pytest.raises(EngineRefused, match=r"needs an API key: set \$INFILL_API_KEY"):
        await RemoteEngineClient(RemoteEngine(url=fake_engine.url)).start()
    monkeypatch.setenv("INFILL_API_KEY", KEY)  # the environment variable, when no file is named
    client = RemoteEngineClient(RemoteEngine(url=fake_engine.url))
    await client.start()
    await client.close()


async def test_an_unreachable_engine_is_named():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(EngineUnavailable, match=r"cannot reach the engine at ws://127\.0\.0\.1:\d+/v1/engine"):
        await RemoteEngineClient(RemoteEngine(url=url), connect_timeout=2).start()
    with pytest.raises(EngineUnavailable, match="cannot read the API key file /nonexistent/key"):
        await RemoteEngineClient(RemoteEngine(url=url, api_key_file=Path("/nonexistent/key"))).start()


async def test_the_key_appears_in_no_log_message_or_repr(fake_engine: Engine, caplog, tmp_path: Path):
    caplog.set_level(logging.DEBUG)  # websockets logs the handshake's headers at debug level
    client = await _started(fake_engine)
    await client.infill(InfillRequest("1", "a", "b", max_steps=2), timeout=30)
    shown = [repr(client), repr(client.remote), str(await client.status())]
    await client.close()
    wrong = tmp_path / "key"
    wrong.write_text(WRONG_KEY)
    with pytest.raises(EngineRefused) as refused:
        await RemoteEngineClient(fake_engine.remote(api_key_file=wrong)).start()
    shown.append(str(refused.value))
    assert "Authorization: (redacted)" in caplog.text  # the header was logged, without its value
    assert "> BINARY" in caplog.text  # and so was the rest of the conversation
    texts = [caplog.text, *shown, fake_engine.log.read_text(errors="replace")]
    for secret in (KEY, WRONG_KEY):
        assert not [text for text in texts if secret in text]


async def test_open_client_with_a_remote_engine_starts_nothing(fake_engine: Engine, tmp_path: Path):
    client = open_client(EngineLaunch(core_factory="fake_core:make_core"), remote=fake_engine.remote())
    assert isinstance(client, RemoteEngineClient)
    welcome = await client.start()
    assert welcome.model_name == "fake-model"
    await client.close()
    with pytest.raises(ValueError):
        open_client(EngineLaunch(), remote=fake_engine.remote(), inproc=True)


async def test_tls_refuses_an_untrusted_certificate_and_trusts_the_ca_file(tls_engine: Engine):
    assert tls_engine.certificate is not None
    with pytest.raises(EngineUnavailable, match=r"wss://127\.0\.0\.1:\d+/v1/engine has a TLS certificate this "
                                                r"machine does not trust .*engine\.caFile"):
        await RemoteEngineClient(tls_engine.remote()).start()
    client = RemoteEngineClient(tls_engine.remote(ca_file=tls_engine.certificate))
    await client.start()
    try:
        result = await client.infill(InfillRequest("1", "secure", "ly", max_steps=2), timeout=30)
        assert result.candidates[0].text == "[secure|ly]"
    finally:
        await client.close()


# ---- the embedded model: loading, and the cache across keystrokes ---------------------------------


async def test_a_client_waits_for_the_model_to_load_then_reuses_the_cache(model_engine: Engine, caplog):
    caplog.set_level(logging.INFO, logger="engine.clients.remote")
    client = await _started(model_engine)
    try:
        if model_engine.loading_at_start:  # connected while the model loaded: 1013, then retried
            assert "is loading its model" in caplog.text
        assert client.welcome is not None and client.welcome.model_name == "infill-small"
        prefix = "def add(a, b):\n    return a"
        first = await client.infill(InfillRequest("1", prefix, "\n", language="python", document_key="file:///a.py",
                                                  max_steps=2), timeout=60)
        again = await client.infill(InfillRequest("2", prefix + " +", "\n", language="python",
                                                  document_key="file:///a.py", max_steps=2), timeout=60)
        assert first.prompt_tokens > 0
        # The typed " +" rides on the canvas: the first request's prompt, from the cache, whole.
        assert again.cached_tokens == again.prompt_tokens == first.prompt_tokens
    finally:
        await client.close()


# ---- the language server and infill batch ---------------------------------------------------------


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "infill_lsp.server", "--log-level", "debug"],
    server_env={**os.environ, "PYTHONPATH": PYTHONPATH, "XDG_STATE_HOME": STATE_HOME, "INFILL_API_KEY": KEY},
))
async def lsp(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_the_language_server_completes_through_the_remote_engine(lsp: LanguageClient, fake_engine: Engine):
    options = {"engine": {"url": fake_engine.url}, "debounce_ms": 0, "request_timeout_ms": 10_000, "max_steps": 3}
    await initialize(lsp, "visual-studio-code", options)
    open_document(lsp, URI, TEXT, language_id="plaintext")
    items = await complete(lsp, URI, 0, len("the quick brown "))
    assert items and items[0].insert_text.startswith("[brown |fox ju]")
    engine = (await status(lsp))["engine"]
    assert engine["state"] == "ready" and engine["mode"] == "remote" and engine["model"] == "fake-model"
    assert engine["url"] == websocket_url(fake_engine.url)
    said = await asyncio.wait_for(
        lsp.workspace_execute_command_async(types.ExecuteCommandParams(command="infill.restartEngine")), 10
    )
    assert "reconnecting to the engine at ws://" in str(said)
    assert fake_engine.process.poll() is None  # a remote engine is never stopped from here
    items = await complete(lsp, URI, 1, len("and then "))
    assert items and items[0].insert_text.startswith("[ then |it ran]")


def test_batch_fills_holes_through_the_remote_engine(fake_engine: Engine, tmp_path: Path, capsys):
    source = tmp_path / "m.py"
    holes = 'GREETING = "abcdef<FILL>ghijkl"\nOTHER = "uvwxyz<FILL>stuvwx"\n'
    source.write_text(holes)
    argv = [str(source), "--marker", "<FILL>", "--engine-url", fake_engine.url,
            "--engine-api-key-file", str(fake_engine.key_file), "--json", "--no-progress", "--no-journal", "--write"]
    assert batch_cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [h["status"] for f in report["files"] for h in f["holes"]] == ["filled", "filled"]
    assert source.read_text() == 'GREETING = "abcdef[abcdef|ghijkl]ghijkl"\nOTHER = "uvwxyz[uvwxyz|stuvwx]stuvwx"\n'
    source.write_text(holes)
    wrong = tmp_path / "wrong"
    wrong.write_text(WRONG_KEY)
    assert batch_cli.main([*argv[:-1], "--engine-api-key-file", str(wrong)]) == batch_cli.EXIT_NOT_ALL_DONE
    assert "refused the API key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        batch_cli.main([*argv, "--socket", "/tmp/x.sock"])


def test_infill_serve_flags_are_defaults_that_editor_settings_override(monkeypatch):
    from infill_lsp import server

    seen = []
    monkeypatch.setattr(server.InfillServer, "start_io", lambda self: seen.append(self))
    root, ours = logging.getLogger(), logging.getLogger("infill_lsp")
    kept = list(root.handlers), root.level, ours.level
    try:  # main sets up logging: put it back after
        assert server.main(["--engine-url", "https://gpu:8012", "--engine-api-key-file", "/keys/infill"]) == 0
    finally:
        root.handlers[:] = kept[0]
        root.setLevel(kept[1])
        ours.setLevel(kept[2])
    (started,) = seen
    started.apply_settings({"maxLines": 3}, initial=True)
    assert started.settings.engine.url == "https://gpu:8012" and started.settings.engine.api_key_file == "/keys/infill"
    other = server.create_server()
    other.default_settings = started.default_settings
    other.apply_settings({"engine": {"url": "http://other:1"}}, initial=True)
    assert other.settings.engine.url == "http://other:1" and other.settings.engine.api_key_file == "/keys/infill"
    with pytest.raises(SystemExit):
        server.main(["--engine-api-key-file", "/keys/infill"])  # a key file needs a URL
