"""The engine on the network: llama.cpp-, OpenAI- and Mistral-style HTTP endpoints, and the engine's own
protocol over a WebSocket for remote editors, all on the same EngineLoop as the Unix socket.

Endpoints:
- ``GET /health``: 503 while the model loads, then 200 ``{"status":"ok"}``; never needs a key.
- ``POST /infill``: llama.cpp's infill request and answer (``n_predict`` 0 only warms the cache).
- ``POST /v1/completions``: OpenAI's completions with ``suffix``; ``POST /v1/fim/completions``: Mistral's
  FIM answer shape. Both stream as server-sent events ending in ``data: [DONE]``.
- ``GET /v1/models``.
- ``WS /v1/engine``: the engine protocol (engine/protocol.py), one msgpack body a binary message.

Every request becomes an ``InfillRequest`` at interactive priority, keyed to a document cache per client
(``id_slot``, ``user`` or the default slot); a client that disconnects cancels its request. Errors are
``{"error":{"code","message","type"}}`` with a 4xx/5xx status. JSON out is compact (no spaces).

Security: the app binds to loopback unless API keys are given (see ``HttpSettings.check``); keys are
compared in constant time; each client (key, or address when keyless) has a cap on requests in flight;
bodies have a size and a time limit, contexts a length limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import itertools
import logging
import math
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Cancel,
    ErrorCode,
    ErrorReply,
    FinishReason,
    Hello,
    InfillRequest,
    InfillResult,
    Partial,
    ProtocolError,
    ServerMessage,
    Shutdown,
    StatusReply,
    StatusRequest,
    Welcome,
    decode_client,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 8012  # llama.vim's default endpoint
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


# ---- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str  # what logs and fairness use; never the key
    digest: bytes  # sha256 of the key


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """Where the HTTP API listens and the limits it enforces."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[ApiKey, ...] = ()
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_context_chars: int = 1_000_000  # prefix + suffix + cross-file context, in characters
    max_candidates: int = 8
    max_in_flight: int = 16  # requests one client (key, or address when keyless) may have in flight
    request_timeout_s: float = 120.0
    body_timeout_s: float = 15.0  # a client must send its whole body within this

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check(self) -> None:
        """Raise ValueError for a setup that would be unsafe or cannot work."""
        if not self.loopback and not self.api_keys:
            raise ValueError(
                f"--http {self.host}:{self.port} is reachable from other machines: give --api-key-file "
                "(one key a line) so that only holders of a key can use the engine, or bind to 127.0.0.1"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
        for path in (self.ssl_certfile, self.ssl_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"{path}: no such file")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1-65535, got {self.port}")

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("HTTP API (llama.cpp /infill, OpenAI /v1/completions, remote editors)")
        group.add_argument("--http", default=None, metavar="HOST:PORT", type=_host_port,
                           help=f"also serve HTTP on HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}); any address "
                                "but loopback needs --api-key-file")
        group.add_argument("--api-key-file", type=Path, default=None, metavar="FILE",
                           help="API keys, one a line (NAME:KEY or KEY); clients send 'Authorization: Bearer KEY'")
        group.add_argument("--ssl-certfile", type=Path, default=None, metavar="FILE", help="TLS certificate (PEM)")
        group.add_argument("--ssl-keyfile", type=Path, default=None, metavar="FILE", help="TLS private key (PEM)")
        group.add_argument("--max-body-mb", type=_positive(float), default=4.0, metavar="MB",
                           help="largest request body (default 4)")
        group.add_argument("--max-in-flight", type=_positive(int), default=16, metavar="N",
                           help="requests one client (API key, or address) may have in flight (default 16)")
        group.add_argument("--request-timeout", type=_positive(float), default=120.0, metavar="SECONDS",
                           help="longest a request may take before it is cancelled with 504 (default 120)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> HttpSettings | None:
        """The settings the flags describe, or None without ``--http``; raises ValueError for bad ones."""
        if args.http is None:
            for flag in ("api_key_file", "ssl_certfile", "ssl_keyfile"):
                if getattr(args, flag) is not None:
                    raise ValueError(f"--{flag.replace('_', '-')} needs --http HOST:PORT")
            return None
        host, port = args.http
        keys = load_api_keys(args.api_key_file) if args.api_key_file is not None else ()
        settings = cls(
            host=host,
            port=port,
            api_keys=keys,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            max_in_flight=args.max_in_flight,
            request_timeout_s=args.request_timeout,
        )
        settings.check()
        return settings


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_port(text: str) -> tuple[str, int]:
    match = re.fullmatch(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s]*)):(?P<port>\d{1,5})", text)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), got {text!r}")
    host = match["v6"] or match["host"] or "127.0.0.1"
    return host, int(match["port"])


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def load_api_keys(path: Path) -> tuple[ApiKey, ...]:
    """Read ``path``: one key a line, ``NAME:KEY`` or a bare ``KEY`` (named key-1, key-2...); ``#`` comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the API key file {path}: {exc}") from None
    keys: list[ApiKey] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, key = line.partition(":")
        if not sep:
            name, key = f"key-{len(keys) + 1}", line
        name, key = name.strip(), key.strip()
        if len(key) < 16 or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{number}: a key must be at least 16 characters without spaces")
        keys.append(ApiKey(name, hashlib.sha256(key.encode()).digest()))
    if not keys:
        raise ValueError(f"{path} holds no API key")
    return tuple(keys)


# ---- what the app serves ------------------------------------------------------------------------


class Backend(Protocol):
    """What the app needs of an engine: engine.loop.EngineLoop's submit/cancel side."""

    @property
    def welcome(self) -> Welcome: ...

    def submit(self, owner: Hashable, request: InfillRequest, sink: Callable[[Any], None]) -> None: ...

    def cancel(self, owner: Hashable, client_id: int) -> None: ...

    def cancel_owner(self, owner: Hashable) -> None: ...

    def status(self, request_id: int = 0) -> Any: ...  # a concurrent.futures.Future[StatusReply]


