"""The HTTP API (infill_http/api.py) on a real uvicorn socket, over the engine loop with the fake core.

Each case is what a client (or an attacker) sends and the answer it must get: llama.cpp's and OpenAI's
request shapes, keys, limits, broken bodies, slow and vanishing clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import msgspec
import pytest
from fake_core import FakeCore, fill_text

from engine.host.loop import EngineLoop
from engine.protocol import PROTOCOL_VERSION, Hello, InfillRequest, InfillResult, Welcome
from infill_http.api import HttpFront
from infill_http.settings import ApiKey, HttpSettings
from infill_http.wire import cut_at_indent, cut_at_stops, flatten_fields

KEY = "k" * 8 + "-secret-0123456789"


class LiveApi:
    """An HttpFront on 127.0.0.1 (a free port) in a thread of its own, over an EngineLoop of ``core``."""

    def __init__(self, core: FakeCore, settings: HttpSettings | None = None, *, ready: bool = True) -> None:
        self.core = core
        self.settings = settings or HttpSettings(port=1)
        self.settings = HttpSettings(**{**{f: getattr(self.settings, f) for f in HttpSettings.__slots__},
                                       "port": _free_port()})
        self._ready = ready
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.front: HttpFront | None = None
        self.engine = EngineLoop(core)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.front = HttpFront(self.settings)
        await self.front.start()
        if self._ready:
            self.front.ready(self.engine)
        self._started.set()
        await self._stop.wait()
        await self.front.stop()

    def make_ready(self) -> None:
        assert self._loop is not None and self.front is not None
        self._loop.call_soon_threadsafe(self.front.ready, self.engine)
        time.sleep(0.05)

    def __enter__(self) -> LiveApi:
        self.engine.start()
        self._thread.start()
        assert self._started.wait(10), "the HTTP front did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.engine.close()

    @property
    def port(self) -> int:
        return self.settings.port

    def request(self, method: str, path: str, body: object = None, *, headers: dict[str, str] | None = None,
                raw: bytes | None = None, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def post(self, path: str, body: object, **kwargs: object) -> tuple[int, object]:
        status, _, data = self.request("POST", path, body, **kwargs)
        return status, json.loads(data)


# Most holes here name no language: the fake core encloses its answers' tags in <> (the fill layer's bracket
# check would refuse a first line that opens a [ it does not close).
BRACKETS = "<>"


@pytest.fixture(autouse=True)
def _bracket_free_fake_answers(monkeypatch):
    import fake_core

    monkeypatch.setattr(fake_core.FakeCore, "brackets", BRACKETS)


def shown(request: InfillRequest) -> str:
    """What the fill layer shows of the fake core's fill for a one-line hole: its first line."""
    return fill_text(request, BRACKETS).split("\n", 1)[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _keyed(**fields: object) -> HttpSettings:
    return HttpSettings(api_keys=(ApiKey("alice", hashlib.sha256(KEY.encode()).digest()),), **fields)


# ---- llama.cpp's /infill ------------------------------------------------------------------------


def test_health_is_503_while_loading_and_200_when_ready():
    with LiveApi(FakeCore(), ready=False) as api:
        status, headers, body = api.request("GET", "/health")
        assert status == 503 and json.loads(body)["error"]["message"] == "Loading model"
        status, _, body = api.request("POST", "/infill", {"input_prefix": "a"})
        assert status == 503
        api.make_ready()
        assert api.request("GET", "/health")[0::2] == (200, b'{"status":"ok"}')


def test_infill_answers_llama_cpp_shape_in_compact_json():
    with LiveApi(FakeCore()) as api:
        body = {"input_prefix": "def f(x):\n", "prompt": "    ret", "input_suffix": "\n\nf(1)\n",
                "input_extra": [{"filename": "util.py", "text": "def g(): pass\n"}], "n_predict": 32}
        status, _, data = api.request("POST", "/infill", body)
        assert status == 200
        assert b'"content":"' in data  # llama.vim's check: no space after the colon
        answer = json.loads(data)
        expected = shown(InfillRequest("0", "def f(x):\n    ret", "\n\nf(1)\n"))
        assert answer["content"] == expected
        assert answer["stop"] is True and answer["stop_type"] == "eos"
        timings = {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"}
        assert timings <= set(answer["timings"])
        assert "tokens_cached" in answer and answer["truncated"] is False


def test_response_fields_are_flattened_and_n_cmpl_answers_a_list():
    with LiveApi(FakeCore()) as api:
        fields = ["content", "timings/prompt_n", "timings/predicted_ms", "truncated", "no/such"]
        status, answer = api.post("/infill", {"input_prefix": "x = ", "response_fields": fields})
        assert status == 200 and set(answer) == {"content", "timings/prompt_n", "timings/predicted_ms", "truncated"}
        status, answers = api.post("/infill", {"input_prefix": "x = ", "n_cmpl": 2})
        assert status == 200 and isinstance(answers, list) and len(answers) == 2
        assert answers[0]["content"] != answers[1]["content"]


def test_warm_up_with_n_predict_0_answers_at_once_and_only_encodes():
    core = FakeCore(steps=3)
    with LiveApi(core) as api:
        status, answer = api.post("/infill", {"input_extra": [{"filename": "a.py", "text": "x = 1\n"}],
                                              "n_predict": 0, "response_fields": [""]})
        assert status == 200 and answer == {}
        assert _wait_for(lambda: core.warmed == 1)
        assert core.completed == 0  # nothing was denoised


def test_stop_strings_and_n_indent_cut_the_fill():
    assert cut_at_stops("abc\ndef", ["\nd", "zz"]) == ("abc", True)
    assert cut_at_stops("abc", []) == ("abc", False)
    assert cut_at_indent("    a\n    b\nc\n    d", 4) == ("    a\n    b", True)
    assert cut_at_indent("a\n\n  b", 2) == ("a\n\n  b", False)  # blank lines do not end it
    assert flatten_fields({"a": {"b": 1}, "c": 2}, ["a/b", "c", "a/x"]) == {"a/b": 1, "c": 2}
    with LiveApi(FakeCore()) as api:
        text = fill_text(InfillRequest("0", "value", ""), BRACKETS)
        stop = text[3:5]
        status, answer = api.post("/infill", {"input_prefix": "value", "stop": [stop]})
        assert status == 200 and answer["content"] == text[:3] and answer["stop_type"] == "word"


def test_t_max_predict_ms_answers_the_whole_lines_denoised_so_far():
    core = FakeCore(steps=200, step_delay=0.01)  # two seconds of denoising
    with LiveApi(core) as api:
        started = time.monotonic()
        status, answer = api.post("/infill", {"input_prefix": "ab\ncd", "t_max_predict_ms": 200})
        took = time.monotonic() - started
        assert status == 200 and answer["stop_type"] == "limit"
        assert answer["content"] == "<ab"  # the whole lines so far ("<ab\n"), as the fill layer shows them
        assert took < 1.5
        assert _wait_for(lambda: core.cancelled_ids)


# ---- OpenAI and Mistral ---------------------------------------------------------------------------


def test_openai_completion_with_suffix():
    with LiveApi(FakeCore()) as api:
        status, answer = api.post("/v1/completions", {"model": "any", "prompt": "def f(", "suffix": "):\n",
                                                      "max_tokens": 16, "n": 2})
        assert status == 200 and answer["object"] == "text_completion"
        assert answer["choices"][0]["text"] == shown(InfillRequest("0", "def f(", "):\n"))
        assert [c["index"] for c in answer["choices"]] == [0]  # the fake's two candidates are one fill: shown once
        assert answer["choices"][0]["finish_reason"] in ("stop", "length")
        usage = answer["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        status, answer = api.post("/v1/completions", {"prompt": "x", "logprobs": 3})
        assert status == 400 and "logprobs" in answer["error"]["message"]
        status, _, data = api.request("GET", "/v1/models")
        assert status == 200 and json.loads(data)["data"][0]["id"] == "fake-model"


def _sse(data: bytes) -> list[str]:
    return [line[len("data: "):] for line in data.decode().split("\n") if line.startswith("data: ")]


def test_streaming_ends_with_finish_reason_then_done():
    with LiveApi(FakeCore()) as api:
        status, headers, data = api.request("POST", "/v1/completions",
                                            {"prompt": "a = ", "suffix": "\n", "stream": True,
                                             "stream_options": {"include_usage": True}})
        events = _sse(data)
        assert status == 200 and headers["content-type"].startswith("text/event-stream")
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
        assert text == shown(InfillRequest("0", "a = ", "\n"))
        finishing = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        assert len(finishing) == 1 and chunks.index(finishing[0]) == len(chunks) - 2
        assert "usage" in chunks[-1] and chunks[-1]["choices"] == []
        status, _, data = api.request("POST", "/v1/fim/completions", {"prompt": "a = ", "suffix": "\n", "stream": True})
        chunks = [json.loads(e) for e in _sse(data)[:-1]]
        streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert streamed == shown(InfillRequest("0", "a = ", "\n"))
        status, answer = api.post("/v1/fim/completions", {"prompt": "a = ", "suffix": "\n"})
        assert answer["choices"][0]["message"]["content"] == shown(InfillRequest("0", "a = ", "\n"))


# ---- security and limits ----------------------------------------------------------------------------


def test_a_keyless_local_server_takes_llama_vims_empty_bearer_header():
    with LiveApi(FakeCore()) as api:
        status, answer = api.post("/infill", {"input_prefix": "x"}, headers={"Authorization": "Bearer "})
        assert status == 200 and "content" in answer


def test_keys_no_key_wrong_key_right_key_and_open_health():
    with LiveApi(FakeCore(), _keyed()) as api:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong-key-0123456789"},
                        {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY}):
            status, answer = api.post("/infill", {"input_prefix": "x"}, headers=headers)
            assert status == 401 and answer["error"]["type"] == "authentication_error", headers
        status, answer = api.post("/infill", {"input_prefix": "x"}, headers={"Authorization": f"Bearer {KEY}"})
        assert status == 200
        assert api.request("GET", "/health")[0] == 200
        assert api.request("GET", "/v1/models")[0] == 401


def test_binding_beyond_loopback_needs_keys(tmp_path):
    with pytest.raises(ValueError, match="api-key-file"):
        HttpSettings(host="0.0.0.0").check()
    _keyed(host="0.0.0.0").check()
    from infill_http.command import parse_args as _parse_args

    with pytest.raises(SystemExit) as exit_info:
        _parse_args(["--http", "0.0.0.0:8012"])
    assert exit_info.value.code == 2
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nalice:" + KEY + "\n")
    _, _, http = _parse_args(["--http", "0.0.0.0:8012", "--api-key-file", str(keys)])
    assert http is not None and [k.name for k in http.api_keys] == ["alice"]
    keys.write_text("short\n")
    with pytest.raises(SystemExit):
        _parse_args(["--http", "127.0.0.1:8012", "--api-key-file", str(keys)])
    for bad in (["--http", "nonsense"], ["--http", "127.0.0.1:99999"], ["--api-key-file", str(keys)],
                ["--http", ":8012", "--idle-exit", "5"]):
        with pytest.raises(SystemExit):
            _parse_args(bad)


def test_bad_bodies_get_clear_4xx_json():
    with LiveApi(FakeCore(), HttpSettings(max_body_bytes=10_000)) as api:
        cases = [
            (b"", 400, "empty"),
            (b"{bad json", 400, "not valid JSON"),
            (b'{"input_prefix": 3}', 400, "input_prefix"),
            (b'["a list"]', 400, "invalid request"),
            (b'{"input_prefix": "\xff\xfe"}', 400, "JSON"),
            (b'{"input_prefix": "x", "n_cmpl": 99}', 400, "candidates"),
            (json.dumps({"input_prefix": "x" * 20_000}).encode(), 413, "limit"),
        ]
        for raw, status, words in cases:
            got, _, data = api.request("POST", "/infill", raw=raw)
            error = json.loads(data)["error"]
            assert got == status and words in error["message"], (raw[:40], got, error)
        assert api.request("GET", "/infill")[0] == 405
        assert api.request("GET", "/nowhere")[0] == 404
        assert api.post("/infill", {"input_prefix": "still serving"})[0] == 200


def test_too_many_completions_name_n_not_the_prompt():
    """n over the limit is blamed on n; a list of prompts whose n candidates add up past it says both."""
    with LiveApi(FakeCore()) as api:
        for body, words, not_words in (
            ({"prompt": "x = ", "n": 20}, "n must be 1-8, got 20", "prompt"),
            ({"prompt": "x = ", "n": 0}, "n must be 1-8, got 0", "prompt"),
            ({"prompt": ["a", "b", "c"], "n": 3}, "3 prompts with n=3 candidates each ask for 9 fills", None),
            ({"prompt": ["a"] * 9}, "prompt must be a string or 1-8 strings", None),
        ):
            status, answer = api.post("/v1/completions", body)
            message = answer["error"]["message"]
            assert status == 400 and words in message, (body, message)
            assert not_words is None or not_words not in message, message


def test_context_length_limit():
    with LiveApi(FakeCore(), HttpSettings(max_context_chars=1000)) as api:
        status, answer = api.post("/infill", {"input_prefix": "a" * 600, "input_suffix": "b" * 600})
        assert status == 413 and "1000" in answer["error"]["message"]


def _raw(port: int, data: bytes, *, read: bool = True, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_oversize_declared_and_chunked_bodies_are_refused():
    with LiveApi(FakeCore(), HttpSettings(max_body_bytes=1000)) as api:
        head = b"POST /infill HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n"
        reply = _raw(api.port, head + b"Content-Length: 68719476736\r\n\r\n{")
        assert reply.startswith(b"HTTP/1.1 413")
        chunk = b"x" * 600
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        reply = _raw(api.port, head + b"Transfer-Encoding: chunked\r\n\r\n" + body)
        assert reply.startswith(b"HTTP/1.1 413")
        assert api.post("/infill", {"input_prefix": "ok"})[0] == 200


def test_a_slow_client_is_cut_off_and_others_are_served_meanwhile():
    with LiveApi(FakeCore(), HttpSettings(body_timeout_s=0.5)) as api:
        with socket.create_connection(("127.0.0.1", api.port), timeout=5) as slow:
            slow.sendall(b"POST /infill HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"input_")
            assert api.post("/infill", {"input_prefix": "meanwhile"})[0] == 200
            reply = slow.recv(65536)
        assert reply.startswith(b"HTTP/1.1 408")


def test_garbage_and_oversized_headers_get_400_and_the_server_goes_on():
    with LiveApi(FakeCore()) as api:
        assert _raw(api.port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
        huge = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
        reply = _raw(api.port, huge)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:100]  # refused, not served
        assert api.request("GET", "/health")[0] == 200


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_disconnects_cancels_its_fill(stream):
    core = FakeCore(steps=500, step_delay=0.01)  # five seconds if nobody cancels
    with LiveApi(core) as api:
        body = json.dumps({"prompt": "x", "stream": stream}).encode()
        s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
        head = b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(body)
        s.sendall(head + body)
        assert _wait_for(lambda: core.active == 1)
        if stream:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")  # the stream is open
        s.close()
        assert _wait_for(lambda: core.cancelled_ids, timeout=3), "the disconnect did not cancel the fill"
        assert _wait_for(lambda: core.active == 0)
        assert api.request("GET", "/health")[0] == 200


def test_one_client_cannot_take_every_slot():
    core = FakeCore(steps=100, step_delay=0.01)
    with LiveApi(core, _keyed(max_in_flight=2)) as api:
        results: list[int] = []

        def fill() -> None:
            results.append(api.post("/infill", {"input_prefix": "x"}, headers={"Authorization": f"Bearer {KEY}"})[0])

        threads = [threading.Thread(target=fill) for _ in range(2)]
        for t in threads:
            t.start()
        assert _wait_for(lambda: core.active == 2)
        status, _, data = api.request("POST", "/infill", {"input_prefix": "x"},
                                      headers={"Authorization": f"Bearer {KEY}"})
        assert status == 429 and json.loads(data)["error"]["type"] == "rate_limit_error"
        for t in threads:
            t.join(10)
        assert results == [200, 200]
        assert api.post("/infill", {"input_prefix": "x"}, headers={"Authorization": f"Bearer {KEY}"})[0] == 200


def test_tls(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                           "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {made.stderr[-200:]!r}")
    with LiveApi(FakeCore(), HttpSettings(ssl_certfile=cert, ssl_keyfile=key)) as api:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=10)
        conn.request("POST", "/infill", body=json.dumps({"input_prefix": "x"}))
        assert conn.getresponse().status == 200
        conn.close()
        assert _raw(api.port, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=2)[:8] != b"HTTP/1.1"


def test_the_engine_protocol_over_a_websocket():
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with LiveApi(FakeCore(), _keyed()) as api:
        url = f"ws://127.0.0.1:{api.port}/v1/engine"
        with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "test")))
            welcome = msgspec.msgpack.decode(ws.recv(timeout=5), type=Welcome)
            assert welcome.model_name == "fake-model"
            ws.send(msgspec.msgpack.encode(InfillRequest("7", "a = ", "\n")))
            result = msgspec.msgpack.decode(ws.recv(timeout=5), type=InfillResult)
            expected = fill_text(InfillRequest("0", "a = ", "\n"), BRACKETS)
            assert result.request_id == "7" and result.candidates[0].text == expected
        try:
            with connect(url, additional_headers={"Authorization": "Bearer wrong-key-0123456789"}) as ws:
                ws.recv(timeout=5)
        except InvalidStatus as exc:  # refused at the handshake
            assert exc.response.status_code in (401, 403)
        except Exception as exc:  # or closed with a policy-violation code
            assert getattr(getattr(exc, "rcvd", None), "code", 1008) == 1008


