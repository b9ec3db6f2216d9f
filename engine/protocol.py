"""The engine's wire format: every message between an editor-side client and the engine, in one place.

Frames are a 4-byte big-endian length followed by a msgpack body. Bodies are tagged ``msgspec.Struct``
arrays (the tag is the first element), decoded by one typed decoder per direction. No pickle, no
dispatch by attribute name: the receiver matches on the decoded type.
"""

from __future__ import annotations

import enum
import itertools
import secrets
import struct

import msgspec

PROTOCOL_VERSION = 3  # 2: request ids are strings, unique where the request is born; 3: drafts (next edit)
MAX_FRAME_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


# When a canvas of the generate() sampler is done (EngineConfig.stop_rule, `infill engine --stop-rule`):
# once what is shown is stable and confident, or once the whole canvas is, as generate().
STOP_RULES = ("shown", "canvas")


class Priority(enum.IntEnum):
    """What a request is for; the engine serves interactive fills first, then next-edit requests, then cache
    warm-ups (``InfillRequest.warm``), then batch work (engine/core/scheduler.py)."""

    INTERACTIVE = 0
    BATCH = 1
    NEXT_EDIT = 2


class FinishReason(enum.IntEnum):
    CONVERGED = 0  # the canvas was stable and confident
    STEP_CAP = 1  # the step budget ran out
    CANCELLED = 2
    ERROR = 3


class ErrorCode(enum.IntEnum):
    BAD_REQUEST = 1
    OVERLOADED = 2
    INTERNAL = 3
    CANCELLED = 4
    SHUTTING_DOWN = 5
    PROTOCOL = 6


class _Msg(msgspec.Struct, array_like=True, omit_defaults=True, gc=False, frozen=True):
    pass


class RequestIds:
    """Request ids unique across processes and connections: ``ORIGIN-RANDOM-N``, made where requests are born."""

    def __init__(self, origin: str) -> None:
        self._prefix = f"{origin}-{secrets.token_hex(4)}-"
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._numbers)}"


# ---- client -> engine -------------------------------------------------------------------------


class Hello(_Msg, tag=1):
    protocol_version: int
    client_name: str = ""


class InfillRequest(_Msg, tag=2):
    """Fill the hole between ``prefix`` and ``suffix``.

    ``request_id`` is given once, where the request is born (``RequestIds``), and every layer logs,
    routes and cancels by it unchanged. ``seed`` 0 means: derived from the request's own text, so the
    same request gives the same fill whatever came before it.

    ``document_key`` names the document the hole is in, so the engine can reuse that document's encoder
    cache across keystrokes. ``canvas_lengths`` lists candidate canvas sizes (empty: the engine chooses);
    ``max_steps`` is the denoising step budget (0: the engine default). ``pinned`` is text the fill must
    start with (characters already typed or a selected popup item). ``context`` is code from other
    files, placed where the model's prompt format puts it (counted in the prefix budget).
    """

    request_id: str
    prefix: str
    suffix: str
    language: str = ""
    document_key: str = ""
    canvas_lengths: tuple[int, ...] = ()
    max_steps: int = 0
    num_candidates: int = 1
    priority: int = Priority.INTERACTIVE
    stream: bool = False
    pinned: str = ""
    single_line: bool = False
    seed: int = 0
    context: str = ""
    score: bool = False  # also score each candidate with the encoder's causal likelihood
    warm: bool = False  # only encode the prompt into the document's cache; answer with no candidates
    # Who asked, for the engine's fair share between clients: the HTTP front sets ``key:NAME`` (or
    # ``addr:IP`` without keys) whatever a remote client sent; the socket server ``conn:N`` when empty.
    client: str = ""
    # The hole's current text, to rewrite in place (next edit): the canvas starts from it instead of noise,
    # and each of its tokens stays on the canvas until the model decides that position, keeping it or not; a
    # few free positions after it let the rewrite grow, and an earlier end lets it shrink. "" for a fill.
    draft: str = ""
    # Texts for the hole to weigh instead of generating one: the answer's candidates are these, in this order,
    # each with its ``likelihood`` after the prefix (next edit: is the edited text likelier than the current?).
    alternatives: tuple[str, ...] = ()


class Cancel(_Msg, tag=3):
    request_id: str


class StatusRequest(_Msg, tag=4):
    request_id: str


class Shutdown(_Msg, tag=5):
    pass


# ---- engine -> client -------------------------------------------------------------------------


