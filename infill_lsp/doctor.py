"""``infill doctor``: check an installation part by part and say, for each problem, how to fix it.

Python and the packages, torch's build and the GPUs it sees (asked in a subprocess, so this module never
imports torch), the model directory, the socket folder, a running engine, the grammars and the ``infill``
command; with ``--workspace``, the workspace index of a folder. Exit status 0 when nothing is wrong, 1 when
something is.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from engine.host.launch import EMBEDDED_MODEL_DIR
from infill_lsp.json_stdout import stdout_to_stderr
from infill_lsp.version import DISTRIBUTION

OK, NOTE, PROBLEM = "ok", "note", "problem"
MIN_PYTHON = (3, 11)
REQUIRED = ("torch", "transformers", "tokenizers", "safetensors", "msgspec", "pygls", "lsprotocol", "numpy",
            "tree-sitter")  # fmt: skip
OPTIONAL = {"onnxruntime": "the onnx backend", "onnx": "the onnx backend"}
TORCH_PROBE_TIMEOUT_S = 120.0
CUDA_TORCH_FIX = (
    "replace it by PyPI's build, which is the CUDA build on Linux x86_64: .venv/bin/pip uninstall -y torch && "
    "PIP_CONFIG_FILE=/dev/null .venv/bin/pip install 'torch==2.13.0' (no pip.conf pointing at a local CPU "
    "wheel; README, 'Running on a GPU')"
)
_TORCH_PROBE = r"""
import json, torch
info = {"version": torch.__version__, "cuda": torch.version.cuda, "devices": []}
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        info["devices"].append({"name": torch.cuda.get_device_name(i), "free": free, "total": total})
mps = getattr(torch.backends, "mps", None)
info["mps"] = bool(mps is not None and mps.is_available())
print(json.dumps(info))
"""


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: what was checked, how it stands, and the fix when it is a problem."""

    part: str
    level: str
    message: str
    fix: str = ""


def check_python() -> list[Finding]:
    found = f"Python {sys.version.split()[0]} ({sys.executable})"
    if sys.version_info[:2] < MIN_PYTHON:
        return [Finding("python", PROBLEM, found, "infill needs Python 3.11 or newer: make a venv with python3.11")]
    return [Finding("python", OK, found)]


def check_packages() -> list[Finding]:
    findings: list[Finding] = []
    try:
        findings.append(Finding("packages", OK, f"{DISTRIBUTION} {version(DISTRIBUTION)}"))
    except PackageNotFoundError:
        findings.append(Finding("packages", NOTE, f"{DISTRIBUTION} is not installed: running from a source tree"))
    versions, missing = [], []
    for name in REQUIRED:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            missing.append(name)
    findings.append(Finding("packages", OK, ", ".join(versions)))
    if missing:
        findings.append(Finding("packages", PROBLEM, f"missing: {', '.join(missing)}",
                                f"pip install '{DISTRIBUTION}' (or make setup in a clone) installs them"))
    absent = sorted({why for name, why in OPTIONAL.items() if importlib.util.find_spec(name) is None})
    for why in absent:
        findings.append(Finding("packages", NOTE, f"{why} is not installed (optional): "
                                f"pip install '{DISTRIBUTION}[onnx]'"))
    return findings


def check_torch(probe: str = _TORCH_PROBE, gpu_present: bool | None = None) -> list[Finding]:
    """torch's build and the accelerators it sees, asked of a fresh interpreter."""
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=TORCH_PROBE_TIMEOUT_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        return [Finding("torch", PROBLEM, f"importing torch took over {TORCH_PROBE_TIMEOUT_S:g}s",
                        "check the disk and the install: python -c 'import torch'")]
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [Finding("torch", PROBLEM, f"torch does not import: {tail}",
                        "pip install 'torch==2.13.0' into this environment")]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    build = f"CUDA {info['cuda']} build" if info["cuda"] else "CPU build"
    findings = [Finding("torch", OK, f"torch {info['version']} ({build})")]
    for index, device in enumerate(info["devices"]):
        findings.append(Finding("torch", OK, f"cuda:{index} {device['name']}: {device['free'] / 2**30:.1f} GiB free "
                                f"of {device['total'] / 2**30:.1f} GiB"))
    if info["mps"]:
        findings.append(Finding("torch", OK, "Apple MPS is available (--device mps)"))
    gpu_present = nvidia_gpu_present() if gpu_present is None else gpu_present
    if not info["devices"]:
        if gpu_present and not info["cuda"]:
            findings.append(Finding("torch", PROBLEM, "this machine has an NVIDIA GPU but torch is a CPU build",
                                    CUDA_TORCH_FIX))
        elif gpu_present:
            findings.append(Finding("torch", PROBLEM, "torch is a CUDA build but sees no GPU",
                                    "check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"))
        elif not info["mps"]:
            findings.append(Finding("torch", NOTE, "no GPU: the engine runs on the CPU (fine for the embedded "
                                    "model; a large checkpoint needs a GPU)"))
    return findings