def test_one_key_has_one_in_flight_budget_across_websockets_and_http():
    from websockets.sync.client import connect

    from engine.protocol import Cancel, ErrorCode, ErrorReply, FinishReason

    core = FakeCore(step_delay=0.002)
    with LiveApi(core, _keyed(max_in_flight=4)) as api, contextlib.ExitStack() as sockets:
        budget = api.front.api.budget
        auth = {"Authorization": f"Bearer {KEY}"}

        def open_socket():
            ws = sockets.enter_context(connect(f"ws://127.0.0.1:{api.port}/v1/engine", additional_headers=auth))
            ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "test")))
            msgspec.msgpack.decode(ws.recv(timeout=5), type=Welcome)
            return ws

        def reply(ws):
            return msgspec.msgpack.decode(ws.recv(timeout=5), type=InfillResult | ErrorReply)

        long = {"max_steps": 1_000_000}
        ws1, ws2, ws3 = open_socket(), open_socket(), open_socket()
        try:
            for name, ws in (("a", ws1), ("b", ws2)):
                for rid in (1, 2):  # a client's own claim to be someone else is ignored
                    ws.send(msgspec.msgpack.encode(InfillRequest(f"{name}{rid}", "a", "b", client="key:other", **long)))
            assert _wait_for(lambda: core.active == 4)
            ws3.send(msgspec.msgpack.encode(InfillRequest("c1", "a", "b", **long)))
            refused = reply(ws3)
            assert isinstance(refused, ErrorReply) and refused.code == ErrorCode.OVERLOADED
            status, headers, data = api.request("POST", "/infill", {"input_prefix": "x"}, headers=auth)
            assert status == 429 and headers.get("retry-after") == "1"
            assert core.active == 4 and set(core.added_clients) == {"key:alice"}
            # A result gives its place back: a cancelled request's, then a finished one's.
            ws1.send(msgspec.msgpack.encode(Cancel("a1")))
            assert reply(ws1).finish_reason == FinishReason.CANCELLED
            ws3.send(msgspec.msgpack.encode(InfillRequest("c5", "a", "b", max_steps=2)))
            assert isinstance(reply(ws3), InfillResult)
            # A connection that goes away gives back all it held.
            ws2.close()
            assert _wait_for(lambda: budget.in_flight("key:alice") == 1)
            assert api.post("/infill", {"input_prefix": "x", "n_predict": 4}, headers=auth)[0] == 200
            for rid in (6, 7, 8):
                ws3.send(msgspec.msgpack.encode(InfillRequest(f"c{rid}", "a", "b", **long)))
            assert _wait_for(lambda: core.active == 4)
            ws3.send(msgspec.msgpack.encode(InfillRequest("c9", "a", "b", **long)))
            assert reply(ws3).code == ErrorCode.OVERLOADED
            ws3.send(msgspec.msgpack.encode(InfillRequest("c6", "a", "b", **long)))  # an id already in flight
            duplicate = reply(ws3)
            assert duplicate.code == ErrorCode.BAD_REQUEST and budget.in_flight("key:alice") == 4
        finally:
            for ws in (ws1, ws2, ws3):
                ws.close()
        assert _wait_for(lambda: budget.in_flight("key:alice") == 0 and core.active == 0)


