"""How to launch an engine: one typed object that every command line, the editor settings and the spawner share.

``EngineLaunch`` names the model directory, device, backend and dtype, and the settings of an engine
process (idle exit, the test-only core factory). Commands expose the same flags through
``add_arguments`` / ``from_args``; ``to_argv`` hands a launch to a spawned ``python -m engine``, and
``load_core`` builds the core in this process. Nothing here imports torch, so the language server can
hold a launch without loading it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.protocol import STOP_RULES

if TYPE_CHECKING:
    from engine.core.config import EngineConfig
    from engine.host.loop import EngineCore
    from engine.protocol import StatusReply, Welcome

BACKENDS = ("auto", "torch", "onnx")  # auto is torch everywhere (see engine.core.loading.load_core)
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
FACTORY_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
ONNX_EXTRA_MISSING = (
    "the onnx backend needs onnxruntime and onnx, which are not installed: pip install 'infill-diffusion[onnx]'"
)
EMBEDDED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "infill-small"
EDITOR_IDLE_EXIT_S = 300.0  # an engine spawned for editors exits this long after its last client left


def onnx_available() -> bool:
    """Whether the ``onnx`` extra is installed (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineLaunch:
    """What an engine serves and how: one value from the command line or the editor down to ``load_core``."""

    model_dir: Path | None = None  # None: the embedded model
    device: str = "auto"  # auto: cuda when torch sees a GPU, else cpu
    backend: str = "auto"  # auto (torch), torch, or onnx (the ``onnx`` extra)
    dtype: str = "auto"  # auto: bf16 where the device multiplies it natively, else fp32
    idle_exit: float = 0.0  # an engine process exits after this many seconds without clients (0: never)
    prompt_format: str = "auto"  # a format of engine/prompt/formats.toml, or auto (chosen by the tokenizer)
    prompt_template: Path | None = None  # a file holding a prompt template that replaces the format's
    short_canvases: bool = False  # let a model trained on one canvas length denoise shorter ones
    stop_rule: str = "shown"  # generate policy: stop on what is shown, or on the whole canvas as generate()
    step_seconds: str = "auto"  # a step's time target (EngineConfig.step_seconds): "auto" or seconds
    carry_chars: int | None = None  # typed characters carried on the canvas (EngineConfig.carry_chars); None: default
    core_factory: str = ""  # TESTING ONLY: "module:function" building the core instead of load_core

    def __post_init__(self) -> None:
        if self.model_dir is not None and not isinstance(self.model_dir, Path):
            raise ValueError(f"model_dir must be a Path or None, got {self.model_dir!r}")
        if not DEVICE_PATTERN.match(self.device):
            raise ValueError(f"device must be auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.backend == "onnx" and self.dtype not in ("auto", "float32"):
            raise ValueError(f"dtype must be auto or float32 with the onnx backend (fp32 graphs), got {self.dtype!r}")
        if not self.idle_exit >= 0:
            raise ValueError(f"idle_exit must be >= 0 seconds, got {self.idle_exit!r}")
        if self.core_factory and not FACTORY_PATTERN.match(self.core_factory):
            raise ValueError(f"core_factory must read 'module:function', got {self.core_factory!r}")
        if self.stop_rule not in STOP_RULES:
            raise ValueError(f"stop_rule must be one of {', '.join(STOP_RULES)}, got {self.stop_rule!r}")
        if self.step_seconds != "auto" and not _seconds(self.step_seconds) >= 0:
            raise ValueError(f"step_seconds must be auto or seconds >= 0, got {self.step_seconds!r}")
        if self.carry_chars is not None and (isinstance(self.carry_chars, bool) or not isinstance(self.carry_chars, int)
                                             or self.carry_chars < 0):
            raise ValueError(f"carry_chars must be a whole number >= 0, got {self.carry_chars!r}")
        if not re.fullmatch(r"[a-z_]+", self.prompt_format):
            raise ValueError(
                f"prompt_format must name a format of engine/prompt/formats.toml or auto, got {self.prompt_format!r}"
            )
        if self.prompt_template is not None and not isinstance(self.prompt_template, Path):
            raise ValueError(f"prompt_template must be a Path or None, got {self.prompt_template!r}")

    def spawned(self) -> EngineLaunch:
        """This launch for an engine a command starts in the background and leaves behind: with no idle exit
        of its own, it exits like an editor's (EDITOR_IDLE_EXIT_S after its last client)."""
        return self if self.idle_exit else dataclasses.replace(self, idle_exit=EDITOR_IDLE_EXIT_S)

    # ---- command lines ----------------------------------------------------------------------------

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser | Any, *, process: bool = False) -> None:
        """Add ``--model --device --backend --dtype`` to ``parser`` (a parser or an argument group);
        ``process`` adds the engine process's own ``--idle-exit``, ``--step-seconds`` and ``--core-factory``."""
        parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                            help="model directory (default: the embedded model)")
        parser.add_argument("--device", type=_device_arg, default="auto",
                            help="auto, cpu, cuda, cuda:N or mps (default auto: cuda if present, else cpu)")
        parser.add_argument("--backend", type=_backend_arg, default="auto", metavar="{" + ",".join(BACKENDS) + "}",
                            help="default auto: torch; onnx needs the onnx extra")
        parser.add_argument("--dtype", type=_choice_arg("dtype", DTYPES), default="auto",
                            metavar="{" + ",".join(DTYPES) + "}",
                            help="weights dtype (default auto: bf16 where the device multiplies it natively)")
        parser.add_argument("--prompt-format", default="auto", metavar="NAME",
                            help="prompt format of engine/prompt/formats.toml: fim, chat, native "
                                 "(default auto: by the tokenizer)")
        parser.add_argument("--prompt-template", type=Path, default=None, metavar="FILE",
                            help="a prompt template replacing the format's ({prefix} {suffix} {context} {language})")
        parser.add_argument("--short-canvases", action="store_true",
                            help="let a model trained on one canvas length (256) denoise the shorter lengths "
                                 "holes ask for")
        parser.add_argument("--stop-rule", choices=STOP_RULES, default="shown",
                            help="when a canvas of the generate() sampler is done: once what the user sees is stable "
                            "and confident (default), or once the whole canvas is, as transformers' generate()")
        parser.add_argument("--carry-chars", type=int, default=None, metavar="N",
                            help="a request that only adds up to N characters on its line to the document's last "
                                 "encoded prompt reuses that encoding whole, the typed text held at the start of "
                                 "the canvas (default 16; 0: encode every request's own prompt)")
        if process:
            parser.add_argument("--step-seconds", default="auto", metavar="SECONDS",
                                help="about how long one denoising step may take while several clients have work, "
                                     "so a request that arrives never waits long for another's step in flight "
                                     "(default auto: 0.1 on a CPU, no bound on a GPU; 0: no bound)")
            parser.add_argument("--idle-exit", type=float, default=0.0, metavar="SECONDS",
                                help="exit after this long with no clients (0: never)")
            # Tests only: build the core with this function instead of engine.core.loading.load_core.
            parser.add_argument("--core-factory", default="", metavar="MODULE:FUNCTION", help=argparse.SUPPRESS)

    @classmethod
    def from_args(cls, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> EngineLaunch:
        """The launch the flags of :meth:`add_arguments` describe; with ``parser``, a bad combination of
        them is reported through ``parser.error`` (exit status 2) instead of raising ValueError."""
        try:
            launch = cls(
                model_dir=args.model,
                device=args.device,
                backend=args.backend,
                dtype=args.dtype,
                idle_exit=getattr(args, "idle_exit", 0.0),
                prompt_format=getattr(args, "prompt_format", "auto"),
                prompt_template=getattr(args, "prompt_template", None),
                short_canvases=getattr(args, "short_canvases", False),
                stop_rule=getattr(args, "stop_rule", "shown"),
                step_seconds=getattr(args, "step_seconds", "auto"),
                carry_chars=getattr(args, "carry_chars", None),
                core_factory=getattr(args, "core_factory", "") or "",
            )
            if parser is not None and launch.prompt_template is not None and not launch.prompt_template.is_file():
                raise FileNotFoundError(f"--prompt-template: {launch.prompt_template} is not a file")
            if parser is not None and launch.model_dir is not None and not launch.core_factory:
                from engine.model.files import check_model_dir

                check_model_dir(launch.model_dir)
            return launch
        except (ValueError, FileNotFoundError) as exc:
            if parser is None:
                raise
            parser.error(str(exc))

    def to_argv(self) -> list[str]:
        """Flags for ``python -m engine`` that give it this launch (defaults left out; the model path absolute)."""
        argv: list[str] = []
        if self.model_dir is not None:
            argv += ["--model", str(self.model_dir.absolute())]
        for flag, value in (("--device", self.device), ("--backend", self.backend), ("--dtype", self.dtype)):
            if value != "auto":
                argv += [flag, value]
        if self.idle_exit:
            argv += ["--idle-exit", repr(self.idle_exit)]
        if self.prompt_format != "auto":
            argv += ["--prompt-format", self.prompt_format]
        if self.prompt_template is not None:
            argv += ["--prompt-template", str(self.prompt_template.absolute())]
        if self.short_canvases:
            argv += ["--short-canvases"]
        if self.stop_rule != "shown":
            argv += ["--stop-rule", self.stop_rule]
        if self.step_seconds != "auto":
            argv += ["--step-seconds", self.step_seconds]
        if self.carry_chars is not None:
            argv += ["--carry-chars", str(self.carry_chars)]
        if self.core_factory:
            argv += ["--core-factory", self.core_factory]
        return argv

    def resolved_model_dir(self) -> Path:
        """The absolute model directory this launch serves (the embedded model's when none is named)."""
        return self.model_dir.resolve() if self.model_dir is not None else EMBEDDED_MODEL_DIR

    def mismatches(self, welcome: Welcome) -> list[str]:
        """How the engine that sent ``welcome`` differs from this launch, one phrase per setting
        (empty when it serves what this launch asks for). What the launch leaves open (no model directory,
        ``auto``) matches whatever the engine serves; what an older engine does not announce is not compared."""
        differences: list[str] = []
        named, served = self.model_dir, welcome.model_dir
        if named is not None and served and Path(served).resolve() != named.resolve():
            differences.append(f"model {self.resolved_model_dir()} (the engine serves {welcome.model_dir})")
        if self.device != "auto" and not _same_device(self.device, welcome.device):
            differences.append(f"device {self.device} (the engine runs on {welcome.device})")
        if self.backend not in ("auto", welcome.backend):
            differences.append(f"backend {self.backend} (the engine runs {welcome.backend})")
        if self.dtype != "auto" and welcome.dtype and self.dtype != welcome.dtype:
            differences.append(f"dtype {self.dtype} (the engine's weights are {welcome.dtype})")
        return differences

    def keeping(self, running: Welcome | StatusReply) -> EngineLaunch:
        """This launch with what it leaves open (no model directory, ``auto``) taken from the engine
        ``running``, so that restarting starts the same engine afresh."""
        fields: dict[str, Any] = {}
        if self.model_dir is None and running.model_dir and Path(running.model_dir) != EMBEDDED_MODEL_DIR:
            fields["model_dir"] = Path(running.model_dir)
        if self.device == "auto" and DEVICE_PATTERN.match(running.device):
            fields["device"] = running.device
        if self.backend == "auto" and running.backend in BACKENDS:
            fields["backend"] = running.backend
        if self.dtype == "auto" and running.dtype in DTYPES:
            fields["dtype"] = running.dtype
        try:
            return dataclasses.replace(self, **fields)
        except ValueError:  # a combination the running engine got to but a launch refuses: keep ours
            return self

    # ---- in this process ----------------------------------------------------------------------------

    def load_core(self, config: EngineConfig | None = None) -> EngineCore:
        """Build the core this launch describes, in this process (imports torch)."""
        if self.backend == "onnx" and not self.core_factory and not onnx_available():
            raise RuntimeError(ONNX_EXTRA_MISSING)
        load = self._core_loader()
        options: dict[str, Any] = {"device": self.device, "backend": self.backend, "dtype": self.dtype}
        if (config is not None or self.prompt_format != "auto" or self.prompt_template or self.short_canvases
                or self.stop_rule != "shown" or self.step_seconds != "auto" or self.carry_chars is not None):
            options["config"] = self.engine_config(config)
        return load(self.model_dir, **options)

    def engine_config(self, base: EngineConfig | None = None) -> EngineConfig:
        """``base`` (default: the engine's defaults) with this launch's prompt settings."""
        from engine.core.config import EngineConfig

        template = self.prompt_template.read_text(encoding="utf-8") if self.prompt_template else ""
        base = base or EngineConfig()
        if self.carry_chars is not None:
            base = dataclasses.replace(base, carry_chars=self.carry_chars)
        return dataclasses.replace(base, prompt_format=self.prompt_format,
                                   prompt_template=template, short_canvases=self.short_canvases,
                                   stop_rule=self.stop_rule,
                                   step_seconds=self.step_seconds if self.step_seconds == "auto"
                                   else _seconds(self.step_seconds))

    def _core_loader(self) -> Callable[..., EngineCore]:
        module_name, _, name = (self.core_factory or "engine.core.loading:load_core").partition(":")
        return getattr(importlib.import_module(module_name), name)


def _seconds(text: str) -> float:
    """``text`` as a finite number of seconds; NaN (which compares false) when it is not one."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return float("nan")
    return value if value < float("inf") else float("nan")


def _same_device(asked: str, serving: str) -> bool:
    """Whether an engine on ``serving`` honours a request for ``asked`` ("cuda" is any cuda:N, and "cuda:0")."""
    if asked == serving:
        return True
    if asked == "cuda":
        return serving.startswith("cuda")
    return asked == "cuda:0" and serving == "cuda"


def _choice_arg(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def _device_arg(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise argparse.ArgumentTypeError(f"device must be auto, cpu, mps, cuda or cuda:N, got {value!r}")
    return value


def _backend_arg(value: str) -> str:
    value = _choice_arg("backend", BACKENDS)(value)
    if value == "onnx" and not onnx_available():
        raise argparse.ArgumentTypeError(ONNX_EXTRA_MISSING)
    return value
