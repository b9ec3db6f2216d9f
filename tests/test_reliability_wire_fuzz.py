"""Property-based fuzzing of the engine's wire format, and of a live engine server fed garbage.

Every body either decodes to a message of the protocol or raises ProtocolError (nothing else escapes),
valid messages round-trip, and a live server keeps serving well-behaved connections whatever the
others send. Example counts are modest so the suite stays fast; each test records how many it tried.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from pathlib import Path

import msgspec
import pytest
import soak
from fake_core import FakeCore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import WAIT_S, record, short_socket_dir

from engine.clients.unix_socket import SocketEngineClient
from engine.host.server import EngineServer
from engine.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Cancel,
    Candidate,
    ErrorReply,
    Hello,
    InfillRequest,
    InfillResult,
    Partial,
    ProtocolError,
    Shutdown,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_client,
    decode_server,
    encode,
    frame_length,
)

CLIENT_TYPES = (Hello, InfillRequest, Cancel, StatusRequest, Shutdown)
SERVER_TYPES = (Welcome, Partial, InfillResult, ErrorReply, StatusReply)
FAST = settings(
    max_examples=soak.cases(fast=300, soak=3000), deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
LIVE_CASES = soak.cases(fast=50, soak=600)  # each waits out a 50 ms quiet spell on its connection
tried: dict[str, int] = {}


def count(name: str) -> None:
    tried[name] = tried.get(name, 0) + 1


int64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=40)
client_messages = st.one_of(
    st.builds(Hello, int64, text),
    st.builds(
        InfillRequest,
        request_id=text,
        prefix=text,
        suffix=text,
        language=text,
        document_key=text,
        canvas_lengths=st.tuples(*[int64] * 2),
        max_steps=int64,
        num_candidates=int64,
        priority=int64,
        stream=st.booleans(),
        pinned=text,
        single_line=st.booleans(),
        seed=int64,
    ),
    st.builds(Cancel, text),
    st.builds(StatusRequest, text),
    st.just(Shutdown()),
)
server_messages = st.one_of(
    st.builds(Welcome, int64, text, text, text, st.booleans(), int64),
    st.builds(Partial, text, text, int64),
    st.builds(
        InfillResult,
        text,
        st.lists(st.builds(Candidate, text, st.floats(allow_nan=False), int64, int64), max_size=3).map(tuple),
        int64,
    ),
    st.builds(ErrorReply, text, int64, text),
    st.builds(StatusReply, text, text, text, text, int64, int64),
)
msgpack_values = st.recursive(
    st.none() | st.booleans() | int64 | st.floats() | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def decode_either(decode, body: bytes, types: tuple[type, ...]) -> None:
    try:
        message = decode(body)
    except ProtocolError:
        return
    assert isinstance(message, types)


@soak.mark
@FAST
@given(st.binary(max_size=512))
def test_random_bodies_decode_or_raise_protocol_error(body: bytes) -> None:
    count("random bytes")
    decode_either(decode_client, body, CLIENT_TYPES)
    decode_either(decode_server, body, SERVER_TYPES)


@soak.mark
@FAST
@given(msgpack_values, st.integers(0, 20))
def test_random_msgpack_structures_are_rejected_cleanly(value: object, tag: int) -> None:
    count("random msgpack values")
    spread = [tag, *value] if isinstance(value, list) else [tag, value, value]
    for body in (msgspec.msgpack.encode(value), msgspec.msgpack.encode([tag, value]), msgspec.msgpack.encode(spread)):
        decode_either(decode_client, body, CLIENT_TYPES)
        decode_either(decode_server, body, SERVER_TYPES)


@soak.mark
@FAST
@given(client_messages)
def test_valid_client_messages_round_trip(message) -> None:
    count("valid client messages")
    frame = encode(message)
    assert frame_length(frame[:4]) == len(frame) - 4
    assert decode_client(frame[4:]) == message


@soak.mark
@FAST
@given(server_messages)
def test_valid_server_messages_round_trip(message) -> None:
    count("valid server messages")
    assert decode_server(encode(message)[4:]) == message


@soak.mark
@FAST
@given(st.one_of(client_messages, server_messages), st.data())
def test_mutated_frames_are_rejected_cleanly(message, data) -> None:
    count("mutated frames")
    frame = bytearray(encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(frame) - 1)))
        if operation == "flip" and frame:
            frame[at] ^= 1 << data.draw(st.integers(0, 7))
        elif operation == "truncate":
            del frame[at:]
        elif operation == "insert":
            frame[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif frame:
            del frame[at]
    try:
        length = frame_length(bytes(frame[:4]))
    except ProtocolError:
        return
    assert length <= MAX_FRAME_BYTES
    body = bytes(frame[4 : 4 + length])
    decode_either(decode_client, body, CLIENT_TYPES)
    decode_either(decode_server, body, SERVER_TYPES)


def test_frame_length_limits() -> None:
    assert frame_length(struct.pack(">I", MAX_FRAME_BYTES)) == MAX_FRAME_BYTES
    for header in (struct.pack(">I", MAX_FRAME_BYTES + 1), b"", b"\x00\x00\x01"):
        with pytest.raises(ProtocolError):
            frame_length(header)
    with pytest.raises(ProtocolError, match="exceeds"):
        encode(InfillRequest("1", "x" * (MAX_FRAME_BYTES + 1), ""))


# ---- a live server fed garbage -----------------------------------------------------------------


class ServerThread:
    """An EngineServer on a FakeCore, served by an event loop of its own thread."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self.server = EngineServer(lambda: FakeCore(steps=2), socket_path, handshake_timeout=2.0)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(WAIT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(WAIT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT_S)
        self.loop.close()