def nvidia_gpu_present() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def check_model(model_dir: Path | None) -> list[Finding]:
    """A model directory as the engine reads it: config, safetensors weights, tokenizer, card."""
    path = model_dir.resolve() if model_dir is not None else EMBEDDED_MODEL_DIR
    label = f"model {path}" + (" (embedded)" if model_dir is None else "")
    if not path.is_dir():
        return [Finding("model", PROBLEM, f"{label} is not a directory",
                        "pass --model DIR with a DiffusionGemma model directory (config.json, *.safetensors)")]
    problems = []
    if not (path / "config.json").is_file():
        problems.append(Finding("model", PROBLEM, f"{label} has no config.json",
                                "a model directory holds config.json beside its weights"))
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pt")]
        problems.append(Finding("model", PROBLEM, f"{label} holds no .safetensors weights"
                                + (f" (only {', '.join(pickled)}, which the engine refuses)" if pickled else ""),
                                "convert the weights to safetensors (pickled weights can run code, so are refused)"))
    if not (path / "tokenizer.json").is_file():
        problems.append(Finding("model", PROBLEM, f"{label} has no tokenizer.json",
                                "copy the tokenizer the model was trained with (tokenizer.json) beside its weights"))
    if problems:
        return problems
    size = sum(p.stat().st_size for p in weights)
    described = f"{label}: {len(weights)} safetensors file(s), {size / 2**20:.1f} MiB"
    card_path = path / "infill_model.json"
    if not card_path.is_file():
        return [Finding("model", OK, described), Finding("model", NOTE, "no card (infill_model.json): a foreign "
                        "checkpoint, served as a DiffusionGemma model with the default prompt layout")]
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as exc:
        return [Finding("model", PROBLEM, f"{card_path} does not read: {exc}",
                        "restore the card from the repository, or remove it to serve the checkpoint without one")]
    findings = [Finding("model", OK, f"{described}; card format {card.get('format', '?')}, "
                        f"{card.get('name', path.name)}, {card.get('architecture', '?')}")]
    if card.get("trained") is False:
        findings.append(Finding("model", NOTE, "the card says this model is untrained: its fills are noise"))
    elif model_dir is None:
        findings.append(Finding("model", NOTE, "the embedded model is small and briefly trained: it exercises "
                                "the whole product, but its fills are rarely right (README, 'The embedded model')"))
    return findings