class Welcome(_Msg, tag=11):
    """The engine's greeting. Its context budgets are in tokens: a client cuts its context to
    ``max_prefix_tokens``/``max_suffix_tokens`` using ``chars_per_token`` (a conservative figure for code,
    measured on the model's tokenizer), so the engine's own trim is only a guard."""

    protocol_version: int
    model_name: str
    device: str
    backend: str
    trained: bool = True
    max_context_tokens: int = 0
    max_prefix_tokens: int = 0
    max_suffix_tokens: int = 0
    chars_per_token: float = 0.0
    prompt_format: str = ""
    dtype: str = ""  # the weights' dtype ("float32", "bfloat16"...); "" from engines that do not say
    model_dir: str = ""  # the absolute model directory the engine serves; "" from engines that do not say
    # The prompt format reads a next-edit request's context as the user's recent changes (unified diffs);
    # otherwise the context is code from other files, as for a fill.
    edit_prompt: bool = False
    # The model rewrites a region well enough to be asked on its own (trained on edits, or an instruction-tuned
    # model given the edit prompt); otherwise next edits come from rules the model only confirms.
    rewrites: bool = False


class Candidate(msgspec.Struct, array_like=True, omit_defaults=True, gc=False, frozen=True):
    """One fill: ``confidence`` is the denoiser's mean top probability over it; ``likelihood`` (when the
    request asked to score) the encoder's mean log-probability per token of it after the prefix."""

    text: str
    confidence: float = 0.0
    tokens: int = 0
    canvas_length: int = 0
    likelihood: float = 0.0


class Partial(_Msg, tag=12):
    """An intermediate canvas, streamed when the request asked for it. A snapshot: one the engine has not
    yet written when the next is ready is replaced by it, so steps may be skipped; the last one is sent."""

    request_id: str
    text: str
    step: int


class InfillResult(_Msg, tag=13):
    request_id: str
    candidates: tuple[Candidate, ...]
    finish_reason: int
    steps: int = 0
    forward_passes: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    queue_ms: float = 0.0
    elapsed_ms: float = 0.0
    encode_ms: float = 0.0  # encoding the prompt's uncached tokens (part of elapsed_ms)


class ErrorReply(_Msg, tag=14):
    request_id: str
    code: int
    message: str


class StatusReply(_Msg, tag=15):
    request_id: str
    model_name: str
    device: str
    backend: str
    active: int = 0
    queued: int = 0
    completed: int = 0
    cache_entries: int = 0
    cache_bytes: int = 0
    cache_hit_tokens: int = 0
    cache_lookup_tokens: int = 0
    mean_step_ms: float = 0.0
    trimmed_prompts: int = 0  # prompts the engine had to cut to its token budget (the client's cut missed)
    forward_passes: int = 0  # denoising passes run so far (the work benchmarks weigh against what was shown)
    # What the engine process knows and the core does not (filled by the engine server):
    pid: int = 0
    rss_bytes: int = 0  # the process's resident memory
    uptime_s: float = 0.0
    clients: int = 0  # connections open now, the asking one included
    dtype: str = ""
    model_dir: str = ""
    idle_exit_s: float = 0.0  # it exits this long after its last client left (0: never)


ClientMessage = Hello | InfillRequest | Cancel | StatusRequest | Shutdown
ServerMessage = Welcome | Partial | InfillResult | ErrorReply | StatusReply

_encoder = msgspec.msgpack.Encoder()
_client_decoder = msgspec.msgpack.Decoder(ClientMessage)
_server_decoder = msgspec.msgpack.Decoder(ServerMessage)


class ProtocolError(ValueError):
    """A frame that is not a valid message of this protocol."""


# msgspec reports a str field holding invalid UTF-8 as UnicodeDecodeError (a ValueError), not DecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError)  # deep nesting


def encode(message: ClientMessage | ServerMessage) -> bytes:
    """Return ``message`` as one length-prefixed frame."""
    body = _encoder.encode(message)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the {MAX_FRAME_BYTES}-byte frame limit")
    return _HEADER.pack(len(body)) + body


def frame_length(header: bytes) -> int:
    """Return the body length announced by a 4-byte frame header, rejecting oversized frames."""
    if len(header) != _HEADER.size:
        raise ProtocolError("truncated frame header")
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    return length


def decode_client(body: bytes) -> ClientMessage:
    """Decode a frame body sent by a client; raise ProtocolError on anything else."""
    try:
        return _client_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        raise ProtocolError(f"malformed client message: {exc}") from None


def hello_refusal(body: bytes) -> str:
    """Why ``body`` is not a Hello this engine takes as a connection's first message ('' when it is)."""
    try:
        hello = decode_client(body)
    except ProtocolError as exc:
        return f"expected Hello: {exc}"
    match hello:
        case Hello(protocol_version=version) if version == PROTOCOL_VERSION:
            return ""
        case Hello(protocol_version=version):
            return f"protocol version {version} is not supported; this engine speaks {PROTOCOL_VERSION}"
        case _:
            return f"expected Hello, got {type(hello).__name__}"


def decode_server(body: bytes) -> ServerMessage:
    """Decode a frame body sent by the engine; raise ProtocolError on anything else."""
    try:
        return _server_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        raise ProtocolError(f"malformed engine message: {exc}") from None