def test_a_warm_up_holds_its_place_until_the_engine_has_encoded_it():
    core = FakeCore(step_delay=1.5)  # each step (a warm-up's encoding) takes 1.5 s
    with LiveApi(core, _keyed(max_in_flight=2)) as api:
        auth = {"Authorization": f"Bearer {KEY}"}
        for _ in range(2):  # answered at once, each still in the engine
            assert api.post("/infill", {"input_prefix": "x", "n_predict": 0}, headers=auth)[0] == 200
        assert api.request("POST", "/infill", {"input_prefix": "x", "n_predict": 0}, headers=auth)[0] == 429
        assert api.front.api.budget.in_flight("key:alice") == 2
        assert _wait_for(lambda: api.front.api.budget.in_flight("key:alice") == 0, timeout=10)
        assert core.warmed == 2


# ---- the fill layer -------------------------------------------------------------------------------


def test_an_http_fill_that_breaks_the_file_is_refused_as_an_editor_would(monkeypatch):
    """HTTP answers go through the editors' fill layer: a fill that does not parse comes back empty, with the
    reason, when the request names its language (or a file name); without either, only the checks that
    need no grammar apply."""
    import fake_core

    fills = {"return f(": "[x", "return g(": "x"}  # the first leaves a bracket open, the second fits
    monkeypatch.setattr(fake_core, "fill_text", lambda request, *_: fills[request.prefix.rsplit("\n", 1)[-1].lstrip()])
    hole = {"input_prefix": "def h(x):\n    ", "input_suffix": ")\n"}
    with LiveApi(FakeCore()) as api:
        for named in ({"language": "python"}, {"filename": "src/h.py"}):
            status, answer = api.post("/infill", {**hole, "prompt": "return f(", **named})
            assert status == 200 and answer["content"] == "", answer
            assert "does not parse" in answer["refusal"]
            status, answer = api.post("/v1/completions", {"prompt": hole["input_prefix"] + "return f(",
                                                          "suffix": hole["input_suffix"], **named})
            assert status == 200 and answer["choices"][0]["text"] == ""
            assert "does not parse" in answer["choices"][0]["refusal"]
        status, answer = api.post("/infill", {**hole, "prompt": "return g(", "language": "python"})
        assert answer["content"] == "x" and "refusal" not in answer
        # No language: the checks that need no grammar; "[x" leaves a bracket open, "x" fits.
        status, answer = api.post("/infill", {**hole, "prompt": "return f("})
        assert answer["content"] == "" and "open" in answer["refusal"]
        status, answer = api.post("/infill", {**hole, "prompt": "return g("})
        assert answer["content"] == "x" and "refusal" not in answer


