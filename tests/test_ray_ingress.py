"""The ingress of ``infill serve-ray`` on Ray Serve: several ingress replicas, one killed under a series of fills
(every request filled or refused clearly, none lost; the deployment back to its replicas), Serve's proxy turning
a dead ingress's requests into a 503 JSON error, and a run on a joined cluster that leaves the cluster, Serve
and the other applications there as it found them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'infill-diffusion[serve]')")

from engine.host.launch import EngineLaunch  # noqa: E402
from infill_http.ray import lifecycle  # noqa: E402
from infill_http.ray.proxy_answer import AnswerLostRequests  # noqa: E402
from infill_http.settings import ApiKey, HttpSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = "team-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
STEPS = 50  # fake-core steps of 20 ms: a fill takes about a second, long enough to be caught in flight
INGRESS = 2
pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    """The environment of the processes of the joined-cluster test: the cluster they share asks for Ray's token
    (a new local cluster's default), which a process joining it must be told to send."""
    return os.environ | {"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "FAKE_CORE_STEPS": str(STEPS),
                         "RAY_AUTH_MODE": "token"}


# ---- without a cluster ----------------------------------------------------------------------------


def _asgi_run(app) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(AnswerLostRequests(app)({"type": "http", "path": "/infill"}, receive, send))
    return sent


def test_the_proxy_answers_a_request_its_app_dropped_with_a_503_json_error_and_leaves_answers_alone():
    async def dropped(scope, receive, send):  # what Serve's proxy does when the ingress replica died
        return

    async def answered(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})

    start, body = _asgi_run(dropped)
    assert start["status"] == 503 and (b"retry-after", b"1") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == 503 and error["type"] == "unavailable_error" and "send it again" in error["message"]
    assert [m.get("status") for m in _asgi_run(answered)] == [200, None]


class _FakeServe:
    """Records what take_down asks of Serve and Ray."""

    def __init__(self, apps: list[str]) -> None:
        self.apps = apps
        self.calls: list[str] = []

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(lifecycle.serve, "delete", lambda name: self.calls.append(f"delete {name}"))
        monkeypatch.setattr(lifecycle.serve, "shutdown", lambda: self.calls.append("serve.shutdown"))
        monkeypatch.setattr(lifecycle.ray, "shutdown", lambda: self.calls.append("ray.shutdown"))
        monkeypatch.setattr(lifecycle, "running_applications", lambda: [a for a in self.apps if a != "infill"])


@pytest.mark.parametrize(("footprint", "apps", "expected"), [
    # joined a cluster whose Serve others started: only our application goes
    ({"started_serve": False}, ["other"], ["delete infill", "ray.shutdown"]),
    ({"started_serve": False}, [], ["delete infill", "ray.shutdown"]),
    # joined a cluster and started Serve there: Serve stays while another application runs, goes when none does
    ({"started_serve": True}, ["other"], ["delete infill", "ray.shutdown"]),
    ({"started_serve": True}, [], ["delete infill", "serve.shutdown", "ray.shutdown"]),
    # started the cluster: all of it goes
    ({"started_ray": True}, [], ["delete infill", "serve.shutdown", "ray.shutdown"]),
    # refused before deploying (another run's application of the same name): it is not deleted
    ({"started_serve": False, "deployed_app": False}, ["infill"], ["ray.shutdown"]),
])
def test_exit_takes_down_only_what_the_run_started(monkeypatch, footprint, apps, expected):
    fake = _FakeServe(apps)
    fake.install(monkeypatch)
    lifecycle.take_down(lifecycle.Footprint(app_name="infill", **({"deployed_app": True} | footprint)))
    assert fake.calls == expected


def test_the_command_takes_ingress_replicas(capsys):
    from infill_http.ray.command import parse_args

    args, _, _ = parse_args(["--ingress-replicas", "3"])
    assert args.ingress_replicas == 3
    assert parse_args([])[0].ingress_replicas is None  # decided from the cluster (serve.default_ingress_replicas)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--ingress-replicas", "0"])
    assert exit_info.value.code == 2 and "--ingress-replicas must be at least 1" in capsys.readouterr().err


def test_two_ingress_replicas_by_default_and_one_on_a_cluster_of_one_cpu(monkeypatch):
    from infill_http.ray import serve as ray_serve

    for cpus, expected in ((1.0, 1), (2.0, 2), (64.0, 2)):
        monkeypatch.setattr(ray_serve.ray, "cluster_resources", lambda cpus=cpus: {"CPU": cpus})
        assert ray_serve.default_ingress_replicas() == expected


