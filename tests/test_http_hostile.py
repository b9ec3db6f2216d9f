"""The HTTP API against an attacker: connection floods, slow headers, web pages (cross-site requests, DNS
rebinding), oversized headers, deeply nested JSON, WebSocket text frames, and key files that mislead."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import msgspec
import pytest
from fake_core import FakeCore
from test_http_api import KEY, LiveApi, _keyed, _raw

from engine.protocol import PROTOCOL_VERSION, ErrorReply, Hello
from infill_http.guard import host_name
from infill_http.settings import HttpSettings, load_api_keys


def _closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


# ---- connection floods --------------------------------------------------------------------------


def test_a_flood_of_idle_connections_cannot_shut_out_health_or_a_keyed_client():
    """515 connections that never send a request (more than the server holds) used to take every slot:
    /health answered 503 from then on. Idle connections now make room, and expire."""
    with LiveApi(FakeCore(), _keyed(header_timeout_s=2.0)) as api:
        flood = [socket.create_connection(("127.0.0.1", api.port)) for _ in range(515)]
        try:
            time.sleep(0.2)
            status, _, body = api.request("GET", "/health")
            assert (status, body) == (200, b'{"status":"ok"}')
            status, answer = api.post("/infill", {"input_prefix": "a = "},
                                      headers={"Authorization": f"Bearer {KEY}"})
            assert status == 200 and "content" in answer
            front = api.front
            assert front is not None and len(front.connections) <= api.settings.max_connections_per_address
            # The newest idle ones are closed by the header deadline.
            assert _closed_by_server(flood[-1], 5.0)
        finally:
            for sock in flood:
                sock.close()


def test_headers_sent_byte_by_byte_are_cut_off_at_the_header_deadline():
    with LiveApi(FakeCore(), HttpSettings(header_timeout_s=0.5)) as api:
        with socket.create_connection(("127.0.0.1", api.port)) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: local")  # and never the rest
            started = time.monotonic()
            assert _closed_by_server(slow, 5.0)
            assert time.monotonic() - started < 3.0
        assert api.request("GET", "/health")[0] == 200


def test_busy_connections_are_not_evicted_and_the_address_cap_turns_a_newcomer_away():
    settings = HttpSettings(max_connections_per_address=3, body_timeout_s=5.0)
    with LiveApi(FakeCore(), settings) as api:
        busy = []
        for _ in range(3):  # each has begun a request whose body never comes
            sock = socket.create_connection(("127.0.0.1", api.port))
            sock.sendall(b"POST /infill HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\n\r\n{")
            busy.append(sock)
        try:
            time.sleep(0.3)
            newcomer = socket.create_connection(("127.0.0.1", api.port))
            assert _closed_by_server(newcomer, 3.0)
            newcomer.close()
            assert not any(_closed_by_server(sock, 0.05) for sock in busy)
        finally:
            for sock in busy:
                sock.close()
        time.sleep(0.3)
        assert api.request("GET", "/health")[0] == 200


# ---- web pages ----------------------------------------------------------------------------------


def test_a_keyless_engine_refuses_web_pages_and_foreign_hosts():
    with LiveApi(FakeCore()) as api:
        # A form or fetch() from any web page: a text/plain POST carries the page's Origin.
        status, _, body = api.request("POST", "/infill", raw=b'{"input_prefix":"a"}',
                                      headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
        assert status == 403 and b"--allow-origin" in body
        status, _, _ = api.request("OPTIONS", "/infill", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert status == 403  # the preflight too
        status, _, _ = api.request("GET", "/v1/models", headers={"Origin": "null"})  # a sandboxed page or file://
        assert status == 403
        # DNS rebinding: the page's own name resolved to 127.0.0.1, so Host is the attacker's name.
        status, _, body = api.request("POST", "/infill", {"input_prefix": "a"},
                                      headers={"Host": f"evil.example:{api.port}"})
        assert status == 403 and b"Host" in body
        for host in (f"localhost:{api.port}", f"127.0.0.1:{api.port}", f"[::1]:{api.port}", "localhost"):
            assert api.request("GET", "/v1/models", headers={"Host": host})[0] == 200, host
        assert api.front is not None and api.front.origins.refused == 4


def test_a_websocket_from_a_web_page_is_refused_at_the_handshake():
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with LiveApi(FakeCore()) as api:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{api.port}/v1/engine", origin="https://evil.example", open_timeout=5)
        assert refused.value.response.status_code == 403


def test_an_allowed_origin_gets_cors_and_a_keyed_engine_still_refuses_other_pages():
    with LiveApi(FakeCore(), _keyed(allowed_origins=("https://tool.example",))) as api:
        status, headers, _ = api.request("OPTIONS", "/infill", headers={
            "Origin": "https://tool.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert status == 204 and headers["access-control-allow-origin"] == "https://tool.example"
        assert "Authorization" in headers["access-control-allow-headers"]
        status, headers, _ = api.request("POST", "/infill", {"input_prefix": "a"}, headers={
            "Origin": "https://tool.example", "Authorization": f"Bearer {KEY}", "Host": "engine.team.example"})
        assert status == 200 and headers["access-control-allow-origin"] == "https://tool.example"
        status, _, _ = api.request("POST", "/infill", {"input_prefix": "a"}, headers={
            "Origin": "https://other.example", "Authorization": f"Bearer {KEY}"})
        assert status == 403


def test_allow_origin_takes_origins_only():
    with pytest.raises(ValueError, match="allow-origin"):
        HttpSettings(allowed_origins=("tool.example/path",)).check()
    HttpSettings(allowed_origins=("https://tool.example", "http://localhost:3000")).check()


@pytest.mark.parametrize(("header", "name"), [("localhost:8012", "localhost"), ("[::1]:8012", "::1"),
                                               ("127.0.0.1", "127.0.0.1"), ("::1", "::1")])
def test_host_name(header: str, name: str):
    assert host_name(header) == name


# ---- headers, bodies, frames --------------------------------------------------------------------


@pytest.mark.parametrize("size", [66_000, 100_000])
def test_the_header_limit_holds_when_headers_arrive_in_one_piece(size: int):
    with LiveApi(FakeCore()) as api:
        request = (b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: "
                   + b"a" * size + b"\r\n\r\n")
        reply = _raw(api.port, request)
        assert reply == b"" or reply.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), reply[:80]
        assert api.request("GET", "/health")[0] == 200


def test_deeply_nested_json_is_a_400_without_a_traceback(caplog):
    with LiveApi(FakeCore()) as api:
        deep = b'{"input_prefix":"a","ignored":' + b"[" * 5000 + b"]" * 5000 + b"}"
        with caplog.at_level(logging.WARNING):
            status, _, body = api.request("POST", "/infill", raw=deep)
            nested = b'{"prompt":' + b"[" * 5000 + b"]" * 5000 + b"}"
            status_openai, _, _ = api.request("POST", "/v1/completions", raw=nested)
        assert status == 400 and b"nested too deeply" in body
        assert status_openai == 400
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_websocket_text_frame_gets_one_error_reply():
    from websockets.sync.client import connect

    with LiveApi(FakeCore(), _keyed()) as api:
        with connect(f"ws://127.0.0.1:{api.port}/v1/engine",
                     additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "test")))
            ws.recv(timeout=5)  # Welcome
            ws.send("not msgpack")
            error = msgspec.msgpack.decode(ws.recv(timeout=5), type=ErrorReply)
            assert "binary" in error.message
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)  # and nothing more


# ---- key files ----------------------------------------------------------------------------------


def test_a_key_file_line_with_a_colon_is_always_name_and_key(tmp_path: Path, caplog):
    keys = tmp_path / "keys"
    keys.write_text("alice:abc:def0123456789xyz\n")  # a key that holds ':' behind a name
    (key,) = load_api_keys(keys)
    assert key.name == "alice"
    keys.write_text("sk/abc:def0123456789xyz0\n")  # a bare key with ':' whose head is no name
    with pytest.raises(ValueError, match="NAME:KEY"):
        load_api_keys(keys)
    keys.write_text("abcdefghijklmnopqrstuvwxyz:0123456789abcdefgh\n")  # looks like a bare key with ':'
    with caplog.at_level(logging.WARNING):
        load_api_keys(keys)
    assert any("write a name before it" in r.getMessage() for r in caplog.records)


def test_a_non_ascii_key_is_refused_at_load(tmp_path: Path):
    keys = tmp_path / "keys"
    keys.write_text("bob:clé-secrète-0123456789\n", encoding="utf-8")
    with pytest.raises(ValueError, match="ASCII"):
        load_api_keys(keys)


def test_the_refusals_answer_json_errors():
    with LiveApi(FakeCore()) as api:
        status, _, body = api.request("GET", "/health", headers={"Origin": "https://evil.example"})
        assert status == 403 and json.loads(body)["error"]["code"] == 403
