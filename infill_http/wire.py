"""What crosses the HTTP API: request bodies (llama.cpp's, OpenAI's, Mistral's), JSON errors, the text rules
of llama.cpp (stops, indentation, response fields) and the answers' shapes."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from engine.protocol import (
    ErrorReply,
    FinishReason,
    InfillRequest,
    InfillResult,
    Partial,
    Welcome,
)
from infill_http.settings import HttpSettings


class Backend(Protocol):
    """What the app needs of an engine: engine.host.loop.EngineLoop's submit/cancel side."""

    @property
    def welcome(self) -> Welcome: ...

    def submit(self, owner: Hashable, request: InfillRequest, sink: Callable[[Any], None]) -> None: ...

    def cancel(self, owner: Hashable, request_id: str) -> None: ...

    def cancel_owner(self, owner: Hashable) -> None: ...

    def status(self, request_id: str = "") -> Any: ...  # a concurrent.futures.Future[StatusReply]


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


def error_response(
    status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    kind = kind or _ERROR_KINDS.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    body = {"error": {"code": status, "message": message, "type": kind}}
    return Response(to_json(body), status_code=status, media_type="application/json", headers=headers)


_encoder = msgspec.json.Encoder()


def to_json(value: Any) -> bytes:
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
    language: str = ""  # ours: the file's language (a name of grammars/languages.toml or an editor language id)
    filename: str = ""  # ours: the file's name, for its language when ``language`` is not given


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
    language: str = ""  # ours: the file's language, as for /infill
    filename: str = ""  # ours: the file's name, for its language when ``language`` is not given


infill_decoder = msgspec.json.Decoder(InfillBody)
completion_decoder = msgspec.json.Decoder(CompletionBody)


# ---- one engine request, seen from asyncio ------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    result: InfillResult | None = None
    error: ErrorReply | None = None
    partial: str = ""  # the last streamed canvas text
    timed_out: bool = False  # t_max_predict_ms ended it
    started: float = 0.0
    refusal: str = ""  # why the fill layer let no candidate through (empty answers say it)


class _Call:
    """Bridges the loop thread's sink to an asyncio queue of one request's messages."""

    def __init__(self) -> None:
        self.aio = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def sink(self, message: Any) -> None:  # loop thread
        with contextlib.suppress(RuntimeError):  # the event loop is closed
            self.aio.call_soon_threadsafe(self.queue.put_nowait, message)


async def run_fill(backend: Backend, request: InfillRequest, *, owner: Hashable, timeout_s: float,
                   predict_ms: float = 0.0) -> Outcome:
    """Submit ``request`` and wait for its end. Cancelled (the client went away) or timed out, it cancels
    the engine request. ``predict_ms``: llama.cpp's ``t_max_predict_ms`` — once denoising has run that
    long and the canvas holds a line break, answer with the canvas's whole lines."""
    call = _Call()
    outcome = Outcome(started=time.monotonic())
    backend.submit(owner, msgspec.structs.replace(request, stream=request.stream or predict_ms > 0), call.sink)
    deadline = outcome.started + timeout_s
    predict_deadline = math.inf  # set by the first partial: denoising has started
    predict_expired = False
    try:
        while True:
            message: Any = None
            try:
                left = max(0.0, min(deadline, predict_deadline) - time.monotonic())
                message = await asyncio.wait_for(call.queue.get(), left)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                predict_deadline, predict_expired = math.inf, True
            match message:
                case Partial(text=text):
                    outcome.partial = text
                    if predict_ms > 0 and predict_deadline == math.inf and not predict_expired:
                        predict_deadline = time.monotonic() + predict_ms / 1000
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


# ---- text rules shared by the endpoints ---------------------------------------------------------


def check_context(settings: HttpSettings, *parts: str) -> None:
    """Refuse (413) a prompt longer than the settings allow, in characters."""
    total = sum(len(p) for p in parts)
    if total > settings.max_context_chars:
        raise HttpError(413, f"the context holds {total} characters; the limit is {settings.max_context_chars}")


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


# ---- helpers ------------------------------------------------------------------------------------


def decode_body(decoder: msgspec.json.Decoder, body: bytes) -> Any:
    if not body.strip():
        raise HttpError(400, "the request body is empty; send a JSON object")
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise HttpError(400, f"invalid request: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "the request body is nested too deeply") from None


async def disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def file_header(filename: str) -> str:
    return f"# file: {filename}\n" if filename else ""


def llama_timings(result: InfillResult, tokens: int) -> dict[str, Any]:
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


def json_response(answer: dict[str, Any], fields: list[str] | None) -> Response:
    if fields is not None:
        answer = flatten_fields(answer, fields)
    return Response(to_json(answer), media_type="application/json")


def openai_choices(outcome: Outcome, stops: list[str], n: int, *, echo: str) -> list[tuple[dict[str, Any], int]]:
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
        if candidate is None and outcome.refusal:
            choice["refusal"] = outcome.refusal
        choices.append((choice, candidate.tokens if candidate is not None else 0))
    return choices


def openai_usage(outcome: Outcome, choices: list[tuple[dict[str, Any], int]]) -> dict[str, int]:
    result = outcome.result
    prompt = result.prompt_tokens if result is not None else 0
    completion = sum(tokens for _, tokens in choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_chunk(reply_id: str, made: int, model: str, choices: list[dict[str, Any]], fim: bool) -> dict[str, Any]:
    return {"id": reply_id, "object": "chat.completion.chunk" if fim else "text_completion", "created": made,
            "model": model, "choices": choices}
