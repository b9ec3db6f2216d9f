"""Security: who may reach the engine and the language server, what runs, what the batch tool touches.

Already covered elsewhere (not repeated here): the socket directory 0700 and socket 0600 of an
in-process server, a directory open to others or owned by another uid refused, and a connection from
another uid refused by peer credentials (tests/test_engine_socket.py); symlinked files and folders
escaping the roots, and write_atomically outside the roots (tests/test_batch_run.py).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import pickle
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_support import ROOT, WAIT_S, EngineProcess, record, scripted_runner_factory, short_socket_dir

from engine.host.server import EngineStartError, ensure_private_dir
from infill_lsp.batch.run import BatchConfig, run_batch
from infill_lsp.server import _tcp_address

# ---- the engine socket, from a real engine process ---------------------------------------------


async def test_an_engine_process_makes_a_private_directory_and_socket() -> None:
    with short_socket_dir() as socket_path:
        engine = EngineProcess(socket_path, core="fake_core:make_core").start()
        try:
            await engine.wait_listening()
            assert stat.S_IMODE(os.lstat(socket_path.parent).st_mode) == 0o700
            assert stat.S_IMODE(os.lstat(socket_path).st_mode) == 0o600
            lock = socket_path.with_name(socket_path.name + ".lock")
            assert stat.S_IMODE(os.lstat(lock).st_mode) == 0o600
        finally:
            engine.stop()


def test_a_symlinked_socket_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(EngineStartError, match="symlink"):
        ensure_private_dir(tmp_path / "link")


# ---- the language server's TCP mode: loopback only ----------------------------------------------

NOT_LOOPBACK = ["0.0.0.0:2087", "[::]:2087", "192.168.1.10:2087", "10.0.0.1:1", "example.com:2087", ":2087",
                "127.0.0.2:2087", "localhost.evil.com:2087"]  # fmt: skip


@pytest.mark.parametrize("address", NOT_LOOPBACK)
def test_tcp_refuses_a_non_loopback_address(address: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="loopback"):
        _tcp_address(address)


def test_tcp_refusal_through_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "infill_lsp.server", "--tcp", "0.0.0.0:2087"],
                          cwd=ROOT, capture_output=True, timeout=WAIT_S)  # fmt: skip
    assert done.returncode == 2 and b"loopback only" in done.stderr


def _listening_addresses(port: int) -> list[str]:
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.append(address)
    return found


def test_tcp_on_loopback_listens_on_loopback_only() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "infill_lsp.server", "--tcp", f"127.0.0.1:{port}"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_S
        while not _listening_addresses(port):
            assert server.poll() is None and time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.05)
        assert _listening_addresses(port) == ["0100007F"]  # 127.0.0.1, nothing else
    finally:
        server.kill()
        server.wait(WAIT_S)
    record(
        "LSP --tcp bind address", cases=len(NOT_LOOPBACK) + 2, result="non-loopback refused, loopback only"
    )


# ---- model output is text: nothing executes it --------------------------------------------------

BUILTINS = {"eval", "exec", "compile", "__import__"}  # called as bare names
OWNED = {  # module.function calls that run code or unpickle
    "os": {"system", "popen", "execv", "execve", "execvp", "execvpe", "spawnv", "spawnve", "posix_spawn"},
    "subprocess": {"run", "call", "check_call", "check_output", "Popen"},
    "pickle": {"load", "loads"},
    "marshal": {"load", "loads"},
    "dill": {"load", "loads"},
    "torch": {"load"},
    "yaml": {"load", "unsafe_load"},
    "runpy": {"run_path", "run_module"},
    "importlib": {"import_module"},
}
# Every place in the product that can run or import code, and why that is not model output.
ALLOWED = {
    ("infill_tools/humaneval.py", "run"): "the benchmark scorer: subprocess, -I -S, temp dir, timeout",
    ("engine/clients/connect.py", "Popen"): "starts `python -m engine` with the flags of a typed EngineLaunch",
    ("engine/host/launch.py", "import_module"): "--core-factory, a test hook named on the command line",
    ("training/corpus.py", "call"): "runs the corpus download script (training only)",
    ("training/train.py", "load"): "torch.load(weights_only=True) of the trainer's resume state",
    ("engine/prompt/tokenizer.py", "load"): "not code: a JSON tokenizer file",
    ("infill_lsp/cli.py", "import_module"): "subcommand modules from a fixed table",
    ("infill_lsp/doctor.py", "run"): "infill doctor asks a fresh interpreter about torch, with a fixed probe",
    ("infill_lsp/languages.py", "import_module"): "grammar modules named in the packaged language table",
    ("infill_tools/git_history.py", "run"): "the benchmark builders read a git mirror: `git --git-dir DIR` with "
    "fixed subcommands, no shell",
    ("infill_tools/lsp_footprint.py", "Popen"): "the footprint figure starts `python -m infill_lsp.cli serve`",
    ("infill_lsp/engine_link.py", "import_module"): (
        "engine.factory / core_factory settings, honoured only with INFILL_ALLOW_CODE_SETTINGS=1"
    ),
}


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILTINS:
            names.add(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.attr in OWNED.get(func.value.id, ()):
                names.add(func.attr)
    return names


def test_no_module_executes_text_except_the_humaneval_scorer() -> None:
    found = {}
    files = [
        p
        for package in ("engine", "infill_lsp", "infill_tools")
        for p in (ROOT / package).rglob("*.py")
        if "samples" not in p.relative_to(ROOT).parts
    ]  # samples are holey example files, not code
    for path in files:
        for name in _calls(path):
            found[(str(path.relative_to(ROOT)), name)] = True
    unexpected = sorted(set(found) - set(ALLOWED))
    assert not unexpected, f"code that can execute or unpickle: {unexpected}"
    record("static scan: calls that execute code or unpickle", cases=len(files), allowed=len(found),
           result="only the allow-listed places; model output reaches humaneval only")  # fmt: skip


def test_the_humaneval_scorer_is_isolated_and_timed_out(tmp_path: Path) -> None:
    from infill_tools.humaneval import run_program

    sentinel = tmp_path / "escaped"
    assert run_program("x = 1\n") is True
    assert run_program("raise SystemExit(3)\n") is False
    began = time.perf_counter()
    assert run_program("while True:\n    pass\n", timeout=1.0) is False
    assert time.perf_counter() - began < 10
    # It runs in a fresh temporary directory: relative writes land there and vanish with it.
    assert run_program(
        f"open('escaped', 'w').write('x')\nimport os\nassert os.getcwd() != {str(tmp_path)!r}\n"
    )
    assert not sentinel.exists()


# ---- batch paths cannot leave the workspace ---------------------------------------------------


def test_batch_paths_with_dotdot_and_relative_symlinks_stay_inside(tmp_path: Path, monkeypatch) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def secret():\n    pass\n")
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "own.py").write_text("def own():\n    pass\n")
    (root / "sub" / "up.py").symlink_to("../../outside.py")  # relative, leaves the root
    (root / "sub" / "parent").symlink_to("..", target_is_directory=True)  # a loop back up
    (root / "sub" / "root_link").symlink_to("../../", target_is_directory=True)  # above the root
    monkeypatch.chdir(root / "sub")
    report = asyncio.run(
        run_batch(BatchConfig(paths=("../sub/./../sub",), write=True), scripted_runner_factory())
    )
    assert outside.read_text() == "def secret():\n    pass\n"
    assert report.written == 1 and [Path(f.path).name for f in report.files] == ["own.py"]
    assert any("outside the given paths" in s.reason for s in report.skipped)


def test_a_file_swapped_for_a_symlink_during_the_run_is_not_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def secret():\n    pass\n")
    root = tmp_path / "ws"
    root.mkdir()
    target = root / "a.py"
    target.write_text("def f():\n    pass\n")

    from reliability_support import ScriptedBatchClient

    class Swapping(ScriptedBatchClient):
        async def infill(self, request, on_partial=None, timeout=None):
            target.unlink()
            target.symlink_to(outside)  # an attacker (or a checkout) swaps the file mid-run
            return await super().infill(request, on_partial, timeout)

    report = asyncio.run(
        run_batch(BatchConfig(paths=(str(root),), write=True), scripted_runner_factory(Swapping()))
    )
    assert report.written == 0 and report.refused == 1
    assert outside.read_text() == "def secret():\n    pass\n"


# ---- loading a model directory never runs code from it ------------------------------------------


class _Payload:
    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def test_a_pickle_only_model_directory_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from engine.model.checkpoint import load_model

    sentinel = tmp_path / "pickle-ran"
    model = tmp_path / "pickled"
    model.mkdir()
    shutil.copy(tiny_model_dir / "config.json", model / "config.json")
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(sentinel))))
    with pytest.raises(FileNotFoundError, match="safetensors"):
        load_model(model)
    assert not sentinel.exists()


def test_custom_modeling_code_and_auto_map_are_ignored(tiny_model_dir: Path, tmp_path: Path) -> None:
    from engine.core.loading import load_core

    sentinel = tmp_path / "remote-code-ran"
    model = tmp_path / "evil"
    shutil.copytree(tiny_model_dir, model)
    evil = f"open({str(sentinel)!r}, 'w').write('ran')\n"
    (model / "modeling_evil.py").write_text(evil + "class EvilModel: pass\n")
    (model / "configuration_evil.py").write_text(evil + "class EvilConfig: pass\n")
    (model / "tokenization_evil.py").write_text(evil)
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(sentinel))))  # beside safetensors
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig", "AutoModel": "modeling_evil.EvilModel",
                          "AutoModelForCausalLM": "modeling_evil.EvilModel"}  # fmt: skip
    (model / "config.json").write_text(json.dumps(config))
    core = load_core(model)
    assert core.welcome.model_name
    assert not sentinel.exists(), "code from the model directory ran"
    record(
        "model directory with pickle / custom code + auto_map",
        cases=2,
        result="refused / ignored, no code ran",
    )


def test_batch_skips_a_symlink_loop_with_a_reason_and_goes_on(tmp_path: Path) -> None:
    from infill_lsp.batch.sources import find_files

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "m.py").write_text("def f():\n    pass\n")
    found, skipped = find_files([tmp_path.resolve()], lambda p: "python" if p.suffix == ".py" else None)
    assert [path.name for path, _ in found] == ["m.py"]
    assert sorted((Path(s.path).name, s.reason) for s in skipped) == [("a", "a symlink loop"), ("b", "a symlink loop")]
