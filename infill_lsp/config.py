"""Typed settings from initializationOptions and workspace/didChangeConfiguration.

``parse_settings`` never raises on editor input: each bad value becomes a warning naming the field,
and the field keeps its previous (default) value. Keys may be snake_case or camelCase, flat or under
an ``infill`` section.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.clients.remote import DEFAULT_API_KEY_ENV, ENV_NAME_PATTERN, RemoteEngine
from engine.host.launch import (
    BACKENDS,
    DEVICE_PATTERN,
    DTYPES,
    EDITOR_IDLE_EXIT_S,
    FACTORY_PATTERN,
    EngineLaunch,
)
from infill_lsp.tempo import POLICIES
from infill_lsp.workspace.files import DEFAULT_EXCLUDE, IndexLimits

ENGINE_MODES = ("spawn", "connect", "inproc", "factory")
# The waiting policy "auto" picks per engine kind: the per-user engine process that every editor window
# shares (spawn, connect) or an engine only this server uses (inproc, factory). Chosen by measurement
# (``infill bench --only typing``, BENCHMARKS.md); change the default here, one line per kind.
AUTO_DEBOUNCE_POLICY = {"shared": "none", "local": "none"}


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """How to reach the engine.

    ``mode``: "spawn" (start or join the per-user engine process), "connect" (an engine already
    listening on ``socket``), "inproc" (load the model in this process; needs ``core_factory``
    for tests, "module:function"), "factory" (tests and development only: ``factory`` is a
    "module:function" taking EngineSettings and returning an EngineClient).

    ``url``: use the engine another machine serves (``infill engine --http``) instead, whatever the mode;
    its API key comes from the environment variable ``api_key_env`` or the file ``api_key_file``, never
    from the settings themselves.
    """

    mode: str = "spawn"
    socket: str = ""
    url: str = ""  # a remote engine: http(s)://host:port or ws(s)://host:port/path
    api_key_env: str = DEFAULT_API_KEY_ENV
    api_key_file: str = ""  # wins over api_key_env
    ca_file: str = ""  # CA certificates (PEM) trusted beside the system's, for a self-signed remote engine
    model_dir: str = ""
    device: str = "auto"
    backend: str = "auto"
    dtype: str = "auto"
    core_factory: str = ""
    factory: str = ""
    restart_backoff_ms: int = 1000
    start_timeout_ms: int = 120_000
    idle_exit_seconds: int = int(EDITOR_IDLE_EXIT_S)  # a spawned engine exits this long after its last client; 0: never
    prompt_format: str = "auto"  # a format of engine/prompt/formats.toml (fim, chat, native) or auto
    prompt_template: str = ""  # a file holding a prompt template replacing the format's
    short_canvases: bool = False  # a model trained on one canvas length may denoise shorter ones

    def __post_init__(self) -> None:
        if self.mode not in ENGINE_MODES:
            raise ValueError(f"engine.mode must be one of {', '.join(ENGINE_MODES)}, got {self.mode!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"engine.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"engine.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not DEVICE_PATTERN.match(self.device):
            raise ValueError(f"engine.device must be auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        for name in ("core_factory", "factory"):
            value = getattr(self, name)
            if value and not FACTORY_PATTERN.match(value):
                raise ValueError(f"engine.{name} must read 'module:function', got {value!r}")
        if not ENV_NAME_PATTERN.match(self.api_key_env):
            raise ValueError(f"engine.api_key_env must name an environment variable, got {self.api_key_env!r}")
        if self.mode == "connect" and not self.socket:
            raise ValueError("engine.socket is required when engine.mode is 'connect'")
        if self.mode == "factory" and not self.factory:
            raise ValueError("engine.factory is required when engine.mode is 'factory'")
        _check_range("engine.restart_backoff_ms", self.restart_backoff_ms, 0, 600_000)
        _check_range("engine.start_timeout_ms", self.start_timeout_ms, 100, 3_600_000)
        _check_range("engine.idle_exit_seconds", self.idle_exit_seconds, 0, 604_800)
        try:
            self.launch()  # combinations the engine refuses (onnx with bf16) are refused here, by field name
            self.remote()
        except ValueError as exc:
            raise ValueError(f"engine.{exc}") from None

    def remote(self) -> RemoteEngine | None:
        """The remote engine ``url`` names (None without one); raise ValueError for a bad URL."""
        if not self.url:
            return None
        return RemoteEngine(
            url=self.url,
            api_key_env=self.api_key_env,
            api_key_file=Path(self.api_key_file) if self.api_key_file else None,
            ca_file=Path(self.ca_file) if self.ca_file else None,
        )

    def launch(self) -> EngineLaunch:
        """The engine launch these settings describe (the engine a "spawn" or "inproc" mode starts)."""
        return EngineLaunch(
            model_dir=Path(self.model_dir) if self.model_dir else None,
            device=self.device,
            backend=self.backend,
            dtype=self.dtype,
            idle_exit=float(self.idle_exit_seconds),
            prompt_format=self.prompt_format,
            prompt_template=Path(self.prompt_template) if self.prompt_template else None,
            short_canvases=self.short_canvases,
            core_factory=self.core_factory,
        )


PICK_RULES = ("confidence", "likelihood")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the language server can be told by the editor."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    debounce_policy: str = "auto"  # none | fixed | adaptive | auto (AUTO_DEBOUNCE_POLICY, by engine kind)
    debounce_ms: int = 30  # fixed: the wait; adaptive: the wait until the tempo is known; 0: never wait
    debounce_min_ms: int = 10  # the adaptive debounce stays within [min, max]
    debounce_max_ms: int = 250
    max_lines: int = 12
    max_steps: int = 16  # step budget of automatic (as-you-type) requests; 0: the engine default
    num_candidates: int = 1  # candidates of automatic requests
    invoked_steps: int = 64  # the "thinking" budget of explicitly invoked requests and edit commands
    invoked_candidates: int = 3  # candidates of an invoked request, for the user to cycle
    request_timeout_ms: int = 5000
    command_timeout_ms: int = 30_000  # edit commands (fill selection, complete body, docstring)
    prefix_chars: int = 4000
    suffix_chars: int = 1500
    cross_file_chars: int = 1500  # taken from prefix_chars for snippets of other files (repository context)
    # The context sources, each on or off with its time budget per request (ms).
    context_definitions: bool = True  # definitions of the names near the cursor, and imported ones
    context_definitions_ms: int = 10
    context_similar: bool = True  # the windows of open files most like the code before the cursor
    context_similar_ms: int = 10
    context_recent: bool = True  # the latest edits in other open documents
    context_recent_ms: int = 5
    # The workspace index: built in the background from the workspace folders.
    index_workspace: bool = True
    index_max_files: int = 20_000
    index_max_file_bytes: int = 1_000_000
    index_max_bytes: int = 200_000_000
    index_exclude: tuple[str, ...] = DEFAULT_EXCLUDE  # never read: glob patterns over names or relative paths
    index_cache: bool = True  # keep the index on disk between runs ($XDG_CACHE_HOME/infill/index)
    languages: tuple[str, ...] = ()  # empty: every language, plain text included
    completion_fallback: bool = False  # offer textDocument/completion even to inline-capable clients
    speculative: bool = False  # after a fill is shown, prefetch the fill for the state after accepting it
    warm: bool = True  # encode the prompt of the place the cursor rests at before a fill is asked there
    warm_delay_ms: int = 30  # how long a reported cursor rests at a new place before it is warmed
    event_log: bool = True  # keep accept/dismiss events in a local JSON-lines file (never sent anywhere)
    # Next edit (textDocument/copilotInlineEdit): the follow-up edit near the cursor.
    next_edit: bool = True
    next_edit_debounce_ms: int = 500  # the editors ask this long after the last change
    next_edit_lines_before: int = 5  # the region a suggestion may touch, in lines around the cursor's line
    next_edit_lines_after: int = 30
    next_edit_gate: float = 0.9  # the least confidence of the model's answer for a suggestion to be shown
    # A next edit on the cursor's line also as a textDocument/inlineCompletion item where no fill is offered
    # (for clients without copilotInlineEdit; editors that show next edits themselves turn it off).
    next_edit_inline_completion: bool = True
    # How several candidates are ordered: "likelihood" (the encoder's causal likelihood of each fill; on the
    # single-line split it picked 1.84% right against 1.74% by the denoiser's "confidence", BENCHMARKS.md).
    pick: str = "likelihood"
    # The gate: show a fill only when the denoiser's confidence reaches this. 0 by default: with the
    # embedded model, precision does not rise with confidence (BENCHMARKS.md), the fill layer's checks do.
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.pick not in PICK_RULES:
            raise ValueError(f"pick must be one of {', '.join(PICK_RULES)}, got {self.pick!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1], got {self.min_confidence}")
        if self.debounce_policy not in (*POLICIES, "auto"):
            raise ValueError(
                f"debounce_policy must be one of {', '.join((*POLICIES, 'auto'))}, got {self.debounce_policy!r}"
            )
        _check_range("debounce_ms", self.debounce_ms, 0, 5000)
        _check_range("debounce_min_ms", self.debounce_min_ms, 0, 5000)
        _check_range("debounce_max_ms", self.debounce_max_ms, self.debounce_min_ms, 5000)
        _check_range("max_lines", self.max_lines, 1, 1000)
        _check_range("max_steps", self.max_steps, 0, 10_000)
        _check_range("num_candidates", self.num_candidates, 1, 8)
        _check_range("invoked_steps", self.invoked_steps, 0, 10_000)
        _check_range("invoked_candidates", self.invoked_candidates, 1, 8)
        _check_range("request_timeout_ms", self.request_timeout_ms, 10, 600_000)
        _check_range("warm_delay_ms", self.warm_delay_ms, 0, 10_000)
        _check_range("next_edit_debounce_ms", self.next_edit_debounce_ms, 0, 10_000)
        _check_range("next_edit_lines_before", self.next_edit_lines_before, 0, 200)
        _check_range("next_edit_lines_after", self.next_edit_lines_after, 0, 200)
        if not 0.0 <= self.next_edit_gate <= 1.0:
            raise ValueError(f"next_edit_gate must lie in [0, 1], got {self.next_edit_gate}")
        _check_range("command_timeout_ms", self.command_timeout_ms, 10, 600_000)
        _check_range("prefix_chars", self.prefix_chars, 0, 1_000_000)
        _check_range("suffix_chars", self.suffix_chars, 0, 1_000_000)
        _check_range("cross_file_chars", self.cross_file_chars, 0, self.prefix_chars)
        for name in ("context_definitions_ms", "context_similar_ms", "context_recent_ms"):
            _check_range(name, getattr(self, name), 0, 1000)
        _check_range("index_max_files", self.index_max_files, 0, 1_000_000)
        _check_range("index_max_file_bytes", self.index_max_file_bytes, 0, 100_000_000)
        _check_range("index_max_bytes", self.index_max_bytes, 0, 10_000_000_000)

    @property
    def waiting_policy(self) -> str:
        """The debounce policy in force: ``debounce_policy``, with "auto" resolved by the engine's kind."""
        if self.debounce_policy != "auto":
            return self.debounce_policy
        shared = self.engine.url or self.engine.mode in ("spawn", "connect")
        return AUTO_DEBOUNCE_POLICY["shared" if shared else "local"]

    @property
    def request_timeout_s(self) -> float:
        return self.request_timeout_ms / 1000

    @property
    def command_timeout_s(self) -> float:
        return self.command_timeout_ms / 1000

    def index_limits(self) -> IndexLimits:
        return IndexLimits(max_files=self.index_max_files, max_file_bytes=self.index_max_file_bytes,
                           max_total_bytes=self.index_max_bytes, exclude=self.index_exclude)  # fmt: skip

    def language_enabled(self, name: str | None) -> bool:
        return not self.languages or (name or "text") in self.languages


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Return ``value`` as the type of ``default``; raise ValueError naming ``name`` otherwise."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple):
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ValueError(f"{name} must be {_type_name(default)}, got {value!r}")