def send_and_collect(path: Path, payload: bytes, hello: bool) -> bytes:
    """Send ``payload`` on a fresh connection; return what comes back before a short quiet spell."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT_S)
    try:
        sock.connect(str(path))
        if hello:
            sock.sendall(encode(Hello(PROTOCOL_VERSION, "fuzz")))
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(0.05)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received
    finally:
        sock.close()


def replies(received: bytes) -> list:
    """Every whole frame in ``received``, decoded (an engine only ever sends valid frames)."""
    out, at = [], 0
    while at + 4 <= len(received):
        length = frame_length(received[at : at + 4])
        if at + 4 + length > len(received):
            break
        out.append(decode_server(received[at + 4 : at + 4 + length]))
        at += 4 + length
    return out


def test_invalid_utf8_in_a_string_field_is_a_protocol_error_and_the_connection_stays() -> None:
    """Found by the fuzzer: msgspec raised UnicodeDecodeError, which escaped decode_client and
    dropped the connection with an unhandled exception in the server instead of an ErrorReply."""
    body = msgspec.msgpack.encode([2, "7", "ab", "cd"]).replace(b"ab", b"\xc2\x00")
    with pytest.raises(ProtocolError):
        decode_client(body)
    with short_socket_dir() as socket_path, ServerThread(socket_path):
        frame = struct.pack(">I", len(body)) + body
        answers = replies(send_and_collect(socket_path, frame + encode(InfillRequest("8", "x", "y")), True))
        assert [type(m) for m in answers] == [Welcome, ErrorReply, InfillResult]
        assert answers[1].code == 6 and "utf-8" in answers[1].message.lower()  # ErrorCode.PROTOCOL


@soak.mark
def test_a_live_server_survives_garbage_and_keeps_serving_others(caplog) -> None:
    garbage = st.one_of(
        st.binary(max_size=300),
        st.lists(st.binary(max_size=64).map(lambda b: struct.pack(">I", len(b)) + b), max_size=5).map(
            b"".join
        ),
        client_messages.filter(lambda m: not isinstance(m, Shutdown))
        .map(encode)
        .flatmap(
            lambda f: st.integers(0, len(f)).map(lambda cut: f[:cut])  # a frame cut short
        ),
        msgpack_values.map(lambda v: msgspec.msgpack.encode(v)).map(lambda b: struct.pack(">I", len(b)) + b),
    )
    sent = 0
    with short_socket_dir() as socket_path, ServerThread(socket_path) as live:

        async def good_request(i: int) -> str:
            client = SocketEngineClient(socket_path, request_timeout=WAIT_S)
            await client.start()
            try:
                return (await client.infill(InfillRequest(str(i), "good", "req"))).candidates[0].text
            finally:
                await client.close()

        @settings(max_examples=LIVE_CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(garbage, st.booleans())
        def feed(payload: bytes, hello: bool) -> None:
            nonlocal sent
            sent += 1
            for message in replies(send_and_collect(socket_path, payload, hello)):
                assert isinstance(message, Welcome | ErrorReply | InfillResult | Partial | StatusReply)
            if sent % 25 == 0:
                assert asyncio.run(good_request(sent)) == "[good|req]"

        feed()
        assert asyncio.run(good_request(0)) == "[good|req]"
        deadline = time.monotonic() + WAIT_S
        while live.server.connections:  # every garbage connection was closed, none lingers
            assert time.monotonic() < deadline, f"{live.server.connections} connections linger"
            time.sleep(0.02)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text
    count_live = sent  # Shutdown frames are left out: any same-user client may stop the engine
    record(
        "wire decoder fuzz",
        cases=sum(tried.values()),
        per_property=dict(tried),
        result="only ProtocolError raised",
    )
    record("live engine fed garbage", cases=count_live, result="kept serving, no connection left open")
