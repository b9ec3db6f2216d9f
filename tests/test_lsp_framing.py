"""LSP framing that a bad frame cannot knock over, and the protocol states, against the real server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import soak
from hypothesis import given, settings
from hypothesis import strategies as st
from lsp_helpers import PYTHONPATH, STATE_HOME

from infill_lsp.framing import Frame, FrameParser, Refused, peek_id


def frame(payload: dict | bytes, length_delta: int = 0) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"Content-Length: {len(body) + length_delta}\r\n\r\n".encode() + body


def request(message_id: int, method: str = "test/echo", params: dict | None = None) -> dict:
    return {"jsonrpc": "2.0", "id": message_id, "method": method, "params": params or {}}


MESSAGES = st.lists(st.builds(request, st.integers(0, 10**6), st.sampled_from(["a", "b/c", "é"]),
                              st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3)),
                    min_size=1, max_size=6)


@soak.mark
@settings(max_examples=soak.cases(fast=200, soak=2000), deadline=None)
@given(messages=MESSAGES, cuts=st.lists(st.integers(1, 4000), max_size=10), garbage=st.binary(max_size=40))
def test_frames_survive_any_chunking_and_garbage_between_them(messages, cuts, garbage):
    stream = b"".join((garbage if i % 2 else b"") + frame(m) for i, m in enumerate(messages))
    parser, out, at = FrameParser(), [], 0
    for cut in sorted(set(cuts)):
        out += parser.feed(stream[at:cut])
        at = max(at, cut)
    out += parser.feed(stream[at:])
    bodies = [json.loads(f.body) for f in out if isinstance(f, Frame)]
    # Garbage that happens to look like a header could eat a message; random bytes essentially never do.
    assert bodies == messages or b"ontent-" in garbage.lower()


def test_a_content_length_a_few_bytes_short_loses_only_that_message():
    parser = FrameParser()
    out = parser.feed(frame(request(1), -3) + frame(request(2)))
    assert [f.body[-3:] for f in out if isinstance(f, Frame)][0] != b"{}}"  # the short one is cut
    assert json.loads(out[-1].body)["id"] == 2


def test_a_content_length_too_long_is_cut_at_the_next_header_or_taken_when_nothing_more_comes():
    parser = FrameParser()
    out = parser.feed(frame(request(1), +7) + frame(request(2)))
    assert [json.loads(f.body)["id"] for f in out] == [1, 2]
    lone = FrameParser()
    assert lone.feed(frame(request(3), +7)) == [] and lone.pending
    assert [json.loads(f.body)["id"] for f in lone.stalled()] == [3]


def test_an_oversized_body_is_refused_with_its_id_and_skipped_without_being_held():
    parser = FrameParser(max_body_bytes=100)
    big = json.dumps(request(7, params={"text": "x" * 10_000})).encode()
    out = parser.feed(frame(big)[:2000])
    assert out == [Refused("a message of 10065 bytes is over the server's limit of 100 bytes", 7)] or (
        isinstance(out[0], Refused) and out[0].message_id == 7
    )
    assert len(parser._buffer) < 2000
    out = parser.feed(frame(big)[2000:] + frame(request(8)))
    assert [json.loads(f.body)["id"] for f in out if isinstance(f, Frame)] == [8]


def test_peek_id_reads_broken_bodies():
    assert peek_id(b'{"jsonrpc": "2.0", "id": 12, "method": "x", "par') == 12
    assert peek_id(b'{"id": "a\\"b", ') == 'a"b'
    assert peek_id(b"garbage") is None


# ---- against the server process ------------------------------------------------------------------


class RawClient:
    """The language server as a subprocess, spoken to in raw bytes."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": PYTHONPATH, "XDG_STATE_HOME": STATE_HOME}
        self.process = subprocess.Popen([sys.executable, "-m", "infill_lsp.server", "--max-message-mb", "1"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=env)
        self.parser = FrameParser()
        self.pending: list[dict] = []
        os.set_blocking(self.process.stdout.fileno(), False)

    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def answer(self, message_id, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.pending:
                if message.get("id") == message_id and "method" not in message:
                    self.pending.remove(message)
                    return message
            chunk = self.process.stdout.read(65536)
            if chunk:
                self.pending += [json.loads(f.body) for f in self.parser.feed(chunk) if isinstance(f, Frame)]
            else:
                time.sleep(0.02)
        raise AssertionError(f"no answer to {message_id!r}; got {self.pending}")

    def initialize(self, message_id: int = 1) -> dict:
        """Initialize the server on the fake engine; its answer."""
        options = {"engine": {"mode": "factory", "factory": "lsp_fake_engine:make_client"}}
        self.send(frame(request(message_id, "initialize", {"capabilities": {}, "initializationOptions": options})))
        return self.answer(message_id)

    def close(self) -> int:
        self.process.stdin.close()
        try:
            return self.process.wait(10)
        finally:
            self.process.kill()


def test_the_server_answers_every_request_through_bad_frames_and_protocol_states():
    client = RawClient()
    try:
        client.send(frame(request(1, "textDocument/inlineCompletion")))
        assert client.answer(1)["error"]["code"] == -32002  # before initialize
        assert "capabilities" in client.initialize(2)["result"]
        client.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        client.send(frame(request(3, "initialize", {"capabilities": {}})))
        assert client.answer(3)["error"]["code"] == -32600  # initialized once only
        client.send(frame(request(4, "infill/status"), -5))  # a few bytes short: answered as a parse error
        assert client.answer(4)["error"]["code"] == -32700
        client.send(frame(request(5, "infill/status")))  # and the next frame is read as usual
        assert "engine" in client.answer(5)["result"]
        client.send(b"Content-Length: 68719476736\r\n\r\n" + json.dumps(request(6)).encode())  # 64 GiB announced
        assert client.answer(6)["error"]["code"] == -32600
        client.send(b"garbage\r\n" + frame([1, 2]) + frame(b"[[[[" * 5000 + b"]]]]" * 5000))
        client.send(frame(request(7, "no/such/method")))
        assert client.answer(7)["error"]["code"] == -32601
        client.send(frame(request(8, "shutdown")))
        assert client.answer(8)["result"] is None
        client.send(frame(request(9, "infill/status")))
        assert client.answer(9)["error"]["code"] == -32600  # after shutdown
        client.send(frame({"jsonrpc": "2.0", "method": "exit"}))
        assert client.process.wait(20) == 0
    finally:
        client.close()


def test_exit_without_shutdown_ends_the_server_with_code_1():
    client = RawClient()
    try:
        client.send(frame(request(1, "initialize", {"capabilities": {}})))
        client.answer(1)
        client.send(frame({"jsonrpc": "2.0", "method": "exit"}))
        assert client.process.wait(20) == 1
    finally:
        client.close()


def test_an_oversized_header_alone_is_refused_once_the_stream_stalls():
    parser = FrameParser(max_body_bytes=100)
    assert parser.feed(b"Content-Length: 999999\r\n\r\n") == []
    assert parser.stalled() == [Refused("a message of 999999 bytes is over the server's limit of 100 bytes")]
    assert [json.loads(f.body)["id"] for f in parser.feed(frame(request(3)))] == [3]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def test_thousands_of_did_change_notifications_leave_nothing_behind():
    client = RawClient()
    try:
        client.initialize()
        uri = "file:///w/a.py"
        client.send(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}}))

        def burst(first_version: int) -> None:
            edits = b"".join(frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": first_version + i},
                "contentChanges": [{"range": {"start": {"line": 0, "character": 4},
                                              "end": {"line": 0, "character": 5}}, "text": str(i % 10)}]}})
                for i in range(3000))
            client.send(edits)
            client.send(frame(request(first_version, "infill/status")))
            assert client.answer(first_version, timeout=60)["result"]["pending_handlers"] <= 1

        burst(10)
        after_one = _rss_mb(client.process.pid)
        burst(10_000)
        burst(20_000)
        assert _rss_mb(client.process.pid) - after_one < 20  # flat after the first burst (was: every future kept)
    finally:
        client.close()


def test_a_lone_surrogate_in_a_document_becomes_a_replacement_character_not_an_internal_error():
    client = RawClient()
    try:
        client.initialize()
        client.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        uri = "file:///work/lone.py"
        # Written by hand: json.dumps would escape the backslash of the escape itself.
        text = b'"x = \\ud800\\nif a:\\n    \\n"'
        open_note = (b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"'
                     + uri.encode() + b'","languageId":"python","version":1,"text":' + text + b"}}}")
        client.send(frame(open_note))
        client.send(frame(request(2, "textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 2, "character": 4},
            "context": {"triggerKind": 1}})))
        answer = client.answer(2)
        assert "error" not in answer, answer
        client.send(frame(request(3, "infill/status")))
        assert "engine" in client.answer(3)["result"]
    finally:
        client.close()
