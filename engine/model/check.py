"""``infill engine --check``: what a model directory is and how the engine would serve it, without loading it.

Reads ``config.json``, ``generation_config.json`` and the card only (no weights): the directory's kind,
the prompt format, dtype and device, canvas length, the generation config's values, and the memory plan
against the device's free memory.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.core.config import EngineConfig
from engine.host.launch import EngineLaunch
from engine.model.checkpoint import (
    check_model_dir,
    check_quantization_support,
    default_model_dir,
    read_model_card,
    resolve_device,
    resolve_dtype,
)
from engine.model.memory_plan import MemoryPlanError, available_bytes, plan_memory, read_config, require_fits

EXIT_OK = 0
EXIT_BAD_DIR = 1
EXIT_WONT_FIT = 2


def format_name(model_dir: Path, name: str = "auto") -> str:
    """The prompt format the engine would use for ``model_dir`` (``engine.prompt.formats``), if that is known."""
    try:
        from engine.prompt.formats import format_name_for
    except ImportError:
        return "(unknown)"
    try:
        return str(format_name_for(model_dir, name))
    except Exception as exc:  # a directory no format serves is still worth the rest of the report
        return f"(none: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def directory_kind(model_dir: Path, card: dict, quantized: str) -> str:
    if card:
        kind = f"infill model directory (card: {card.get('name', '?')}, trained: {card.get('trained', True)})"
    else:
        kind = "published DiffusionGemma checkpoint (no infill_model.json; card derived from the directory)"
    shards = len(list(model_dir.glob("*.safetensors")))
    kind += f", {shards} safetensors file{'s' if shards != 1 else ''}"
    return kind + (f", quantized ({quantized})" if quantized else "")


def generation_values(model_dir: Path) -> str:
    """The sampling values of ``generation_config.json`` on one line ('(none)' without one)."""
    path = model_dir / "generation_config.json"
    if not path.is_file():
        return "(none)"
    gen = json.loads(path.read_text())
    sampler = gen.get("sampler_config") or {}
    values = {
        "max_denoising_steps": gen.get("max_denoising_steps"),
        "entropy_bound": sampler.get("entropy_bound"),
        "temperature": f"{gen['t_max']} -> {gen['t_min']}" if gen.get("t_max") is not None else None,
        "stability_threshold": gen.get("stability_threshold"),
        "confidence_threshold": gen.get("confidence_threshold"),
        "eos": gen.get("eos_token_id"),
    }
    return ", ".join(f"{name} {value}" for name, value in values.items() if value is not None) or "(no values)"


def sampling_policy(model_dir: Path, stop_rule: str = "shown") -> str:
    """Which sampler the engine runs for this directory: generate()'s when its generation_config.json sets
    sampling values (with the engine's stop rule), else the engine's own."""
    from engine.core.sampler import GenerateConfig

    path = model_dir / "generation_config.json"
    raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if GenerateConfig.from_generation_config(raw) is not None:
        stop = ("stops once what is shown is stable and confident" if stop_rule == "shown"
                else "stops once the whole canvas is, as generate()")
        return f"generate (transformers' generate() sampler, from generation_config.json; {stop})"
    return "engine (final decisions, confidence stop; no sampling values in generation_config.json)"


def check_lines(launch: EngineLaunch, config: EngineConfig | None = None) -> tuple[list[str], int]:
    """The report's lines and the exit status (0; 2 when the plan does not fit). Raises for a directory
    that is missing, empty or not a DiffusionGemma model."""
    model_dir = check_model_dir(launch.model_dir or default_model_dir())
    model_config = read_config(model_dir)
    if model_config.model_type != "diffusion_gemma":
        raise ValueError(f"{model_dir} holds a {model_config.model_type!r} model, not diffusion_gemma")
    quantized = check_quantization_support(model_config)
    device = resolve_device(launch.device)
    dtype = resolve_dtype(launch.dtype, device)
    plan = plan_memory(model_config, dtype, config)
    free = available_bytes(device)
    lines = [
        f"model: {model_dir}",
        f"kind: {directory_kind(model_dir, read_model_card(model_dir), quantized)}",
        f"format: {format_name(model_dir, launch.prompt_format)}",
        f"dtype: {plan.dtype}",
        f"device: {device}",
        f"canvas length: {model_config.canvas_length}",
        f"generation config: {generation_values(model_dir)}",
        f"sampling policy: {sampling_policy(model_dir, launch.engine_config(config).stop_rule)}",
        *(f"memory plan: {line}" for line in plan.lines()),
    ]
    status = EXIT_OK
    try:
        require_fits(plan, device, free)
        if free is None:
            lines.append(f"fits: unknown (the free memory of {device} is not known)")
        else:
            lines.append(f"fits: yes ({free / 2**30:.2f} GiB free on {device})")
    except MemoryPlanError as exc:
        lines.append(f"fits: no: {exc}")
        status = EXIT_WONT_FIT
    return lines, status


def run_check(launch: EngineLaunch, config: EngineConfig | None = None) -> int:
    """Print the report for ``launch`` and return the exit status (a one-line reason for a bad directory)."""
    try:
        lines, status = check_lines(launch, config)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"infill engine --check: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return EXIT_BAD_DIR
    print("\n".join(lines))
    return status