# ---- Mercury's /v1/edit/completions ---------------------------------------------------------------


def _edit_prompt(region: str, *, file: str = "", diff: str = "", path: str = "area.py") -> str:
    content = ""
    if file:
        content = f"<|current_file_content|>\ncurrent_file_path: {path}\n{file}\n<|/current_file_content|>\n"
    return (f"<|recently_viewed_code_snippets|>\n<|/recently_viewed_code_snippets|>\n{content}"
            f"<|code_to_edit|>\n{region}\n<|/code_to_edit|>\n<|edit_diff_history|>\n{diff}<|/edit_diff_history|>")


def test_edit_completions_repeat_a_rename_in_the_region_and_answer_mercurys_shape():
    """The fake core keeps every draft confidently, so the rule's edit is confirmed: after the parameter was
    renamed from height to size, the use of height in the body becomes size."""
    file = "def area(width, size):\n    return width * height\n\n\nprint(area(2, 3))"
    region = "def area(width, size):<|cursor|>\n    return width * height"
    diff = ("--- a/area.py\n+++ b/area.py\n@@ -1,2 +1,2 @@\n-def area(width, height):\n+def area(width, size):\n"
            "     return width * height\n")
    with LiveApi(FakeCore()) as api:
        status, answer = api.post("/v1/edit/completions", {
            "model": "any", "messages": [{"role": "user", "content": _edit_prompt(region, file=file, diff=diff)}]})
        assert status == 200 and answer["object"] == "chat.completion"
        (choice,) = answer["choices"]
        assert choice["message"] == {"role": "assistant",
                                     "content": "def area(width, size):\n    return width * size"}
        # No recent edit: nothing to repeat, and the fake model keeps every line: the region comes back as it was.
        status, answer = api.post("/v1/edit/completions", {
            "messages": [{"role": "user", "content": _edit_prompt(region, file=file)}]})
        assert status == 200 and answer["choices"][0]["message"]["content"] == region.replace("<|cursor|>", "")


@pytest.mark.parametrize(("body", "message"), [
    ({"messages": []}, "one user message"),
    ({"messages": [{"role": "system", "content": "x"}]}, "one user message"),
    ({"messages": [{"role": "user", "content": "no tags here"}]}, "code_to_edit"),
    ({"messages": [{"role": "user", "content": "<|code_to_edit|>\nx = 1\n"}]}, "never closed"),
    ({"messages": [{"role": "user", "content": "<|code_to_edit|>a<|cursor|>b<|cursor|><|/code_to_edit|>"}]},
     "more than one"),
    ({"messages": [{"role": "user", "content": "<|code_to_edit|>x<|/code_to_edit|>"}], "stream": True}, "stream"),
])
def test_edit_completions_refuse_what_is_not_an_edit_prompt(body, message):
    with LiveApi(FakeCore()) as api:
        status, answer = api.post("/v1/edit/completions", body)
        assert status == 400 and message in answer["error"]["message"]
