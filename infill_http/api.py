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

Security: the app binds to loopback unless API keys are given (infill_http/settings.py); connection
floods, slow headers and requests from web pages are refused before any endpoint (infill_http/guard.py);
keys are compared in constant time; each client (key, or address when keyless) has one cap on requests in
flight across every endpoint and WebSocket (infill_http/budget.py), and the engine shares its steps fairly
between clients (``InfillRequest.client``);
bodies have a size and a time limit, contexts a length limit. Request bodies, errors and the answers'
shapes are in infill_http/wire.py; the WebSocket protocol in infill_http/websocket.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from engine.protocol import (
    MAX_FRAME_BYTES,
    Candidate,
    ErrorCode,
    ErrorReply,
    InfillRequest,
    InfillResult,
    RequestIds,
)
from infill_http.budget import InFlightBudget, Ticket
from infill_http.fills import HttpHole, Skip, checked_result
from infill_http.guard import ConnectionGuard, ConnectionLimits, OriginGuard, guarded_protocols
from infill_http.settings import HttpSettings
from infill_http.websocket import RemoteConnection
from infill_http.wire import (
    Backend,
    HttpError,
    InfillBody,
    Outcome,
    check_context,
    completion_chunk,
    completion_decoder,
    cut_at_indent,
    cut_at_stops,
    decode_body,
    disconnected,
    error_response,
    file_header,
    flatten_fields,
    infill_decoder,
    json_response,
    llama_timings,
    openai_choices,
    openai_usage,
    run_fill,
    to_json,
)

log = logging.getLogger(__name__)

# ---- what the app serves ------------------------------------------------------------------------


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


# ---- the app ------------------------------------------------------------------------------------


