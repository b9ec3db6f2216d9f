"""Team scale on Ray Serve: several engine replicas (GPUs or machines) behind one HTTP endpoint, the
requests of each document routed to the replica that holds its cache.

Three parts, all in Ray Serve:
- ``EngineReplica``: one EngineLoop over a core from an EngineLaunch, per replica (``num_gpus`` each);
  ``fill`` streams a request's messages as msgpack bodies of the wire-format structs.
- ``DocumentAffinityRouter`` (infill_http/ray/routing.py): Serve's request router for the replicas. It ranks
  them by rendezvous hashing of the request's document key, so a document goes to the same replica while
  the set of replicas stays the same; when a replica leaves or joins, only the documents whose first
  choice it was (or becomes) move, and pay one cold prompt encoding there. A first choice that stays
  busy (queue full, or not answering Serve's queue probe) passes the request to the next in the order.
- ``ApiIngress``: infill_http.api.HttpApi, the same endpoints as ``infill engine --http``, over a
  ``ReplicaBackend`` (infill_http/ray/routing.py) that streams each request from its replica. A replica that
  dies mid-request costs one retry on another (a fill is idempotent); a second failure, or the request's
  time running out, is answered with an error. Nothing waits without a deadline. It runs as several
  replicas (``--ingress-replicas``), over which Serve's proxy spreads the requests, so no one process holds
  every request; each keeps its own per-key in-flight budget. The requests of an ingress replica that dies
  get a 503 JSON error from the proxy (infill_http/ray/proxy_answer.py) and Serve starts another.

What a run starts on Ray, and takes down on exit, is infill_http/ray/lifecycle.py's: on a joined cluster,
only its own application.

``infill serve-ray`` runs it (see ``main``). Ray is imported only by this folder's modules (command.py excepted),
which only that command (and its tests and benchmark) imports: the ``serve`` extra,
``pip install 'infill-diffusion[serve]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import ray
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.config import HTTPOptions, RequestRouterConfig
from ray.serve.handle import DeploymentHandle

from engine.host.launch import EngineLaunch
from engine.host.loop import EngineLoop
from engine.protocol import ErrorCode, ErrorReply, InfillRequest, InfillResult, Welcome
from infill_http.api import HttpApi
from infill_http.ray.command import parse_args
from infill_http.ray.lifecycle import ClusterConflict, Footprint, check_joinable, serve_is_running, take_down
from infill_http.ray.proxy_answer import CALLBACK_ENV, CALLBACK_PATH
from infill_http.ray.routing import (
    ENGINE_DEPLOYMENT,
    STATUS_TIMEOUT_S,
    DocumentAffinityRouter,
    ReplicaBackend,
)
from infill_http.settings import HttpSettings

log = logging.getLogger(__name__)

APP_NAME = "infill"  # the Serve application; a joined cluster's other applications are left alone
INGRESS_DEPLOYMENT = "ApiIngress"
REPLICA_MAX_ONGOING = 256  # fills one replica takes at once (its engine batches them); past it, the next replica
_WELCOME_TIMEOUT_S = 30.0
_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(InfillRequest)


# ---- the engine replica -------------------------------------------------------------------------


def launch_from_argv(argv: list[str]) -> EngineLaunch:
    """The EngineLaunch that ``EngineLaunch.to_argv`` wrote (how a launch crosses to a replica as plain strings)."""
    parser = argparse.ArgumentParser(add_help=False)
    EngineLaunch.add_arguments(parser, process=True)
    return EngineLaunch.from_args(parser.parse_args(argv))


class EngineReplica:
    """One engine: an EngineLoop over the core its launch builds, on this replica's device."""

    def __init__(self, launch_argv: list[str]) -> None:
        from engine.host.server import described_welcome

        launch = launch_from_argv(launch_argv)
        core = launch.load_core()
        config = getattr(core, "config", None)  # engine.core.engine_core.EngineCore's; fakes have none
        self.default_canvas = config.multi_line_canvases[0] if config is not None else 64
        self.welcome = msgspec.structs.replace(described_welcome(core, launch), model_dir="")
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        self._loop = EngineLoop(core, name=f"engine-replica-{self.replica_id}")
        self._loop.start()

    def describe(self) -> tuple[bytes, int, str]:
        """The engine's Welcome (msgpack), its default multi-line canvas, and this replica's id."""
        return _encoder.encode(self.welcome), self.default_canvas, self.replica_id

    async def fill(self, request: bytes, *, route_key: str = "", avoid: tuple[str, ...] = (),
                   timeout_s: float = 120.0) -> AsyncIterator[str | bytes]:
        """Stream one request: first this replica's id, then each Partial and the InfillResult or ErrorReply
        (msgpack). Cancelled by the caller, or out of time, it cancels the engine request. ``route_key`` and
        ``avoid`` are for the router (DocumentAffinityRouter)."""
        decoded = _request_decoder.decode(request)
        aio = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        owner = object()  # each call its own owner: ids of different ingress calls never clash

        def sink(message: Any) -> None:  # the engine loop's thread
            with contextlib.suppress(RuntimeError):
                aio.call_soon_threadsafe(queue.put_nowait, message)

        yield self.replica_id
        self._loop.submit(owner, decoded, sink)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    yield _encoder.encode(ErrorReply(decoded.request_id, ErrorCode.INTERNAL,
                                                     f"the fill took longer than {timeout_s:g}s"))
                    return
                yield _encoder.encode(message)
                if isinstance(message, InfillResult | ErrorReply):
                    return
        finally:
            self._loop.cancel_owner(owner)  # a no-op once it has ended

    async def status(self, *, replica: str = "") -> tuple[str, bytes]:
        """This replica's id and its engine's StatusReply (msgpack); ``replica`` is for the router."""
        reply = await asyncio.wait_for(asyncio.wrap_future(self._loop.status()), STATUS_TIMEOUT_S)
        return self.replica_id, _encoder.encode(reply)

    def check_health(self) -> None:
        """Serve replaces a replica whose engine loop has stopped."""
        if not self._loop.running:
            raise RuntimeError("the engine loop has stopped")

    def __del__(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.close(timeout=5.0)


# ---- the ingress --------------------------------------------------------------------------------


@serve.ingress()
class ApiIngress:
    """infill_http.api.HttpApi over the engine replicas: ``/health`` says 503 until a replica has welcomed it.
    One of ``--ingress-replicas``: its in-flight budget, ``retried`` count and status are its own."""

    async def __init__(self, engines: DeploymentHandle, settings: HttpSettings, retries: int = 1) -> None:
        self.api = HttpApi(settings)
        self.backend: ReplicaBackend | None = None
        self._engines = engines
        self._retries = retries
        self._connected = asyncio.get_running_loop().create_task(self._connect())

    def __serve_build_asgi_app__(self) -> Any:
        return self.api.app

    async def _connect(self) -> None:
        while True:
            try:
                body, canvas, _ = await asyncio.wait_for(self._engines.describe.remote(), _WELCOME_TIMEOUT_S)
                break
            except (TimeoutError, RayActorError) as exc:
                log.warning("no engine replica answered yet (%r); asking again", exc)
                await asyncio.sleep(1.0)
        welcome = msgspec.msgpack.decode(body, type=Welcome)
        # The ingress's own deadline comes after the API's, which cancels first and answers 504.
        self.backend = ReplicaBackend(self._engines, welcome, timeout_s=self.api.settings.request_timeout_s + 5.0,
                                      retries=self._retries)
        self.api.default_canvas = canvas
        self.api.ready(self.backend)

    async def wait_ready(self, timeout_s: float) -> str:
        """The model served, once the API is ready; raises TimeoutError after ``timeout_s``."""
        await asyncio.wait_for(asyncio.shield(self._connected), timeout_s)
        assert self.backend is not None
        return self.backend.welcome.model_name

    def retried(self) -> int:
        """Fills sent to another replica after their first one failed."""
        return self.backend.retried if self.backend is not None else 0


# ---- deploying it -------------------------------------------------------------------------------


def build_app(launch: EngineLaunch, settings: HttpSettings, *, replicas: int, gpus_per_replica: float = 0.0,
              cpus_per_replica: float = 1.0, retries: int = 1, affinity: bool = True,
              affinity_patience_s: float = 2.0, ingress_replicas: int = 1) -> Any:
    """The Serve application: ``replicas`` engines (each on ``gpus_per_replica`` GPUs and
    ``cpus_per_replica`` CPUs) behind ``ingress_replicas`` ingress replicas, over which Serve's proxy spreads
    the requests. Each ingress holds its own per-key in-flight budget (``settings.max_in_flight`` per key and
    ingress)."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    if ingress_replicas < 1:
        raise ValueError(f"ingress_replicas must be at least 1, got {ingress_replicas}")
    # Without affinity (for comparison): Serve's default, the less busy of two replicas drawn at random.
    router = ({"request_router_class": DocumentAffinityRouter,
               "request_router_kwargs": {"patience_s": affinity_patience_s}} if affinity else {})
    if gpus_per_replica and launch.device == "auto":
        launch = dataclasses.replace(launch, device="cuda")
    engines = serve.deployment(EngineReplica).options(
        name=ENGINE_DEPLOYMENT,
        num_replicas=replicas,
        max_ongoing_requests=REPLICA_MAX_ONGOING,
        ray_actor_options={"num_cpus": cpus_per_replica, "num_gpus": gpus_per_replica},
        request_router_config=RequestRouterConfig(**router),
        health_check_period_s=2.0,
        health_check_timeout_s=10.0,
        graceful_shutdown_timeout_s=10.0,
    ).bind(launch.to_argv())
    ingress = serve.deployment(ApiIngress).options(
        name=INGRESS_DEPLOYMENT,
        num_replicas=ingress_replicas,
        max_ongoing_requests=1024,
        ray_actor_options={"num_cpus": 0},
        health_check_period_s=2.0,
        health_check_timeout_s=10.0,
    )
    return ingress.bind(engines, settings, retries)


def default_ingress_replicas() -> int:
    """2 ingress replicas (they reserve no CPU, a Python process each), or 1 on a cluster of fewer than 2 CPUs,
    where a second process would take time from the engine."""
    return 2 if ray.cluster_resources().get("CPU", 0) >= 2 else 1


def http_options(settings: HttpSettings) -> HTTPOptions:
    """Serve's proxy listening where ``settings`` say, with their TLS files."""
    return HTTPOptions(
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        keep_alive_timeout_s=30,
    )


def deploy(app: Any, settings: HttpSettings, *, ready_timeout_s: float = 600.0) -> DeploymentHandle:
    """Start Serve's proxy (on the head node only) for ``settings`` and run ``app`` until the API is ready.

    A proxy started here answers a request whose ingress replica died under it with a 503 JSON error
    (infill_http/ray/proxy_answer.py); a Serve already running keeps the proxy it has."""
    serve.start(proxy_location="HeadOnly", http_options=http_options(settings),
                controller_options={"runtime_env": {"env_vars": {CALLBACK_ENV: CALLBACK_PATH}}})
    handle = serve.run(app, name=APP_NAME, route_prefix="/")
    handle.wait_ready.remote(ready_timeout_s).result(timeout_s=ready_timeout_s + 5)
    return handle


# ---- the command --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Deploy, serve until SIGINT/SIGTERM (also while deploying), then take down what this run started: its
    application always, Serve and Ray only where it started them (infill_http/ray/lifecycle.py)."""
    args, launch, settings = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    footprint = Footprint(app_name=APP_NAME, started_ray=not ray.is_initialized() and not args.ray_address)
    if not ray.is_initialized():
        ray.init(address=args.ray_address or None, include_dashboard=False, logging_level=logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops it as Ctrl-C does
    status = 0
    try:
        if not footprint.started_ray:
            footprint.started_serve = not serve_is_running()
            if not footprint.started_serve:
                check_joinable(APP_NAME, http_options(settings))
        gpus = args.gpus_per_replica
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) and launch.device != "cpu" else 0.0
        ingress_replicas = args.ingress_replicas or default_ingress_replicas()
        app = build_app(launch, settings, replicas=args.replicas, gpus_per_replica=gpus,
                        cpus_per_replica=args.cpus_per_replica, ingress_replicas=ingress_replicas)
        footprint.deployed_app = True  # from here on the application named APP_NAME is this run's
        deploy(app, settings)
        scheme = "https" if settings.ssl_certfile else "http"
        log.info("serving %s://%s:%d with %d engine replica(s) behind %d ingress replica(s)%s", scheme,
                 settings.host, settings.port, args.replicas, ingress_replicas,
                 "" if settings.api_keys else " (no API keys: loopback only)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        log.info("stopping")
    except ClusterConflict as exc:
        log.error("%s", exc)
        status = 1
    except Exception as exc:
        log.error("serving on Ray failed: %s", exc)
        status = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        take_down(footprint)
    log.info("stopped")
    return status


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # python -m infill_http.ray.serve: run it from its importable name, which Ray pickles
    from infill_http.ray.serve import main as run

    raise SystemExit(run())
