"""How the ingress reaches the engine replicas on Ray Serve: the document-affinity request router, and
infill_http.wire's Backend that streams each request from its replica, with one retry on another replica
when the first dies (see infill_http/ray/serve.py for the deployment as a whole)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import math
import time
from collections.abc import Callable, Hashable
from typing import Any

import msgspec
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle
from ray.serve.request_router import PendingRequest, RequestRouter, RunningReplica

from engine.protocol import (
    ErrorCode,
    ErrorReply,
    FinishReason,
    InfillRequest,
    InfillResult,
    StatusReply,
    Welcome,
    decode_server,
)

log = logging.getLogger(__name__)

ENGINE_DEPLOYMENT = "EngineReplica"
STATUS_TIMEOUT_S = 10.0
_encoder = msgspec.msgpack.Encoder()


# ---- routing ------------------------------------------------------------------------------------


def rendezvous_order(key: str, replica_ids: list[str]) -> list[str]:
    """``replica_ids`` in ``key``'s order of preference (highest random weight hashing): the same for
    the same set of ids in any process, and one id leaving moves only the keys it was first for."""
    def weight(replica_id: str) -> bytes:
        return hashlib.blake2b(f"{key}\0{replica_id}".encode(), digest_size=8).digest()

    return sorted(replica_ids, key=weight, reverse=True)


class DocumentAffinityRouter(RequestRouter):
    """Routes a call by its ``route_key`` keyword (a document key) to the first replica in the key's
    rendezvous order, never to one named in ``avoid``; ``replica`` names one outright (status).

    The first choice is waited for ``patience_s`` (Serve probes its queue with growing deadlines, so a
    busy replica that answers slowly keeps its documents); after that the call goes to the first replica
    in the order that has room. A replica found dead leaves the candidates at once."""

    patience_s = 2.0

    def initialize_state(self, patience_s: float = 2.0, **kwargs: Any) -> None:
        self.patience_s = patience_s

    async def choose_replicas(self, candidate_replicas: list[RunningReplica],
                              pending_request: PendingRequest | None = None) -> list[list[RunningReplica]]:
        kwargs = pending_request.kwargs if pending_request is not None else {}
        by_id = {replica.replica_id.unique_id: replica for replica in candidate_replicas}
        if pending_request is not None:
            pending_request.routing_context.should_backoff = True  # each call ranks them all: back off between
        if (target := kwargs.get("replica")) in by_id:
            return [[by_id[target]]]  # a replica that is gone is replaced by any: its answer says which
        avoid = set(kwargs.get("avoid", ()))
        key = kwargs.get("route_key", "")
        if not key:
            return [[r for i, r in by_id.items() if i not in avoid]]
        order = [by_id[i] for i in rendezvous_order(key, list(by_id)) if i not in avoid]
        waited = time.time() - pending_request.created_at if pending_request is not None else math.inf
        if waited < self.patience_s:
            return [order[:1]]
        return [[replica] for replica in order]


# ---- the ingress's backend ----------------------------------------------------------------------


class ReplicaBackend:
    """infill_http.wire.Backend over the engine replicas. Runs on the ingress's event loop: ``submit``,
    ``cancel`` and ``cancel_owner`` are called there (sinks are then called there too)."""

    def __init__(self, engines: DeploymentHandle, welcome: Welcome, *, timeout_s: float, retries: int = 1) -> None:
        self.welcome = welcome
        self.timeout_s = timeout_s
        self.retries = retries
        self.retried = 0  # fills that a replica failure sent to another replica
        self._engines = engines
        self._fills = engines.options(stream=True)
        self._calls: dict[tuple[Hashable, int], tuple[asyncio.Task[None], list[bool]]] = {}
        self._replicas_seen: set[str] = set()  # replica ids that have answered (status asks each)

    def submit(self, owner: Hashable, request: InfillRequest, sink: Callable[[Any], None]) -> None:
        key = (owner, request.request_id)
        if key in self._calls:
            sink(ErrorReply(request.request_id, ErrorCode.BAD_REQUEST,
                            f"request id {request.request_id} is already in flight"))
            return
        silent = [False]  # set by cancel_owner: the owner has gone, its messages are dropped
        task = asyncio.get_running_loop().create_task(self._forward(request, sink, silent))
        self._calls[key] = (task, silent)

        def forget(done: asyncio.Task[None]) -> None:
            if key in self._calls and self._calls[key][0] is done:
                del self._calls[key]

        task.add_done_callback(forget)

    def cancel(self, owner: Hashable, client_id: int) -> None:
        call = self._calls.get((owner, client_id))
        if call is not None:
            call[0].cancel()

    def cancel_owner(self, owner: Hashable) -> None:
        for (call_owner, _), (task, silent) in list(self._calls.items()):
            if call_owner == owner:
                silent[0] = True
                task.cancel()

    def status(self, request_id: str = "") -> concurrent.futures.Future[StatusReply]:
        future: concurrent.futures.Future[StatusReply] = concurrent.futures.Future()

        def settle(task: asyncio.Task[StatusReply]) -> None:
            if task.cancelled():
                future.cancel()
            elif task.exception() is not None:
                future.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                future.set_result(msgspec.structs.replace(task.result(), request_id=request_id))

        asyncio.get_running_loop().create_task(self._status()).add_done_callback(settle)
        return future

    async def _status(self) -> StatusReply:
        """The status of every replica this ingress has seen, summed (of any one before the first fill)."""
        async def ask(replica: str) -> tuple[str, bytes]:
            _own_request_context()
            response = self._engines.status.remote(replica=replica)
            try:
                return await asyncio.wait_for(response, STATUS_TIMEOUT_S)
            except BaseException:
                _cancel(response)
                raise

        asked = sorted(self._replicas_seen) or [""]
        answers = await asyncio.gather(*(ask(replica) for replica in asked), return_exceptions=True)
        by_replica: dict[str, StatusReply] = {}
        for replica, answer in zip(asked, answers, strict=True):
            if isinstance(answer, BaseException) or answer[0] != replica:
                self._replicas_seen.discard(replica)  # gone (another replica answered in its place)
            if not isinstance(answer, BaseException) and isinstance(reply := decode_server(answer[1]), StatusReply):
                self._replicas_seen.add(answer[0])
                by_replica[answer[0]] = reply
        replies = list(by_replica.values())
        if not replies:
            raise RuntimeError(f"no engine replica answered: {answers[0]!r}")
        total = replies[0]
        for field in ("active", "queued", "completed", "cache_entries", "cache_bytes", "cache_hit_tokens",
                      "cache_lookup_tokens", "trimmed_prompts", "forward_passes"):
            total = msgspec.structs.replace(total, **{field: sum(getattr(r, field) for r in replies)})
        mean_step = sum(r.mean_step_ms for r in replies) / len(replies)
        return msgspec.structs.replace(total, mean_step_ms=mean_step, pid=0, model_dir="", clients=0)

    async def _forward(self, request: InfillRequest, sink: Callable[[Any], None], silent: list[bool]) -> None:
        """Stream ``request`` from its replica into ``sink``: retried on another replica when the first dies,
        an ErrorReply when that fails too or time runs out; a CANCELLED result when cancelled."""
        _own_request_context()
        body = _encoder.encode(request)
        deadline = time.monotonic() + self.timeout_s
        avoid: list[str] = []  # replicas that failed this request
        failure: BaseException | None = None
        try:
            for attempt in range(1 + self.retries):
                if attempt:
                    self.retried += 1
                    log.warning("engine replica %s failed a request (%r); retrying on another",
                                avoid[-1] if avoid else "?", failure)
                try:
                    await self._attempt(request, body, sink, avoid, deadline)
                    return
                except RayActorError as exc:  # the replica died or became unreachable
                    failure = exc
            sink(ErrorReply(request.request_id, ErrorCode.OVERLOADED,
                            f"the engine replicas serving this request failed ({type(failure).__name__}); try again"))
        except TimeoutError:
            sink(ErrorReply(request.request_id, ErrorCode.OVERLOADED,
                            f"no engine replica answered within {self.timeout_s:g}s"))
        except asyncio.CancelledError:
            if not silent[0]:
                sink(InfillResult(request.request_id, (), FinishReason.CANCELLED))
            raise
        except Exception as exc:  # a replica's own failure: said once, not retried
            log.exception("an engine replica failed a request")
            sink(ErrorReply(request.request_id, ErrorCode.INTERNAL, f"the engine replica failed: {exc!r}"))

    async def _attempt(self, request: InfillRequest, body: bytes, sink: Callable[[Any], None],
                       avoid: list[str], deadline: float) -> None:
        remaining = deadline - time.monotonic()
        stream = self._fills.fill.remote(body, route_key=request.document_key, avoid=tuple(avoid),
                                         timeout_s=max(0.1, remaining))
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
                except StopAsyncIteration:
                    raise RuntimeError("the replica ended the stream without an answer") from None
                if isinstance(chunk, str):  # the replica's id comes first
                    avoid.append(chunk)
                    self._replicas_seen.add(chunk)
                    continue
                message = decode_server(chunk)
                sink(message)
                if isinstance(message, InfillResult | ErrorReply):
                    return
        except BaseException:
            _cancel(stream)
            raise


def _own_request_context() -> None:
    """Give the Serve calls of this asyncio task a request id of their own.

    A call made while serving a request (an HTTP request, a whole WebSocket connection) gets that request's
    id, and Serve's router hands a chosen replica to the waiting call with that id: calls made together
    from one request (a WebSocket's fills, several prompts, status asked of each replica) would take each
    other's replica, or wait forever. Setting the context here changes only this task's copy of it."""
    from ray.serve._private.utils import generate_request_id
    from ray.serve.context import _set_request_context

    _set_request_context(_internal_request_id=generate_request_id())


def _cancel(response: Any) -> None:
    """Cancel a Serve call (best effort: one already over or lost has nothing left to cancel)."""
    try:
        response.cancel()
    except Exception as exc:  # noqa: BLE001 - cancelling must not hide why the call ended
        log.debug("cancelling a replica call failed: %r", exc)