@dataclass
class HttpApi:
    """The Starlette app and its state; ``ready(backend)`` once the engine has loaded."""

    settings: HttpSettings = field(default_factory=HttpSettings)
    default_canvas: int = 64
    backend: Backend | None = None
    _ids: RequestIds = field(default_factory=lambda: RequestIds("http"))
    _holes: dict[str, tuple[HttpHole | None, str]] = field(default_factory=dict)  # by request id, until answered

    def __post_init__(self) -> None:
        # One budget per client across every endpoint and every WebSocket it opens.
        self.budget = InFlightBudget(self.settings.max_in_flight)
        endpoints = Starlette(routes=[
            Route("/health", self.health, methods=["GET"]),
            Route("/infill", self.infill, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/fim/completions", self.fim_completions, methods=["POST"]),
            Route("/v1/edit/completions", self.edit_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            WebSocketRoute("/v1/engine", self.engine_socket),
        ], exception_handlers={404: self._not_found, 405: self._not_allowed})
        # Web pages, foreign hosts and oversized headers are refused before any endpoint (also on Ray Serve).
        self.origins = OriginGuard(endpoints, allowed=self.settings.allowed_origins,
                                   check_host=not self.settings.api_keys,
                                   max_header_bytes=self.settings.max_header_bytes)
        self.app = self.origins

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

    def _admit(self, client: str) -> Ticket:
        ticket = self.budget.admit(client)
        if ticket is None:
            raise HttpError(429, f"{self.settings.max_in_flight} requests of yours are in flight; "
                                 "wait for one to end", headers={"Retry-After": "1"})
        return ticket

    def _canvas(self, n_predict: int | None) -> tuple[int, ...]:
        if n_predict is None or n_predict <= 0:
            return ()
        return (max(2, min(n_predict, self.default_canvas)),)

    async def _guarded(self, request: Request, handler: Callable[[Request, str], Any]) -> Any:
        """Authenticate, admit into the client's in-flight budget, run ``handler``; the budget's place is
        given back once the answer has ended, whatever way it ends (a stream: once it is sent or broken)."""
        ticket: Ticket | None = None
        try:
            client = self._authenticate(request.headers, request.client.host if request.client else "")
            self._engine()
            ticket = request.state.ticket = self._admit(client)
            response = await handler(request, client)
        except HttpError as exc:
            response = error_response(exc.status, exc.message, exc.kind, exc.headers)
        except TimeoutError:
            response = error_response(504, f"the fill took longer than {self.settings.request_timeout_s:g}s",
                                      "timeout_error")
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            response = error_response(500, "internal error (the engine log has the details)", "server_error")
        if ticket is None:
            return response
        if isinstance(response, StreamingResponse):
            return _ReleasedAfter(response, ticket)
        ticket.release()
        return response

    async def _wait_or_disconnect(self, request: Request, fill: Any) -> Outcome:
        """Run ``fill`` while watching the connection: a client that goes away cancels it."""
        task = asyncio.ensure_future(fill)
        watch = asyncio.ensure_future(disconnected(request))
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
                 filename: str, n_predict: int | None, n: int, seed: int | None, warm: bool = False) -> InfillRequest:
        """The engine request for an HTTP hole, planned by the editors' fill layer (infill_http.fills): its
        answer goes through the same checks, trimming and gate (``_fill``)."""
        if not 1 <= n <= self.settings.max_candidates:
            raise HttpError(400, f"the number of candidates must be in 1-{self.settings.max_candidates}, got {n}")
        check_context(self.settings, prefix, suffix, context)
        own = {
            "request_id": self._ids(),
            "document_key": f"http:{client}:{slot}",  # clients never share a cache
            "num_candidates": n,
            "max_steps": 0,  # the engine's default, not an editor's typing budget
            "seed": seed if seed is not None and seed > 0 else 0,
            "warm": warm,
            "client": client,  # the engine's fair share between clients
        }
        if (canvas := self._canvas(n_predict)) or warm:  # a warm-up only encodes: no canvas
            own["canvas_lengths"] = canvas
        try:
            hole: HttpHole | None = HttpHole.plan_for(prefix, suffix, language=language, filename=filename,
                                                      context=context, welcome=self._engine().welcome)
        except Skip as why:  # nothing the fill layer would show: the engine is still asked, its answer refused
            hole, refusal = None, str(why)
        else:
            refusal = ""
        if hole is not None:
            engine_request = hole.request(**own)
        else:
            engine_request = InfillRequest(prefix=prefix, suffix=suffix, language=language, context=context, **own)
        if not warm:
            self._holes[engine_request.request_id] = (hole, refusal)
        return engine_request

    async def _fill(self, backend: Backend, request: InfillRequest, *, owner: Hashable,
                    predict_ms: float = 0.0) -> Outcome:
        """``run_fill``, and what the fill layer lets through of its answer (``Outcome.refusal`` says why
        nothing, when nothing)."""
        hole, refusal = self._holes.pop(request.request_id, (None, "the hole was not planned"))
        outcome = await run_fill(backend, request, owner=owner, timeout_s=self.settings.request_timeout_s,
                                 predict_ms=predict_ms)
        if outcome.result is None:
            return outcome
        result = outcome.result
        if outcome.timed_out:  # the whole lines denoised so far are the candidate
            lines = outcome.partial[: outcome.partial.rfind("\n") + 1]
            result = msgspec.structs.replace(result, candidates=(Candidate(lines, confidence=1.0),) if lines else ())
        result, outcome.refusal = checked_result(result, hole, refusal, request.num_candidates)
        outcome.result = result
        if outcome.timed_out:
            outcome.partial = result.candidates[0].text if result.candidates else ""
        return outcome

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
            return Response(to_json(body), media_type="application/json")

        return await self._guarded(request, handler)

    async def infill(self, request: Request) -> Response:
        return await self._guarded(request, self._infill)

    async def _infill(self, request: Request, client: str) -> Response:
        body = decode_body(infill_decoder, await self._body(request))
        context = "".join(f"{file_header(c.filename)}{c.text}\n" for c in body.input_extra)
        warm = body.n_predict == 0
        engine_request = self._request(
            client=client, slot=str(body.id_slot if body.id_slot >= 0 else "default"),
            prefix=body.input_prefix + body.prompt, suffix=body.input_suffix, context=context,
            language=body.language, filename=body.filename, n_predict=body.n_predict,
            n=max(1, body.n_cmpl) if not warm else 1,
            seed=body.seed, warm=warm)
        backend = self._engine()
        owner = ("http", engine_request.request_id)
        if warm:
            # Warm the cache without waiting: the answer goes out now, the encoding runs in the engine and
            # holds its place in the client's budget until it ends.
            ticket = request.state.ticket.transfer()
            backend.submit(owner, engine_request,
                           lambda message: ticket.release() if isinstance(message, InfillResult | ErrorReply) else None)
            return json_response({"content": "", "stop": True, "stop_type": "none"}, body.response_fields)
        if body.stream:
            return self._stream(request, owner, engine_request, body.t_max_predict_ms,
                                lambda outcome: [self._infill_answer(body, engine_request, outcome)[0]], sse_llama=True)
        outcome = await self._wait_or_disconnect(request, self._fill(
            backend, engine_request, owner=owner, predict_ms=body.t_max_predict_ms))
        _raise_for(outcome)
        answers = self._infill_answer(body, engine_request, outcome)
        if body.response_fields is not None:
            answers = [flatten_fields(a, body.response_fields) for a in answers]
        return Response(to_json(answers if body.n_cmpl > 1 else answers[0]), media_type="application/json")

    def _infill_answer(self, body: InfillBody, request: InfillRequest, outcome: Outcome) -> list[dict[str, Any]]:
        result = outcome.result
        assert result is not None
        texts = [(c.text, c.tokens) for c in result.candidates]
        if outcome.timed_out:
            texts = [(outcome.partial, 0)]
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
                "timings": llama_timings(result, tokens),
            } | ({"refusal": outcome.refusal} if outcome.refusal else {}))
        return answers

    async def completions(self, request: Request) -> Response:
        return await self._guarded(request, lambda r, c: self._completions(r, c, fim=False))

    async def fim_completions(self, request: Request) -> Response:
        return await self._guarded(request, lambda r, c: self._completions(r, c, fim=True))

    async def edit_completions(self, request: Request) -> Response:
        from infill_http.edit_completions import edit_completion

        return await self._guarded(request, lambda r, c: edit_completion(self, r, c))

    # What the endpoints of other modules use (infill_http.edit_completions).
    async def read_body(self, request: Request) -> bytes:
        return await self._body(request)

    def engine(self) -> Backend:
        return self._engine()

    async def wait_or_disconnect(self, request: Request, work: Any) -> Any:
        return await self._wait_or_disconnect(request, work)

    def new_request_id(self) -> str:
        return self._ids()

    async def _completions(self, request: Request, client: str, *, fim: bool) -> Response:
        body = decode_body(completion_decoder, await self._body(request))
        if body.logprobs not in (None, False, 0):
            raise HttpError(400, "logprobs are not supported by a diffusion engine")
        if body.best_of not in (None, 1, body.n):
            raise HttpError(400, "best_of is not supported; ask for n candidates")
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        limit = self.settings.max_candidates
        if not prompts or len(prompts) > limit:
            raise HttpError(400, f"prompt must be a string or 1-{limit} strings")
        if body.n < 1 or len(prompts) * body.n > limit:
            raise HttpError(400, f"n must be 1-{limit}, got {body.n}" if len(prompts) == 1 else
                            f"{len(prompts)} prompts with n={body.n} candidates each ask for "
                            f"{len(prompts) * body.n} fills; the limit is {limit} in all")
        if body.stream and len(prompts) > 1:
            raise HttpError(400, "stream takes one prompt")
        stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        seed = body.seed if body.seed is not None else body.random_seed
        model = self._engine().welcome.model_name
        made = int(time.time())
        reply_id = ("fim-" if fim else "cmpl-") + secrets.token_hex(12)
        requests = [
            self._request(client=client, slot=body.user or "default", prefix=prompt, suffix=body.suffix or "",
                          context="", language=body.language, filename=body.filename, n_predict=body.max_tokens,
                          n=body.n, seed=seed)
            for prompt in prompts
        ]
        if body.stream:
            engine_request = requests[0]
            usage = bool((body.stream_options or {}).get("include_usage"))

            def chunks(outcome: Outcome) -> list[dict[str, Any]]:
                choices = openai_choices(outcome, stops, body.n, echo=prompts[0] if body.echo else "")
                out = []
                for choice, _ in choices:
                    delta = {"index": choice["index"], "finish_reason": None}
                    if fim:
                        delta["delta"] = {"role": "assistant", "content": choice["text"]}
                    else:
                        delta |= {"text": choice["text"], "logprobs": None}
                    out.append(completion_chunk(reply_id, made, model, [delta], fim))
                for choice, _ in choices:
                    end = {"index": choice["index"], "finish_reason": choice["finish_reason"]}
                    end |= {"delta": {}} if fim else {"text": "", "logprobs": None}
                    out.append(completion_chunk(reply_id, made, model, [end], fim))
                if usage:
                    last = completion_chunk(reply_id, made, model, [], fim)
                    out.append(last | {"usage": openai_usage(outcome, choices)})
                return out

            owner = ("http", engine_request.request_id)
            return self._stream(request, owner, engine_request, 0, chunks, sse_llama=False)
        backend = self._engine()
        outcomes = await self._wait_or_disconnect(request, asyncio.gather(*(
            self._fill(backend, r, owner=("http", r.request_id)) for r in requests)))
        choices: list[dict[str, Any]] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for prompt, outcome in zip(prompts, outcomes, strict=True):
            _raise_for(outcome)
            mine = openai_choices(outcome, stops, body.n, echo=prompt if body.echo else "")
            for part, value in openai_usage(outcome, mine).items():
                usage[part] += value
            for choice, _ in mine:
                choice["index"] = len(choices)
                choices.append(choice)
        if fim:
            choices = [{"index": c["index"], "message": {"role": "assistant", "content": c["text"]},
                        "finish_reason": c["finish_reason"]} for c in choices]
        answer = {"id": reply_id, "object": "chat.completion" if fim else "text_completion", "created": made,
                  "model": model, "choices": choices, "usage": usage}
        return Response(to_json(answer), media_type="application/json")

    def _stream(self, request: Request, owner: Hashable, engine_request: InfillRequest, predict_ms: float,
                chunks: Callable[[Outcome], list[dict[str, Any]]],
                *, sse_llama: bool) -> StreamingResponse:
        """Answer as server-sent events: the fill's chunks when it ends, then (OpenAI) ``[DONE]``.

        A diffusion fill is decided as a whole, so its text goes out in one event once it is final; the
        connection is opened at once, and a client that closes it cancels the request."""
        backend = self._engine()

        async def events() -> AsyncIterator[bytes]:
            try:
                outcome = await self._fill(backend, engine_request, owner=owner, predict_ms=predict_ms)
                _raise_for(outcome)
                for chunk in chunks(outcome):
                    yield b"data: " + to_json(chunk) + b"\n\n"
            except HttpError as exc:
                yield b"data: " + to_json({"error": {"code": exc.status, "message": exc.message,
                                                   "type": exc.kind}}) + b"\n\n"
            except TimeoutError:
                yield b"data: " + to_json({"error": {"code": 504, "message": "the request timed out",
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
        await RemoteConnection(self._engine(), self.settings, websocket, client, self.budget).serve()


class _ReleasedAfter:
    """A streamed answer that gives its budget place back once sent, or once sending it failed."""

    def __init__(self, response: StreamingResponse, ticket: Ticket) -> None:
        self.response, self.ticket = response, ticket

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            self.ticket.release()


# ---- the server ---------------------------------------------------------------------------------


class HttpStartError(RuntimeError):
    """The HTTP API cannot listen where it was asked to."""


class HttpFront:
    """Runs an HttpApi on uvicorn in the engine's event loop, on a socket bound here (so a taken port is
    one clear error). ``/health`` answers 503 from ``start()`` until ``ready()``."""

    def __init__(self, settings: HttpSettings, *, log_level: str = "warning") -> None:
        self.settings = settings
        self.api = HttpApi(settings)
        self.connections = ConnectionGuard(ConnectionLimits(
            max_connections=settings.max_connections, max_per_address=settings.max_connections_per_address,
            header_timeout_s=settings.header_timeout_s, max_header_bytes=settings.max_header_bytes))
        self.origins = self.api.origins
        http_protocol, ws_protocol = guarded_protocols(self.connections)
        self._config = uvicorn.Config(
            self.api.app,
            ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            http=http_protocol,  # h11, counted and held to a header deadline (infill_http/guard.py)
            ws=ws_protocol,
            h11_max_incomplete_event_size=settings.max_header_bytes,
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
            where = f"{self.settings.host}:{self.settings.port}"
            raise HttpStartError(f"cannot serve HTTP on {where}: {exc.strerror or exc}") from None
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