def check_socket_folder(socket_path: Path) -> list[Finding]:
    """The folder engines listen in: ours, private (0700), and a socket path short enough for AF_UNIX."""
    from engine.host.server import MAX_SOCKET_PATH_BYTES as limit

    folder = socket_path.parent
    findings: list[Finding] = []
    if len(os.fsencode(socket_path)) > limit:
        findings.append(Finding("socket", PROBLEM, f"socket path {socket_path} is longer than {limit} bytes",
                                "set engine.socket (or --socket) to a shorter path"))
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        parent = next((p for p in folder.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK):
            return [*findings, Finding("socket", OK, f"{folder} does not exist yet (the first engine makes it, 0700)")]
        return [*findings, Finding("socket", PROBLEM, f"{folder} does not exist and {parent} is not writable",
                                   f"create it: mkdir -m 700 -p {folder}, or set XDG_RUNTIME_DIR")]
    if not stat.S_ISDIR(st.st_mode):
        return [*findings, Finding("socket", PROBLEM, f"{folder} is not a directory (a symlink is refused too)",
                                   f"remove it: rm {folder}")]
    if st.st_uid != os.geteuid():
        return [*findings, Finding("socket", PROBLEM, f"{folder} belongs to uid {st.st_uid}, not to you",
                                   "use a folder of your own: set XDG_RUNTIME_DIR, or engine.socket / --socket")]
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return [*findings, Finding("socket", PROBLEM, f"{folder} has mode {mode:04o}; engines need it private",
                                   f"chmod 700 {folder}")]
    return [*findings, Finding("socket", OK, f"{folder}: yours, mode {mode:04o}")]


def check_engine(socket_path: Path) -> list[Finding]:
    """The engine listening on ``socket_path``, if any, and what it serves (asked, never started)."""
    return asyncio.run(_ask_engine(socket_path))


async def _ask_engine(socket_path: Path) -> list[Finding]:
    from engine.clients.interface import EngineError, EngineUnavailable
    from engine.clients.unix_socket import EngineNotListening, SocketEngineClient

    log_note = f"its log: {socket_path.with_suffix('.log')}"
    client = SocketEngineClient(socket_path, client_name="infill-doctor", request_timeout=10.0)
    try:
        await client.start()
    except EngineNotListening:
        return [Finding("engine", OK, f"no engine is running on {socket_path} (editors start one when they need it)")]
    except EngineUnavailable as exc:
        return [Finding("engine", PROBLEM, f"the engine on {socket_path} does not answer properly: {exc}",
                        f"infill engine restart --socket {socket_path} ({log_note})")]
    try:
        reply = await client.status(timeout=10.0)
    except (EngineError, EngineUnavailable) as exc:
        return [Finding("engine", PROBLEM, f"the engine on {socket_path} does not report its status: {exc}",
                        f"infill engine restart --socket {socket_path} ({log_note})")]
    finally:
        await client.close()
    return [Finding("engine", OK, f"engine pid {reply.pid}: {reply.model_name} on {reply.device} "
                    f"({reply.backend}, {reply.dtype or 'dtype unknown'}), {reply.rss_bytes / 2**20:.0f} MiB, "
                    f"{max(0, reply.clients - 1)} client(s); {log_note}")]


def check_grammars() -> list[Finding]:
    from grammars import load_table
    from infill_lsp.languages import GrammarError, compile_language

    compiled, findings = [], []
    for name, entry in load_table().items():
        try:
            compile_language(entry)
        except GrammarError as exc:
            package = entry.grammar_module.replace("_", "-")
            findings.append(Finding("grammars", PROBLEM, str(exc),
                                    f"reinstall the grammar: pip install --force-reinstall {package}"))
        else:
            compiled.append(name)
    if not compiled:
        return findings
    return [Finding("grammars", OK, f"{len(compiled)} compile: {', '.join(compiled)}"), *findings]


def check_command() -> list[Finding]:
    """Whether editors started outside this environment find ``infill`` on PATH."""
    found = shutil.which("infill")
    here = Path(sys.executable).parent / "infill"
    if found:
        return [Finding("command", OK, f"infill on PATH: {found}")]
    where = str(here) if here.exists() else "the infill script of this environment"
    return [Finding("command", NOTE, f"infill is not on PATH: editors need its full path ({where}) in their "
                    "server setting (VS Code infill.serverPath, Neovim setup{cmd = ...})")]


def check_workspace(folder: Path) -> list[Finding]:
    """Index ``folder`` as the language server would, and say what its workspace index holds."""
    from infill_lsp.config import Settings
    from infill_lsp.workspace import WorkspaceIndex
    from infill_lsp.workspace.cache import cache_if

    if not folder.is_dir():
        return [Finding("workspace", PROBLEM, f"{folder} is not a folder", "give --workspace an existing folder")]
    settings = Settings()
    index = WorkspaceIndex([folder], settings.index_limits(), cache=cache_if(settings.index_cache))
    index.build_now()
    info = index.status()
    skipped = ", ".join(f"{n} {why}" for why, n in info["skipped"].items()) or "none"  # type: ignore[union-attr]
    message = (f"index of {folder}: {info['files']} files, {info['lines']} lines, {info['definitions']} definitions "
               f"in {info['build_seconds']} s ({info['from_cache']} unchanged, from the cache); skipped: {skipped}")
    if info["capped"]:
        return [Finding("workspace", NOTE, f"{message}; stopped at the {info['capped']} cap",
                        "raise indexMaxFiles / indexMaxBytes, or git-ignore generated folders")]
    return [Finding("workspace", OK, message)]


def run_checks(model_dir: Path | None, socket_path: Path) -> list[Finding]:
    findings = [*check_python(), *check_packages(), *check_torch(), *check_model(model_dir),
                *check_socket_folder(socket_path)]  # fmt: skip
    if not any(f.part == "socket" and f.level == PROBLEM for f in findings):
        findings += check_engine(socket_path)
    return [*findings, *check_grammars(), *check_command()]


def as_json(finding: Finding) -> dict[str, str]:
    """A finding as a JSON object: ``part``, ``level``, ``message``, and ``fix`` only when there is one."""
    return {k: v for k, v in asdict(finding).items() if k != "fix" or v}


def render(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        label = {OK: "ok", NOTE: "note", PROBLEM: "PROBLEM"}[finding.level]
        lines.append(f"{label:8} {finding.part:9} {finding.message}")
        if finding.fix:
            lines.append(f"{'':8} {'':9} fix: {finding.fix}")
    problems = sum(f.level == PROBLEM for f in findings)
    lines.append(f"\n{problems} problem(s)" if problems else "\nall good")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from engine.host.server import default_socket_path

    parser = argparse.ArgumentParser(prog="infill doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, metavar="DIR", help="model directory (default: embedded)")
    parser.add_argument("--socket", type=Path, default=None, help=f"socket path (default: {default_socket_path()})")
    parser.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                        help="also index this folder as the language server would and report the index")
    parser.add_argument("--json", action="store_true", help="the findings as a JSON list")
    args = parser.parse_args(argv)
    with stdout_to_stderr(args.json):  # stdout holds the JSON alone
        findings = run_checks(args.model, args.socket if args.socket is not None else default_socket_path())
        if args.workspace is not None:
            findings += check_workspace(args.workspace)
    print(json.dumps([as_json(f) for f in findings], indent=2) if args.json else render(findings))
    return 1 if any(f.level == PROBLEM for f in findings) else 0