class HttpError(Exception):
    def __init__(self, status: int, message: str, kind: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.headers = headers or {}


_ERROR_KINDS = {401: "authentication_error", 404: "not_found_error", 408: "timeout_error",
                429: "rate_limit_error", 503: "unavailable_error", 504: "timeout_error"}


def error_response(status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    kind = kind or _ERROR_KINDS.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    body = {"error": {"code": status, "message": message, "type": kind}}
    return Response(_json(body), status_code=status, media_type="application/json", headers=headers)


_encoder = msgspec.json.Encoder()


def _json(value: Any) -> bytes:
    return _encoder.encode(value)


# ---- request bodies -----------------------------------------------------------------------------


class ExtraChunk(msgspec.Struct, forbid_unknown_fields=False):
    text: str = ""
    filename: str = ""


class InfillBody(msgspec.Struct, forbid_unknown_fields=False):
    """llama.cpp's /infill request (fields it has and we do not use are accepted and ignored)."""

    input_prefix: str = ""
    input_suffix: str = ""
    input_extra: list[ExtraChunk] = []
    prompt: str = ""
    n_predict: int = -1
    t_max_predict_ms: float = 0
    n_indent: int = 0
    stop: list[str] = []
    stream: bool = False
    cache_prompt: bool = True
    id_slot: int = -1
    n_cmpl: int = 1
    n_probs: int = 0
    seed: int = -1
    response_fields: list[str] | None = None
    language: str = ""  # ours: the language tag the model's prompt format may use


class CompletionBody(msgspec.Struct, forbid_unknown_fields=False):
    """OpenAI's /v1/completions and Mistral's /v1/fim/completions request."""

    prompt: str | list[str] = ""
    suffix: str | None = None
    model: str = ""
    max_tokens: int | None = None
    n: int = 1
    stream: bool = False
    stop: str | list[str] | None = None
    seed: int | None = None
    random_seed: int | None = None  # Mistral's name for seed
    echo: bool = False
    logprobs: int | bool | None = None
    best_of: int | None = None
    user: str = ""
    stream_options: dict[str, Any] | None = None
    language: str = ""  # ours


_infill_decoder = msgspec.json.Decoder(InfillBody)
_completion_decoder = msgspec.json.Decoder(CompletionBody)


# ---- one engine request, seen from asyncio ------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    result: InfillResult | None = None
    error: ErrorReply | None = None
    partial: str = ""  # the last streamed canvas text
    timed_out: bool = False  # t_max_predict_ms ended it
    started: float = 0.0


class _Call:
    """Bridges the loop thread's sink to an asyncio queue of one request's messages."""

    def __init__(self) -> None:
        self.aio = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def sink(self, message: Any) -> None:  # loop thread
        with contextlib.suppress(RuntimeError):  # the event loop is closed
            self.aio.call_soon_threadsafe(self.queue.put_nowait, message)


async def run_fill(backend: Backend, request: InfillRequest, *, owner: Hashable, timeout_s: float,
                   predict_ms: float = 0.0, on_partial: Callable[[str], None] | None = None) -> Outcome:
    """Submit ``request`` and wait for its end. Cancelled (the client went away) or timed out, it cancels
    the engine request. ``predict_ms``: llama.cpp's ``t_max_predict_ms`` — once denoising has run that
    long and the canvas holds a line break, answer with the canvas's whole lines."""
    call = _Call()
    outcome = Outcome(started=time.monotonic())
    wants_partials = predict_ms > 0 or on_partial is not None
    backend.submit(owner, msgspec.structs.replace(request, stream=request.stream or wants_partials), call.sink)
    deadline = outcome.started + timeout_s
    predict_deadline = math.inf  # set by the first partial: denoising has started
    predict_expired = False
    try:
        while True:
            message: Any = None
            try:
                message = await asyncio.wait_for(call.queue.get(), max(0.0, min(deadline, predict_deadline) - time.monotonic()))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                predict_deadline, predict_expired = math.inf, True
            match message:
                case Partial(text=text):
                    outcome.partial = text
                    if predict_ms > 0 and predict_deadline == math.inf and not predict_expired:
                        predict_deadline = time.monotonic() + predict_ms / 1000
                    if on_partial is not None:
                        on_partial(text)
                case InfillResult():
                    outcome.result = message
                    if message.finish_reason != FinishReason.CANCELLED:
                        outcome.timed_out = False  # it ended on its own before the cancel landed
                    return outcome
                case ErrorReply():
                    outcome.error = message
                    return outcome
            if predict_expired and not outcome.timed_out and "\n" in outcome.partial:
                outcome.timed_out = True  # llama.cpp's rule: out of time, and a line is complete
                backend.cancel(owner, request.request_id)
    except BaseException:
        backend.cancel(owner, request.request_id)
        raise


_ENGINE_ERROR_STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.OVERLOADED: 503,
    ErrorCode.CANCELLED: 499,
    ErrorCode.SHUTTING_DOWN: 503,
    ErrorCode.PROTOCOL: 400,
    ErrorCode.INTERNAL: 500,
}


def _raise_for(outcome: Outcome) -> None:
    if outcome.error is not None:
        status = _ENGINE_ERROR_STATUS.get(outcome.error.code, 500)
        headers = {"Retry-After": "1"} if status == 503 else None
        raise HttpError(status, outcome.error.message, headers=headers)


# ---- text rules shared by the endpoints ---------------------------------------------------------


def cut_at_stops(text: str, stops: list[str]) -> tuple[str, bool]:
    """``text`` up to the first of ``stops``; whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def cut_at_indent(text: str, n_indent: int) -> tuple[str, bool]:
    """llama.cpp's ``n_indent``: the text ends before the first later line indented less than ``n_indent``."""
    if n_indent <= 0:
        return text, False
    lines = text.split("\n")
    for i, line in enumerate(lines[1:], 1):
        indent = len(line) - len(line.lstrip(" \t"))
        if line.strip() and indent < n_indent:
            return "\n".join(lines[:i]), True
    return text, False


def flatten_fields(body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """llama.cpp's ``response_fields``: keep only these; a ``a/b`` path is taken from ``body[a][b]`` and
    answered under the key ``a/b``. Unknown names are left out."""
    out: dict[str, Any] = {}
    for name in fields:
        node: Any = body
        for part in name.split("/"):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            out[name] = node
    return out


# ---- the app ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Client:
    name: str
    in_flight: int = 0


@dataclass
class HttpApi:
    """The Starlette app and its state; ``ready(backend)`` once the engine has loaded."""

    settings: HttpSettings = field(default_factory=HttpSettings)
    default_canvas: int = 64
    backend: Backend | None = None
    requests_served: int = 0
    _clients: dict[str, _Client] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[
            Route("/health", self.health, methods=["GET"]),
            Route("/infill", self.infill, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/fim/completions", self.fim_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            WebSocketRoute("/v1/engine", self.engine_socket),
        ], exception_handlers={404: self._not_found, 405: self._not_allowed})

    def ready(self, backend: Backend) -> None:
        self.backend = backend

    # ---- plumbing -------------------------------------------------------------------------------

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return error_response(404, f"no endpoint {request.url.path}")

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return error_response(405, f"{request.method} is not allowed on {request.url.path}")

    def _authenticate(self, headers: Any, peer: str) -> str:
        """The client's name for fairness and logs; raise 401 for a missing or wrong key."""
        if not self.settings.api_keys:
            return f"addr:{peer}"
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "this engine needs an API key: send 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})
        digest = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
        name = None
        for key in self.settings.api_keys:  # every key compared, in constant time
            if hmac.compare_digest(digest, key.digest):
                name = key.name
        if name is None:
            raise HttpError(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
        return f"key:{name}"

    def _engine(self) -> Backend:
        if self.backend is None:
            raise HttpError(503, "Loading model", "unavailable_error", headers={"Retry-After": "2"})
        return self.backend

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise HttpError(413, f"the request body is larger than the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HttpError(413, f"the request body is larger than the {limit}-byte limit")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read(), self.settings.body_timeout_s)
        except TimeoutError:
            raise HttpError(408, f"the request body did not arrive within {self.settings.body_timeout_s:g}s",
                            "timeout_error") from None
        return b"".join(chunks)

    def _admit(self, client: str) -> _Client:
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _Client(client)
        if state.in_flight >= self.settings.max_in_flight:
            raise HttpError(429, f"{self.settings.max_in_flight} requests of yours are in flight; "
                                 "wait for one to end", headers={"Retry-After": "1"})
        state.in_flight += 1
        return state

    def _release(self, state: _Client) -> None:
        state.in_flight -= 1
        if state.in_flight == 0:
            self._clients.pop(state.name, None)  # per-client state lives only while it has requests

    def _check_context(self, *parts: str) -> None:
        total = sum(len(p) for p in parts)
        if total > self.settings.max_context_chars:
            raise HttpError(413, f"the context holds {total} characters; the limit is "
                                 f"{self.settings.max_context_chars}")

    def _canvas(self, n_predict: int | None) -> tuple[int, ...]:
        if n_predict is None or n_predict <= 0:
            return ()
        return (max(2, min(n_predict, self.default_canvas)),)

    async def _guarded(self, request: Request, handler: Callable[[Request, str], Any]) -> Response:
        state: _Client | None = None
        try:
            client = self._authenticate(request.headers, request.client.host if request.client else "")
            self._engine()
            state = self._admit(client)
            response = await handler(request, client)
        except HttpError as exc:
            if state is not None:
                self._release(state)
            return error_response(exc.status, exc.message, exc.kind, exc.headers)
        except TimeoutError:
            if state is not None:
                self._release(state)
            return error_response(504, f"the fill took longer than {self.settings.request_timeout_s:g}s", "timeout_error")
        except Exception:
            if state is not None:
                self._release(state)
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal error (the engine log has the details)", "server_error")
        if isinstance(response, StreamingResponse):
            inner = response.body_iterator
            done = state

            async def released() -> AsyncIterator[Any]:
                try:
                    async for chunk in inner:
                        yield chunk
                finally:
                    self._release(done)

            response.body_iterator = released()
        else:
            self._release(state)
        self.requests_served += 1
        return response

    async def _wait_or_disconnect(self, request: Request, fill: Any) -> Outcome:
        """Run ``fill`` while watching the connection: a client that goes away cancels it."""
        task = asyncio.ensure_future(fill)
        watch = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise HttpError(499, "the client closed the connection", "cancelled")
        finally:
            watch.cancel()
            if not task.done():
                task.cancel()

    def _request(self, *, client: str, slot: str, prefix: str, suffix: str, context: str, language: str,
                 n_predict: int | None, n: int, seed: int | None, warm: bool = False) -> InfillRequest:
        if not 1 <= n <= self.settings.max_candidates:
            raise HttpError(400, f"the number of candidates must be in 1-{self.settings.max_candidates}, got {n}")
        self._check_context(prefix, suffix, context)
        return InfillRequest(
            request_id=next(self._ids),
            prefix=prefix,
            suffix=suffix,
            language=language,
            document_key=f"http:{client}:{slot}",  # clients never share a cache
            canvas_lengths=self._canvas(n_predict),
            num_candidates=n,
            seed=seed if seed is not None and seed > 0 else 0,
            context=context,
            warm=warm,
        )

    # ---- endpoints ------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        if self.backend is None:
            return error_response(503, "Loading model", "unavailable_error")
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def models(self, request: Request) -> Response:
        async def handler(request: Request, client: str) -> Response:
            welcome = self._engine().welcome
            body = {"object": "list", "data": [{"id": welcome.model_name, "object": "model", "created": 0,
                                                "owned_by": "infill"}]}
            return Response(_json(body), media_type="application/json")

        return await self._guarded(request, handler)

    async def infill(self, request: Request) -> Response:
        return await self._guarded(request, self._infill)

    async def _infill(self, request: Request, client: str) -> Response:
        body = _decode(_infill_decoder, await self._body(request))
        context = "".join(f"{_file_header(c.filename)}{c.text}\n" for c in body.input_extra)
        warm = body.n_predict == 0
        engine_request = self._request(
            client=client, slot=str(body.id_slot if body.id_slot >= 0 else "default"),
            prefix=body.input_prefix + body.prompt, suffix=body.input_suffix, context=context,
            language=body.language, n_predict=body.n_predict, n=max(1, body.n_cmpl) if not warm else 1,
            seed=body.seed, warm=warm)
        backend = self._engine()
        owner = ("http", engine_request.request_id)
        if warm:
            # Warm the cache without waiting: the answer goes out now, the encoding runs in the engine.
            backend.submit(owner, engine_request, lambda message: None)
            return _json_response({"content": "", "stop": True, "stop_type": "none"}, body.response_fields)
        if body.stream:
            return self._stream(request, owner, engine_request, body.t_max_predict_ms,
                                lambda outcome: [self._infill_answer(body, engine_request, outcome)[0]],
                                lambda text: None, sse_llama=True)
        outcome = await self._wait_or_disconnect(request, run_fill(
            backend, engine_request, owner=owner, timeout_s=self.settings.request_timeout_s,
            predict_ms=body.t_max_predict_ms))
        _raise_for(outcome)
        answers = self._infill_answer(body, engine_request, outcome)
        if body.response_fields is not None:
            answers = [flatten_fields(a, body.response_fields) for a in answers]
        return Response(_json(answers if body.n_cmpl > 1 else answers[0]), media_type="application/json")

    def _infill_answer(self, body: InfillBody, request: InfillRequest, outcome: Outcome) -> list[dict[str, Any]]:
        result = outcome.result
        assert result is not None
        texts = [(c.text, c.tokens) for c in result.candidates]
        if outcome.timed_out:
            texts = [(outcome.partial[: outcome.partial.rfind("\n") + 1], 0)]
        if not texts:
            texts = [("", 0)]
        answers = []
        for text, tokens in texts:
            stop_type = "limit" if outcome.timed_out else "eos"
            text, hit = cut_at_stops(text, body.stop)
            if hit:
                stop_type = "word"
            text, cut = cut_at_indent(text, body.n_indent)
            if cut:
                stop_type = "limit"
            answers.append({
                "index": len(answers),
                "content": text,
                "id_slot": body.id_slot,
                "stop": True,
                "stop_type": stop_type,
                "model": self._engine().welcome.model_name,
                "tokens_predicted": tokens,
                "tokens_evaluated": result.prompt_tokens,
                "tokens_cached": result.cached_tokens,
                "truncated": False,
                "timings": _timings(result, tokens),
            })
        return answers

    async def completions(self, request: Request) -> Response:
        return await self._guarded(request, lambda r, c: self._completions(r, c, fim=False))

    async def fim_completions(self, request: Request) -> Response:
        return await self._guarded(request, lambda r, c: self._completions(r, c, fim=True))

    async def _completions(self, request: Request, client: str, *, fim: bool) -> Response:
        body = _decode(_completion_decoder, await self._body(request))
        if body.logprobs not in (None, False, 0):
            raise HttpError(400, "logprobs are not supported by a diffusion engine")
        if body.best_of not in (None, 1, body.n):
            raise HttpError(400, "best_of is not supported; ask for n candidates")
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if not prompts or len(prompts) * body.n > self.settings.max_candidates:
            raise HttpError(400, f"prompt must be a string or 1-{self.settings.max_candidates} strings "
                                 f"(with n candidates each, {self.settings.max_candidates} in all)")
        if body.stream and len(prompts) > 1:
            raise HttpError(400, "stream takes one prompt")
        stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        seed = body.seed if body.seed is not None else body.random_seed
        model = self._engine().welcome.model_name
        made = int(time.time())
        reply_id = ("fim-" if fim else "cmpl-") + secrets.token_hex(12)
        requests = [
            self._request(client=client, slot=body.user or "default", prefix=prompt, suffix=body.suffix or "",
                          context="", language=body.language, n_predict=body.max_tokens, n=body.n, seed=seed)
            for prompt in prompts
        ]
        if body.stream:
            engine_request = requests[0]
            usage = bool((body.stream_options or {}).get("include_usage"))

            def chunks(outcome: Outcome) -> list[dict[str, Any]]:
                choices = _choices(outcome, stops, body.n, echo=prompts[0] if body.echo else "")
                out = []
                for choice, _ in choices:
                    delta = {"index": choice["index"], "finish_reason": None}
                    if fim:
                        delta["delta"] = {"role": "assistant", "content": choice["text"]}
                    else:
                        delta |= {"text": choice["text"], "logprobs": None}
                    out.append(_completion_chunk(reply_id, made, model, [delta], fim))
                for choice, _ in choices:
                    end = {"index": choice["index"], "finish_reason": choice["finish_reason"]}
                    end |= {"delta": {}} if fim else {"text": "", "logprobs": None}
                    out.append(_completion_chunk(reply_id, made, model, [end], fim))
                if usage:
                    out.append(_completion_chunk(reply_id, made, model, [], fim) | {"usage": _usage(outcome, choices)})
                return out

            return self._stream(request, ("http", engine_request.request_id), engine_request, 0, chunks,
                                lambda text: None, sse_llama=False)
        backend = self._engine()
        outcomes = await self._wait_or_disconnect(request, asyncio.gather(*(
            run_fill(backend, r, owner=("http", r.request_id), timeout_s=self.settings.request_timeout_s)
            for r in requests)))
        choices: list[dict[str, Any]] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for prompt, outcome in zip(prompts, outcomes, strict=True):
            _raise_for(outcome)
            mine = _choices(outcome, stops, body.n, echo=prompt if body.echo else "")
            for part, value in _usage(outcome, mine).items():
                usage[part] += value
            for choice, _ in mine:
                choice["index"] = len(choices)
                choices.append(choice)
        if fim:
            choices = [{"index": c["index"], "message": {"role": "assistant", "content": c["text"]},
                        "finish_reason": c["finish_reason"]} for c in choices]
        answer = {"id": reply_id, "object": "chat.completion" if fim else "text_completion", "created": made,
                  "model": model, "choices": choices, "usage": usage}
        return Response(_json(answer), media_type="application/json")

    def _stream(self, request: Request, owner: Hashable, engine_request: InfillRequest, predict_ms: float,
                chunks: Callable[[Outcome], list[dict[str, Any]]], on_partial: Callable[[str], None],
                *, sse_llama: bool) -> StreamingResponse:
        """Answer as server-sent events: the fill's chunks when it ends, then (OpenAI) ``[DONE]``.

        A diffusion fill is decided as a whole, so its text goes out in one event once it is final; the
        connection is opened at once, and a client that closes it cancels the request."""
        backend = self._engine()
        timeout_s = self.settings.request_timeout_s

        async def events() -> AsyncIterator[bytes]:
            try:
                outcome = await run_fill(backend, engine_request, owner=owner, timeout_s=timeout_s,
                                         predict_ms=predict_ms, on_partial=on_partial)
                _raise_for(outcome)
                for chunk in chunks(outcome):
                    yield b"data: " + _json(chunk) + b"\n\n"
            except HttpError as exc:
                yield b"data: " + _json({"error": {"code": exc.status, "message": exc.message,
                                                   "type": exc.kind}}) + b"\n\n"
            except TimeoutError:
                yield b"data: " + _json({"error": {"code": 504, "message": "the request timed out",
                                                   "type": "timeout_error"}}) + b"\n\n"
            if not sse_llama:
                yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ---- the engine protocol over a WebSocket ---------------------------------------------------

    async def engine_socket(self, websocket: WebSocket) -> None:
        """One remote client: Hello/Welcome, then InfillRequest/Cancel/StatusRequest as on the Unix socket
        (Shutdown is refused: a shared engine is stopped by its operator)."""
        try:
            client = self._authenticate(websocket.headers, websocket.client.host if websocket.client else "")
        except HttpError as exc:
            await websocket.accept()  # closed before accept, the handshake is answered HTTP 403: no code, no reason
            await websocket.close(code=1008, reason=exc.message[:120])
            return
        await websocket.accept()
        if self.backend is None:
            await websocket.close(code=1013, reason="Loading model")
            return
        await _RemoteConnection(self, websocket, client).serve()


class _RemoteConnection:
    """The engine protocol for one WebSocket client, with the same outbox bound as a socket client."""

    def __init__(self, api: HttpApi, websocket: WebSocket, client: str) -> None:
        self.api = api
        self.websocket = websocket
        self.client = client
        self.backend = api._engine()
        self.aio = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.outbox_bytes = 0
        self.in_flight: set[int] = set()

    async def serve(self) -> None:
        writer = asyncio.create_task(self._write_loop())
        try:
            if not await self._handshake():
                return
            while True:
                body = await self._receive()
                if body is None:
                    return
                try:
                    message = decode_client(body)
                except ProtocolError as exc:
                    self.send(ErrorReply(0, ErrorCode.PROTOCOL, str(exc)))
                    continue
                self._dispatch(message)
        except WebSocketDisconnect:
            pass
        finally:
            self.backend.cancel_owner(self)
            self.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1.0)
            writer.cancel()
            with contextlib.suppress(Exception):
                await self.websocket.close()

    async def _receive(self) -> bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            self.send(ErrorReply(0, ErrorCode.PROTOCOL, "send binary messages (msgpack), not text"))
            return b""
        if len(data) > MAX_FRAME_BYTES:
            self.send(ErrorReply(0, ErrorCode.PROTOCOL, f"message larger than {MAX_FRAME_BYTES} bytes"))
            return b""
        return data

    async def _handshake(self) -> bool:
        try:
            body = await asyncio.wait_for(self._receive(), 10.0)
        except TimeoutError:
            return False
        if not body:
            return False
        try:
            hello = decode_client(body)
        except ProtocolError as exc:
            self.send(ErrorReply(0, ErrorCode.PROTOCOL, f"expected Hello: {exc}"))
            return False
        if not isinstance(hello, Hello) or hello.protocol_version != PROTOCOL_VERSION:
            self.send(ErrorReply(0, ErrorCode.PROTOCOL,
                                 f"expected Hello with protocol version {PROTOCOL_VERSION}"))
            return False
        self.send(self.backend.welcome)
        return True

    def _dispatch(self, message: Any) -> None:
        match message:
            case InfillRequest():
                try:
                    self.api._check_context(message.prefix, message.suffix, message.context)
                except HttpError as exc:
                    self.send(ErrorReply(message.request_id, ErrorCode.BAD_REQUEST, exc.message))
                    return
                if len(self.in_flight) >= self.api.settings.max_in_flight:
                    self.send(ErrorReply(message.request_id, ErrorCode.OVERLOADED,
                                         f"{self.api.settings.max_in_flight} requests of yours are in flight"))
                    return
                self.in_flight.add(message.request_id)
                keyed = msgspec.structs.replace(message, document_key=f"remote:{self.client}:{message.document_key}")
                self.backend.submit(self, keyed, self._sink)
            case Cancel(request_id=request_id):
                self.backend.cancel(self, request_id)
            case StatusRequest(request_id=request_id):
                future = self.backend.status(request_id)
                future.add_done_callback(lambda f: self._status_done(request_id, f))
            case Shutdown():
                self.send(ErrorReply(0, ErrorCode.BAD_REQUEST, "a remote client cannot stop a shared engine"))
            case Hello():
                self.send(ErrorReply(0, ErrorCode.PROTOCOL, "Hello is only valid as the first message"))

    def _status_done(self, request_id: int, future: Any) -> None:
        try:
            reply: ServerMessage = future.result()
            if isinstance(reply, StatusReply):  # what the process knows is the operator's, not a client's
                reply = msgspec.structs.replace(reply, pid=0, model_dir="")
        except Exception as exc:
            reply = ErrorReply(request_id, ErrorCode.INTERNAL, f"status failed: {exc!r}")
        with contextlib.suppress(RuntimeError):
            self.aio.call_soon_threadsafe(self.send, reply)

    def _sink(self, message: Any) -> None:  # loop thread
        with contextlib.suppress(RuntimeError):
            self.aio.call_soon_threadsafe(self.send, message)

    def send(self, message: ServerMessage) -> None:
        if isinstance(message, InfillResult | ErrorReply):
            self.in_flight.discard(message.request_id)
        try:
            body = msgspec.msgpack.encode(message)
        except Exception as exc:  # pragma: no cover - every server message encodes
            log.exception("encoding a reply failed: %r", exc)
            return
        if self.outbox_bytes + len(body) > 2 * MAX_FRAME_BYTES:
            log.warning("remote client %s does not read its replies: dropping it", self.client)
            self.backend.cancel_owner(self)
            self.outbox.put_nowait(None)
            return
        self.outbox_bytes += len(body)
        self.outbox.put_nowait(body)

    async def _write_loop(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                body = await self.outbox.get()
                if body is None:
                    await self.websocket.close()
                    return
                self.outbox_bytes -= len(body)
                await self.websocket.send_bytes(body)


# ---- helpers ------------------------------------------------------------------------------------


def _decode(decoder: msgspec.json.Decoder, body: bytes) -> Any:
    if not body.strip():
        raise HttpError(400, "the request body is empty; send a JSON object")
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise HttpError(400, f"invalid request: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"the request body is not valid JSON: {exc}") from None


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _file_header(filename: str) -> str:
    return f"# file: {filename}\n" if filename else ""


def _timings(result: InfillResult, tokens: int) -> dict[str, Any]:
    prompt_n = max(0, result.prompt_tokens - result.cached_tokens)
    prompt_ms = result.encode_ms
    predicted_ms = max(0.0, result.elapsed_ms - result.queue_ms - result.encode_ms)
    return {
        "cache_n": result.cached_tokens,
        "prompt_n": prompt_n,
        "prompt_ms": prompt_ms,
        "prompt_per_token_ms": prompt_ms / prompt_n if prompt_n else 0.0,
        "prompt_per_second": 1000 * prompt_n / prompt_ms if prompt_ms else 0.0,
        "predicted_n": tokens,
        "predicted_ms": predicted_ms,
        "predicted_per_token_ms": predicted_ms / tokens if tokens else 0.0,
        "predicted_per_second": 1000 * tokens / predicted_ms if predicted_ms else 0.0,
        "steps": result.steps,
    }


def _json_response(answer: dict[str, Any], fields: list[str] | None) -> Response:
    if fields is not None:
        answer = flatten_fields(answer, fields)
    return Response(_json(answer), media_type="application/json")


def _choices(outcome: Outcome, stops: list[str], n: int, *, echo: str) -> list[tuple[dict[str, Any], int]]:
    """OpenAI choices for an outcome's candidates, each with its token count."""
    result = outcome.result
    assert result is not None
    choices: list[tuple[dict[str, Any], int]] = []
    for candidate in list(result.candidates[:n]) or [None]:
        text = candidate.text if candidate is not None else ""
        text, hit = cut_at_stops(text, stops)
        full = candidate is not None and not hit and candidate.tokens >= candidate.canvas_length > 0
        choice = {"index": len(choices), "text": echo + text, "logprobs": None,
                  "finish_reason": "length" if full else "stop"}
        choices.append((choice, candidate.tokens if candidate is not None else 0))
    return choices


def _usage(outcome: Outcome, choices: list[tuple[dict[str, Any], int]]) -> dict[str, int]:
    result = outcome.result
    prompt = result.prompt_tokens if result is not None else 0
    completion = sum(tokens for _, tokens in choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_chunk(reply_id: str, made: int, model: str, choices: list[dict[str, Any]], fim: bool) -> dict[str, Any]:
    return {"id": reply_id, "object": "chat.completion.chunk" if fim else "text_completion", "created": made,
            "model": model, "choices": choices}


# ---- the server ---------------------------------------------------------------------------------


class HttpStartError(RuntimeError):
    """The HTTP API cannot listen where it was asked to."""


class HttpFront:
    """Runs an HttpApi on uvicorn in the engine's event loop, on a socket bound here (so a taken port is
    one clear error). ``/health`` answers 503 from ``start()`` until ``ready()``."""

    def __init__(self, settings: HttpSettings, *, log_level: str = "warning") -> None:
        self.settings = settings
        self.api = HttpApi(settings)
        self._config = uvicorn.Config(
            self.api.app,
            ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            limit_concurrency=512,  # connections past it get 503 instead of piling up
            http="h11",  # h11 bounds the request line and headers (httptools would take any size)
            h11_max_incomplete_event_size=64 * 1024,
            ws_max_size=MAX_FRAME_BYTES,
            server_header=False,
        )
        self._server = _QuietSignals(self._config)
        self._task: asyncio.Task[None] | None = None
        self.address: tuple[str, int] | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.settings.ssl_certfile else "http"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.host, self.settings.port))
            sock.listen(512)
        except OSError as exc:
            sock.close()
            raise HttpStartError(f"cannot serve HTTP on {self.settings.host}:{self.settings.port}: {exc.strerror or exc}") from None
        self.address = sock.getsockname()[:2]
        self._config.load()
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="engine-http")
        log.info("HTTP API on %s://%s:%d%s", self.scheme, self.address[0], self.address[1],
                 "" if self.settings.api_keys else " (no API keys: loopback only)")

    def ready(self, backend: Backend, *, default_canvas: int = 64) -> None:
        self.api.default_canvas = default_canvas
        self.api.ready(backend)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5.0)


class _QuietSignals(uvicorn.Server):
    """uvicorn without its own signal handlers: the engine process handles SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
