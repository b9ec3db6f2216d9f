"""Team scale on Ray Serve: two CPU engine replicas (the fake core, which signs each fill with its process
id) behind the HTTP API on a local Ray cluster: document affinity, streaming and cancellation through the
replicas, and a replica killed under load that loses no request for good."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgspec
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'infill-diffusion[serve]')")

from engine.host.launch import EngineLaunch  # noqa: E402
from engine.protocol import (  # noqa: E402
    PROTOCOL_VERSION,
    Cancel,
    FinishReason,
    Hello,
    InfillRequest,
    InfillResult,
    Partial,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_server,
)
from infill_http.ray.command import parse_args as _parse_args  # noqa: E402
from infill_http.ray.routing import rendezvous_order  # noqa: E402
from infill_http.settings import ApiKey, HttpSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = "team-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
STEPS = 50  # fake-core steps of 20 ms: a fill takes about a second, long enough to be caught in flight
pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def team():
    """``(url, ingress handle)`` of the app with two replicas, on a 2-CPU local cluster torn down after."""
    from ray import serve

    from infill_http.ray.serve import build_app, deploy

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "FAKE_CORE_STEPS": str(STEPS)}})
    try:
        keys = (ApiKey("team", hashlib.sha256(KEY.encode()).digest()),)
        settings = HttpSettings(port=_free_port(), api_keys=keys, request_timeout_s=30.0, max_in_flight=64)
        app = build_app(EngineLaunch(core_factory="fake_core:pid_core", device="cpu"), settings, replicas=2)
        handle = deploy(app, settings, ready_timeout_s=120.0)
        yield f"http://127.0.0.1:{settings.port}", handle
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def _infill(url: str, slot: int, timeout: float = 60.0, key: bool = True) -> tuple[int, str]:
    """POST /infill for document ``slot``: (status, the pid that filled it, or the error body)."""
    body = json.dumps({"input_prefix": f"def f{slot}(x):\n    ", "input_suffix": "\n", "id_slot": slot}).encode()
    headers = {"Content-Type": "application/json"} | (AUTH if key else {})
    request = urllib.request.Request(f"{url}/infill", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())["content"].rpartition("@")[2]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _fill_all(url: str, slots: list[int]) -> list[tuple[int, str]]:
    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        return list(pool.map(lambda slot: _infill(url, slot), slots))


# ---- without a cluster ----------------------------------------------------------------------------


def test_rendezvous_order_is_stable_and_moves_only_the_documents_of_a_replica_that_leaves():
    replicas = ["a1", "b2", "c3"]
    keys = [f"http:key:{i}" for i in range(300)]
    first = {key: rendezvous_order(key, replicas)[0] for key in keys}
    assert first == {key: rendezvous_order(key, list(reversed(replicas)))[0] for key in keys}
    assert {replica: list(first.values()).count(replica) > 60 for replica in replicas} == dict.fromkeys(replicas, True)
    after = {key: rendezvous_order(key, ["a1", "c3"])[0] for key in keys}
    moved = {key for key in keys if after[key] != first[key]}
    assert moved == {key for key in keys if first[key] == "b2"}  # only b2's documents move


def test_the_command_refuses_a_public_address_without_keys(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse_args(["--http", "0.0.0.0:8012", "--replicas", "2"])
    assert exit_info.value.code == 2
    assert "--api-key-file" in capsys.readouterr().err
    _, launch, settings = _parse_args(["--replicas", "2", "--core-factory", "fake_core:make_core"])
    assert (settings.host, settings.port, launch.core_factory) == ("127.0.0.1", 8012, "fake_core:make_core")


# ---- on a local cluster ---------------------------------------------------------------------------


def test_each_document_stays_on_one_replica_and_both_replicas_serve(team):
    url, _ = team
    status, body = _infill(url, 0, key=False)
    assert status == 401 and "API key" in body  # the API's keys hold behind Serve's proxy
    slots = list(range(16)) * 2  # each document asked twice, all at once
    answers = _fill_all(url, slots)
    assert all(status == 200 for status, _ in answers), answers
    replica_of: dict[int, set[str]] = {}
    for slot, (_, pid) in zip(slots, answers, strict=True):
        replica_of.setdefault(slot, set()).add(pid)
    assert all(len(pids) == 1 for pids in replica_of.values()), replica_of
    assert len(set().union(*replica_of.values())) == 2  # 16 documents on 2 replicas: both used


def test_partials_stream_and_a_cancel_reaches_the_replica_over_the_engine_socket(team):
    from websockets.sync.client import connect

    url, _ = team

    def status(ws, request_id: str) -> StatusReply:
        ws.send(msgspec.msgpack.encode(StatusRequest(request_id)))
        reply = decode_server(ws.recv(timeout=5))
        assert isinstance(reply, StatusReply) and reply.request_id == request_id, reply
        return reply

    with connect(url.replace("http://", "ws://") + "/v1/engine", open_timeout=10, additional_headers=AUTH) as ws:
        ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "test")))
        assert isinstance(decode_server(ws.recv(timeout=10)), Welcome)
        before = status(ws, "100")  # summed over the replicas
        ws.send(msgspec.msgpack.encode(InfillRequest("1", "def f(x):\n    ", "\n", document_key="doc", stream=True)))
        first = decode_server(ws.recv(timeout=10))
        assert isinstance(first, Partial) and first.request_id == "1"
        ws.send(msgspec.msgpack.encode(Cancel("1")))
        message = first
        while isinstance(message, Partial):
            message = decode_server(ws.recv(timeout=10))
        assert isinstance(message, InfillResult) and message.finish_reason == FinishReason.CANCELLED
        deadline = time.monotonic() + 15
        while (after := status(ws, "101")).active and time.monotonic() < deadline:
            time.sleep(0.1)
        # The engine dropped the fill (about a second of steps) instead of finishing it: the cancel reached it.
        assert (after.active, after.completed, after.model_name) == (0, before.completed, "fake-model")
        assert before.completed >= 32  # both replicas' fills of the test before: every replica was asked


def test_calls_made_together_from_one_request_are_each_routed(team):
    """Serve gives the calls made while serving a request that request's id; fills of one WebSocket (or of
    one HTTP request with several prompts) must not wait on each other for it."""
    from websockets.sync.client import connect

    url, _ = team
    with connect(url.replace("http://", "ws://") + "/v1/engine", open_timeout=10, additional_headers=AUTH) as ws:
        ws.send(msgspec.msgpack.encode(Hello(PROTOCOL_VERSION, "test")))
        decode_server(ws.recv(timeout=10))
        started = time.monotonic()
        for i in range(8):
            ws.send(msgspec.msgpack.encode(InfillRequest(str(i), f"def g{i}(x):\n    ", "\n", document_key=f"doc-{i}")))
        results = [decode_server(ws.recv(timeout=10)) for _ in range(8)]
    assert sorted(r.request_id for r in results if isinstance(r, InfillResult)) == [str(i) for i in range(8)], results
    pids = {r.candidates[0].text.rpartition("@")[2] for r in results}
    assert len(pids) == 2 and time.monotonic() - started < 8
    body = json.dumps({"prompt": ["def a():\n    ", "def b():\n    ", "def c():\n    "], "suffix": "\n",
                       "user": "many"}).encode()
    headers = {"Content-Type": "application/json"} | AUTH
    request = urllib.request.Request(f"{url}/v1/completions", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=20) as response:
        assert len(json.loads(response.read())["choices"]) == 3


def test_a_replica_killed_under_load_loses_no_request_and_the_deployment_recovers(team):
    from ray import serve

    url, ingress = team
    slots = list(range(100, 124))
    before = {pid for _, pid in _fill_all(url, slots[:8])}
    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if "#EngineReplica#" in a["name"]]
    assert len(replicas) == 2
    retried_before = ingress.retried.remote().result(timeout_s=10)
    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        started = time.monotonic()
        futures = [pool.submit(_infill, url, slot) for slot in slots]
        time.sleep(0.4)  # every fill is in flight (each takes about a second)
        ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True)
        answers = [future.result(timeout=90) for future in futures]  # nothing hangs
        elapsed = time.monotonic() - started
    assert all(status == 200 or (status in (500, 503) and '"error"' in body) for status, body in answers), answers
    assert sum(status == 200 for status, _ in answers) >= len(slots) - 2, answers  # retried, not dropped
    assert ingress.retried.remote().result(timeout_s=10) > retried_before  # the dead replica's fills went elsewhere
    assert elapsed < 30

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        deployment = serve.status().applications["infill"].deployments["EngineReplica"]
        if deployment.status == "HEALTHY" and deployment.replica_states.get("RUNNING") == 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the deployment did not recover: {serve.status()}")
    while True:  # the ingress hears of the new replica a moment after the controller has it running
        answers = _fill_all(url, list(range(200, 216)))
        assert all(status == 200 for status, _ in answers), answers
        after = {pid for _, pid in answers}
        if len(after) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(after) == 2 and after != before  # two replicas again, one of them new