def test_joining_a_serve_whose_proxy_listens_elsewhere_or_runs_an_infill_application_is_refused(monkeypatch):
    import ray.serve.context
    from ray.serve.config import HTTPOptions

    running = HTTPOptions(host="127.0.0.1", port=8012)
    monkeypatch.setattr(ray.serve.context, "_connect", lambda: type("Client", (), {"http_config": running})())
    monkeypatch.setattr(lifecycle, "running_applications", lambda: ["other"])
    lifecycle.check_joinable("infill", HTTPOptions(host="127.0.0.1", port=8012))  # the same proxy: joins
    with pytest.raises(lifecycle.ClusterConflict, match="--http 127.0.0.1:8012"):
        lifecycle.check_joinable("infill", HTTPOptions(host="127.0.0.1", port=9000))
    with pytest.raises(lifecycle.ClusterConflict, match="TLS"):
        lifecycle.check_joinable("infill", HTTPOptions(host="127.0.0.1", port=8012, ssl_certfile="c.pem",
                                                       ssl_keyfile="k.pem"))
    monkeypatch.setattr(lifecycle, "running_applications", lambda: ["infill", "other"])
    with pytest.raises(lifecycle.ClusterConflict, match="'infill' already runs"):
        lifecycle.check_joinable("infill", HTTPOptions(host="127.0.0.1", port=8012))


# ---- an ingress replica killed under a series of fills ---------------------------------------------


@pytest.fixture
def two_ingresses():
    """The URL of the app with two engine replicas behind two ingress replicas, on a local cluster torn down after."""
    from ray import serve

    from infill_http.ray.serve import build_app, deploy

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "FAKE_CORE_STEPS": str(STEPS)}})
    try:
        keys = (ApiKey("team", hashlib.sha256(KEY.encode()).digest()),)
        settings = HttpSettings(port=_free_port(), api_keys=keys, request_timeout_s=20.0, max_in_flight=64)
        app = build_app(EngineLaunch(core_factory="fake_core:pid_core", device="cpu"), settings, replicas=2,
                        ingress_replicas=INGRESS)
        deploy(app, settings, ready_timeout_s=90.0)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def _ask(url: str, slot: int, *, stream: bool) -> tuple[str, str]:
    """One fill, plain (/infill) or streamed (/v1/completions): ("filled", pid), ("refused", why) for a JSON
    error with its status, ("cut", why) for a connection the client saw break, or ("lost", what) otherwise."""
    if stream:
        path, body = "/v1/completions", {"prompt": f"def s{slot}(x):\n    ", "suffix": "\n", "stream": True,
                                         "user": f"s{slot}"}
    else:
        path, body = "/infill", {"input_prefix": f"def f{slot}(x):\n    ", "input_suffix": "\n", "id_slot": slot}
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"} | AUTH)
    try:
        with urllib.request.urlopen(request, timeout=40) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        try:
            error = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            return "lost", f"{exc.code} {text!r}"
        if exc.code == 503 and exc.headers.get("Retry-After") and error["code"] == 503:
            return "refused", error["message"]
        return "lost", f"{exc.code} {text!r}"
    except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as exc:
        return "cut", repr(exc)
    if stream:
        if text.endswith("data: [DONE]\n\n") and '"error"' not in text:
            return "filled", text.partition('"text":"')[2].partition('"')[0].rpartition("@")[2]
        if '"error"' in text and text.endswith("data: [DONE]\n\n"):
            return "refused", text
        return "lost", repr(text)
    content = json.loads(text).get("content", "")
    return ("filled", content.rpartition("@")[2]) if content else ("lost", repr(text))


def _ingress_actors() -> list[dict]:
    return [a for a in ray.util.list_named_actors(all_namespaces=True) if "#ApiIngress#" in a["name"]]


