"""The engine's settings: one typed object, validated once, passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.sampler import SamplerConfig
from engine.protocol import STOP_RULES


@dataclass(slots=True, kw_only=True)
class EngineConfig:
    max_prefix_tokens: int = 768
    max_suffix_tokens: int = 256
    prefix_trim_quantum: int = 128  # drop prompt-start tokens in blocks, so the cache stays reusable
    single_line_canvases: tuple[int, ...] = (16,)
    multi_line_canvases: tuple[int, ...] = (64,)
    max_canvas: int = 256
    default_steps: int = 24
    max_steps_cap: int = 128
    max_candidates: int = 8
    max_batch_canvases: int = 64
    prefill_tokens_per_step: int = 2048
    kv_budget_bytes: int = 256 * 1024 * 1024
    max_queued: int = 256
    prompt_format: str = "auto"  # a name of engine/prompt/formats.toml, or auto (chosen by the tokenizer)
    prompt_template: str = ""  # a user's prompt template replacing the format's (same placeholders)
    short_canvases: bool = False  # let a model trained on one canvas length denoise the shorter hints
    # When a canvas of the generate policy is done. "shown": once the part the user sees (up to the first
    # end token; for a single-line hole, up to the first line break) is stable and confident; "canvas":
    # generate()'s own rule, the whole canvas (what equivalence with transformers needs).
    stop_rule: str = "shown"
    # How a step's batch is shared while several clients have canvases of one class: "fill" fills the batch
    # (max-min fair: a client wanting less gets all it wants, the rest goes to the others), as suits a GPU,
    # where a step costs about the same at any batch size; "equal" also caps each client at twice the
    # smallest client's want, so a light request's steps stay short on a CPU, where a step's cost grows with
    # its batch; "auto": equal on a CPU, fill elsewhere.
    step_share: str = "auto"
    # About how long one step may take while several clients have work, in seconds: its prompt tokens and
    # canvases are chosen to fit, from what past steps cost per token. A request that arrives waits for the step
    # in flight, so this bounds that wait when another client has a lot of work queued. "auto": 0.1 on a CPU (a
    # step's cost grows with its tokens), no bound elsewhere (a GPU step costs about the same at any batch size);
    # 0: no bound.
    step_seconds: float | str = "auto"
    # A request whose prefix is the document's last encoded prefix plus at most this many characters typed on
    # its line (the same suffix and context) reuses that encoding whole: the typed text starts the canvas,
    # fixed, as text the fill must begin with, so a keystroke costs denoising steps and no encoder pass. 0: off
    # (every request's own prompt is encoded, a keystroke's few new tokens included).
    carry_chars: int = 16
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        positive = (
            "max_prefix_tokens",
            "default_steps",
            "max_steps_cap",
            "max_candidates",
            "max_batch_canvases",
            "prefill_tokens_per_step",
            "prefix_trim_quantum",
            "max_canvas",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"EngineConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.stop_rule not in STOP_RULES:
            raise ValueError(f"EngineConfig.stop_rule must be one of {', '.join(STOP_RULES)}, got {self.stop_rule!r}")
        if self.step_share not in ("auto", "fill", "equal"):
            raise ValueError(f"EngineConfig.step_share must be auto, fill or equal, got {self.step_share!r}")
        if self.step_seconds != "auto" and (
            isinstance(self.step_seconds, (str, bool)) or not 0 <= self.step_seconds < float("inf")
        ):
            raise ValueError(f"EngineConfig.step_seconds must be auto or seconds >= 0, got {self.step_seconds!r}")
        if self.carry_chars < 0:
            raise ValueError(f"EngineConfig.carry_chars must be >= 0, got {self.carry_chars}")
        if self.max_suffix_tokens < 0:
            raise ValueError("EngineConfig.max_suffix_tokens must be >= 0")
        for name in ("single_line_canvases", "multi_line_canvases"):
            lengths = getattr(self, name)
            if not lengths or any(not 2 <= n <= self.max_canvas for n in lengths):
                raise ValueError(f"EngineConfig.{name} must hold lengths in [2, {self.max_canvas}]")