def _type_name(default: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", tuple: "a list of strings"}
    return names.get(type(default), type(default).__name__)


def _merge(cls: type, base: Any, raw: dict[str, Any], prefix: str, warnings: list[str]) -> Any:
    """Build ``cls`` from ``base`` with the fields of ``raw``, dropping (and reporting) bad ones."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _snake(str(key))
        if name not in fields or name == "engine":
            if name != "engine":
                warnings.append(f"unknown setting {prefix}{key!r} ignored")
            continue
        try:
            values[name] = _coerce(f"{prefix}{name}", value, getattr(base, name))
        except ValueError as exc:
            warnings.append(f"{exc}; using {getattr(base, name)!r}")
    try:  # all at once first: some fields are only valid together (mode "connect" needs a socket)
        return dataclasses.replace(base, **values)
    except ValueError:
        pass
    accepted: dict[str, Any] = {}
    pending = dict(values)
    progress = True
    while pending and progress:  # then field by field, so one bad value does not discard the rest
        progress = False
        for name, value in list(pending.items()):
            try:
                dataclasses.replace(base, **accepted, **{name: value})
            except ValueError:
                continue
            accepted[name] = pending.pop(name)
            progress = True
    for name, value in pending.items():
        try:
            dataclasses.replace(base, **accepted, **{name: value})
        except ValueError as exc:
            warnings.append(f"{exc}; using {getattr(base, name)!r}")
    return dataclasses.replace(base, **accepted)


# Flat names editors commonly use, mapped to the field they set ("engine." fields go to the engine).
ALIASES = {
    "automatic_steps": "max_steps",
    "thinking_steps": "invoked_steps",
    "model": "engine.model_dir",
    "model_dir": "engine.model_dir",
    "device": "engine.device",
    "backend": "engine.backend",
    "dtype": "engine.dtype",
    "socket": "engine.socket",
    "engine_socket": "engine.socket",
}


def _resolve_aliases(raw: dict[str, Any]) -> dict[str, Any]:
    """Return ``raw`` with alias keys moved to their fields; explicit fields win over aliases."""
    out = {k: v for k, v in raw.items() if _snake(str(k)) not in ALIASES}
    engine = dict(raw["engine"]) if isinstance(raw.get("engine"), dict) else None
    for key, value in raw.items():
        target = ALIASES.get(_snake(str(key)))
        if target is None:
            continue
        if target.startswith("engine."):
            if engine is None and "engine" in raw:
                continue  # a malformed engine object is reported as such
            engine = engine if engine is not None else {}
            name = target.removeprefix("engine.")
            if name not in {_snake(str(k)) for k in engine}:
                engine[name] = value
        else:
            out.setdefault(target, value)
    if engine is not None:
        out["engine"] = engine
    return out


# What clients of the Copilot language server send it (copilot-lsp, for the next edit): accepted quietly.
COPILOT_CLIENT_INFO = ("editorInfo", "editorPluginInfo", "editorConfiguration", "networkProxy", "githubAppId")


def _copilot_client_options(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` without the Copilot client's own information, its ``nextEditSuggestions.enabled`` read as
    ``nextEdit``."""
    raw = {key: value for key, value in raw.items() if key not in COPILOT_CLIENT_INFO}
    suggestions = raw.pop("nextEditSuggestions", None)
    if isinstance(suggestions, dict) and isinstance(suggestions.get("enabled"), bool) and "nextEdit" not in raw:
        raw["nextEdit"] = suggestions["enabled"]
    return raw


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Return settings read from editor-provided ``raw`` on top of ``base``, and warnings about it."""
    base = base or Settings()
    warnings: list[str] = []
    if raw is None:
        return base, warnings
    if not isinstance(raw, dict):
        return base, [f"settings must be an object, got {type(raw).__name__}; using defaults"]
    if isinstance(raw.get("infill"), dict):
        raw = raw["infill"]
    raw = _copilot_client_options(raw)
    raw = _resolve_aliases(raw)
    engine = base.engine
    raw_engine = raw.get("engine")
    if isinstance(raw_engine, dict):
        engine = _merge(EngineSettings, base.engine, raw_engine, "engine.", warnings)
    elif raw_engine is not None:
        warnings.append(f"engine must be an object, got {raw_engine!r}; using the previous engine settings")
    settings = _merge(Settings, dataclasses.replace(base, engine=engine), raw, "", warnings)
    return settings, warnings