def test_a_killed_ingress_replica_loses_no_request_and_comes_back(two_ingresses):
    from ray import serve

    url = two_ingresses
    deadline = time.monotonic() + 30
    while [kind for kind, _ in map(lambda s: _ask(url, s, stream=False), range(6))] != ["filled"] * 6:
        assert time.monotonic() < deadline, "the ingress replicas did not all connect to the engines"
        time.sleep(0.5)  # the second ingress greets an engine a moment after the first
    before = _ingress_actors()
    assert len(before) == INGRESS

    slots = list(range(100, 124))
    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        started = time.monotonic()
        futures = [pool.submit(_ask, url, slot, stream=slot % 4 == 0) for slot in slots]
        time.sleep(0.4)  # every fill is in flight (each takes about a second)
        victim = before[0]
        ray.kill(ray.get_actor(victim["name"], namespace=victim["namespace"]), no_restart=True)
        killed_at = time.monotonic()
        answers = [future.result(timeout=60) for future in futures]  # nothing hangs
        elapsed = time.monotonic() - started
    kinds = [kind for kind, _ in answers]
    assert "lost" not in kinds, answers
    assert kinds.count("refused") + kinds.count("cut") >= 1, answers  # the kill caught requests in flight
    assert kinds.count("filled") >= 1, answers  # the other ingress went on serving
    assert elapsed < 25, elapsed

    while True:  # Serve starts a new ingress replica in place of the killed one
        deployment = serve.status().applications["infill"].deployments["ApiIngress"]
        if deployment.status == "HEALTHY" and deployment.replica_states.get("RUNNING") == INGRESS:
            break
        assert time.monotonic() - killed_at < 60, f"the ingress did not recover: {serve.status()}"
        time.sleep(0.25)
    back_s = time.monotonic() - killed_at
    deadline = time.monotonic() + 30
    while len(after := _ingress_actors()) != INGRESS:  # Ray's actor list can trail Serve's status
        assert time.monotonic() < deadline, f"the actor list shows {after} after serve.status said {INGRESS}"
        time.sleep(0.25)
    assert {a["name"] for a in after} != {a["name"] for a in before}
    again = [_ask(url, slot, stream=slot % 2 == 0) for slot in range(200, 206)]
    assert {kind for kind, _ in again} <= {"filled", "refused"}, again  # refused: the new one still greeting
    deadline = time.monotonic() + 30
    while [kind for kind, _ in map(lambda s: _ask(url, s, stream=False), range(6))] != ["filled"] * 6:
        assert time.monotonic() < deadline, "the new ingress replica did not serve"
        time.sleep(0.5)
    print(f"ingress killed under {len(slots)} fills: {kinds.count('filled')} filled, {kinds.count('refused')} refused "
          f"(503 JSON), {kinds.count('cut')} cut, 0 lost; all answered in {elapsed:.1f} s; {INGRESS} ingress "
          f"replicas again after {back_s:.1f} s")


# ---- a joined cluster ---------------------------------------------------------------------------


CLUSTER_HOST = """
import json, sys
import ray
from ray import serve

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
         _node_ip_address="127.0.0.1")
serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": int(sys.argv[1])})

@serve.deployment(ray_actor_options={"num_cpus": 0})
class Other:
    async def __call__(self, request):
        return "other ok"

serve.run(Other.bind(), name="other", route_prefix="/other")
print(json.dumps({"address": ray.get_runtime_context().gcs_address}), flush=True)
for line in sys.stdin:
    apps = sorted(serve.status().applications)
    print(json.dumps({"apps": apps, "nodes": sum(n["Alive"] for n in ray.nodes())}), flush=True)
serve.shutdown()
ray.shutdown()
"""


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own process group: what it started, nothing else
    process.wait(timeout=30)


def test_serve_ray_on_a_joined_cluster_leaves_the_cluster_and_the_other_application(tmp_path):
    port = _free_port()
    host = subprocess.Popen([sys.executable, "-c", CLUSTER_HOST, str(port)], env=_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    runs: list[subprocess.Popen] = []
    try:
        address = json.loads(host.stdout.readline())["address"]
        assert _get(f"http://127.0.0.1:{port}/other") == (200, "other ok")

        def serve_ray(name: str) -> subprocess.Popen:
            log = (tmp_path / name).open("w")
            run = subprocess.Popen(
                [sys.executable, "-m", "infill_lsp.cli", "serve-ray", "--ray-address", address,
                 "--http", f"127.0.0.1:{port}", "--core-factory", "fake_core:pid_core", "--device", "cpu",
                 "--replicas", "1", "--ingress-replicas", "1", "--cpus-per-replica", "0.5"],
                env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            runs.append(run)
            return run

        ours = serve_ray("ours.log")
        deadline = time.monotonic() + 90
        while _get(f"http://127.0.0.1:{port}/health")[0] != 200:
            assert ours.poll() is None and time.monotonic() < deadline, (tmp_path / "ours.log").read_text()
            time.sleep(0.5)
        assert _ask(f"http://127.0.0.1:{port}", 1, stream=False)[0] == "filled"

        # A second run on the same cluster finds an application of the name and refuses: it neither
        # replaces it nor deletes it on its way out.
        second = serve_ray("second.log")
        assert second.wait(timeout=60) == 1, (tmp_path / "second.log").read_text()
        assert "already runs on this cluster" in (tmp_path / "second.log").read_text()
        assert _ask(f"http://127.0.0.1:{port}", 2, stream=False)[0] == "filled"

        ours.send_signal(signal.SIGTERM)
        assert ours.wait(timeout=60) == 0, (tmp_path / "ours.log").read_text()
        assert _get(f"http://127.0.0.1:{port}/other") == (200, "other ok")  # Serve's proxy and the other app run
        assert _get(f"http://127.0.0.1:{port}/health")[0] == 404  # our application is gone
        host.stdin.write("status\n")
        host.stdin.flush()
        assert json.loads(host.stdout.readline()) == {"apps": ["other"], "nodes": 1}  # the cluster is up
    finally:
        for run in runs:
            _stop(run)
        if host.poll() is None:
            host.stdin.close()  # the host shuts Serve and its cluster down
            try:
                host.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _stop(host)
