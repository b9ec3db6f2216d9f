"""One typed launch: every command line and the editor settings reach ``load_core`` with every option,
and every engine is started and joined through ``engine.clients.connect.open_client``."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine.core.loading
from engine.host import launch as launch_module
from engine.host.launch import ONNX_EXTRA_MISSING, EngineLaunch

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
FLAGS = ["--device", "cpu", "--backend", "torch", "--dtype", "bfloat16"]
OPTIONS = {"device": "cpu", "backend": "torch", "dtype": "bfloat16"}


class _Stop(Exception):
    """Raised by the recording core loader: the launch has been seen, no model needs loading."""


@pytest.fixture
def loads(monkeypatch) -> list[tuple[object, dict]]:
    """Replace ``engine.core.loading.load_core`` by a recorder of its arguments that stops the command there."""
    calls: list[tuple[object, dict]] = []

    def record(model_dir, **options):
        calls.append((model_dir, options))
        raise _Stop

    monkeypatch.setattr(engine.core.loading, "load_core", record)
    return calls


# ---- the launch itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"device": "gpu"}, "device"),
        ({"backend": "tensorrt"}, "backend"),
        ({"dtype": "int4"}, "dtype"),
        ({"backend": "onnx", "dtype": "bfloat16"}, "dtype"),
        ({"idle_exit": -1.0}, "idle_exit"),
        ({"core_factory": "os.system"}, "core_factory"),
        ({"model_dir": "/a/string"}, "model_dir"),
        ({"stop_rule": "never"}, "stop_rule"),
        ({"step_seconds": "-1"}, "step_seconds"),
        ({"step_seconds": "inf"}, "step_seconds"),
        ({"step_seconds": "soon"}, "step_seconds"),
        ({"carry_chars": -1}, "carry_chars"),
        ({"carry_chars": 2.5}, "carry_chars"),
    ],
)
def test_a_bad_launch_is_refused_naming_its_field(fields, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        EngineLaunch(**fields)


def test_to_argv_round_trips_through_the_engine_command_line(tmp_path):
    from engine.host.server import parse_args as _parse_args

    launch = EngineLaunch(model_dir=tmp_path / "m", device="cuda:1", backend="onnx", dtype="float32",
                          idle_exit=2.5, core_factory="fake_core:make_core", stop_rule="canvas",
                          step_seconds="0.05", carry_chars=0)  # fmt: skip
    if not launch_module.onnx_available():
        launch = dataclasses.replace(launch, backend="torch")
    args, parsed, http = _parse_args(["--socket", "/tmp/x.sock", *launch.to_argv()])
    assert parsed == launch and args.socket == Path("/tmp/x.sock") and http == []  # no front asked for
    assert EngineLaunch().to_argv() == []
    assert launch.engine_config().step_seconds == 0.05 and launch.engine_config().carry_chars == 0
    assert EngineLaunch().engine_config().carry_chars == 16  # the engine's default
    relative = EngineLaunch(model_dir=Path("models/m")).to_argv()
    assert relative == ["--model", str(Path("models/m").absolute())]


def test_the_spawned_engine_command_carries_the_launch(tmp_path):
    from engine.clients.connect import engine_command

    launch = EngineLaunch(model_dir=tmp_path, **OPTIONS)
    command = engine_command(launch, Path("/tmp/s.sock"))
    assert command[:3] == [sys.executable, "-m", "engine"]
    assert command[3:] == ["--socket", "/tmp/s.sock", *launch.to_argv()]


def test_editor_settings_convert_into_one_launch():
    from infill_lsp.config import EngineSettings

    settings = EngineSettings(model_dir="/models/m", device="cuda:0", backend="torch", dtype="bfloat16",
                              core_factory="fake_core:make_core")  # fmt: skip
    assert settings.launch() == EngineLaunch(model_dir=Path("/models/m"), device="cuda:0", backend="torch",
                                             dtype="bfloat16", idle_exit=300.0,
                                             core_factory="fake_core:make_core")  # fmt: skip
    assert EngineSettings().launch() == EngineLaunch(idle_exit=300.0)  # editors' engines exit when idle
    with pytest.raises(ValueError, match="^engine.dtype "):
        EngineSettings(backend="onnx", dtype="bfloat16")


def test_every_engine_mode_of_the_editor_gets_the_settings_launch(loads, short_dir):
    from engine.clients.connect import SpawningClient
    from engine.clients.inproc import InprocEngineClient
    from engine.clients.unix_socket import SocketEngineClient
    from infill_lsp.config import EngineSettings
    from infill_lsp.engine_link import make_engine_client

    socket = str(short_dir / "engine.sock")
    spawn = make_engine_client(EngineSettings(mode="spawn", socket=socket, model_dir="/m", **OPTIONS))
    assert isinstance(spawn, SpawningClient)
    assert spawn.launch == EngineLaunch(model_dir=Path("/m"), idle_exit=300.0, **OPTIONS)
    assert spawn.socket_path == Path(socket)
    connect = make_engine_client(EngineSettings(mode="connect", socket=socket))
    assert isinstance(connect, SocketEngineClient) and connect.socket_path == Path(socket)
    inproc = make_engine_client(EngineSettings(mode="inproc", model_dir="/m", **OPTIONS))
    assert isinstance(inproc, InprocEngineClient)
    with pytest.raises(_Stop):
        asyncio.run(inproc.start())
    assert loads == [(Path("/m"), OPTIONS)]


# ---- every command line reaches load_core with every option ----------------------------------------


@pytest.fixture
def tmp_path(tmp_path):
    """A folder that passes the command lines' --model check (the loads are faked)."""
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    return tmp_path


def test_infill_complete_and_demo_pass_the_launch(loads, tmp_path):
    from infill_lsp import complete

    source = tmp_path / "a.py"
    source.write_text("x = <FILL>\n")
    with pytest.raises(_Stop):
        complete.main([str(source), "--model", str(tmp_path), *FLAGS])
    with pytest.raises(_Stop):
        complete.demo([str(source), "--model", str(tmp_path), *FLAGS])
    assert loads == [(tmp_path, OPTIONS)] * 2


def test_infill_batch_passes_the_launch(loads, tmp_path):
    from infill_lsp.batch import cli

    (tmp_path / "a.py").write_text("x = <FILL>\n")
    with pytest.raises(_Stop):
        cli.main([str(tmp_path), "--marker", "<FILL>", "--no-journal", "--no-progress", "--model", str(tmp_path),
                  *FLAGS])  # fmt: skip
    assert loads == [(tmp_path, OPTIONS)]


def test_ray_actors_load_the_launch(loads, tmp_path):
    from infill_lsp.batch.ray_pool import EngineActorBody, RayWaveRunner

    class FakeRay:
        def __init__(self, gpus: int) -> None:
            self.gpus, self.launches = gpus, []

        def cluster_resources(self):
            return {"GPU": self.gpus}

        def remote(self, **resources):
            def wrap(body):
                ray = self

                class Remote:
                    @staticmethod
                    def remote(launch, timeout):
                        ray.launches.append(launch)
                        return object()

                return Remote

            return wrap

    launch = EngineLaunch(model_dir=tmp_path, backend="torch", dtype="bfloat16")
    on_gpus, on_cpus = FakeRay(2), FakeRay(0)
    RayWaveRunner.start(on_gpus, launch=launch, actors=1, timeout=5)
    RayWaveRunner.start(on_cpus, launch=dataclasses.replace(launch, device="cuda:1"), actors=3, timeout=5)
    assert on_gpus.launches == [dataclasses.replace(launch, device="cuda")] * 2
    assert on_cpus.launches == [dataclasses.replace(launch, device="cuda:1")] * 3  # a named device is kept
    with pytest.raises(_Stop):
        EngineActorBody(dataclasses.replace(launch, device="cpu"), timeout=5)
    assert loads == [(tmp_path, OPTIONS)]


def test_infill_eval_and_bench_pass_the_launch(loads, tmp_path):
    from infill_tools import bench, humaneval

    data = tmp_path / "HumanEval-SingleLineInfilling.jsonl.gz"
    row = {"task_id": "t/0", "prompt": "def f():\n", "suffix": "", "canonical_solution": "    return 1\n",
           "test": "def check(f):\n    assert f() == 1\n", "entry_point": "f"}  # fmt: skip
    with gzip.open(data, "wt") as out:
        out.write(json.dumps(row) + "\n")
    with pytest.raises(_Stop):
        humaneval.main(["--data", str(data), "--model", str(tmp_path), *FLAGS])
    with pytest.raises(_Stop):
        bench.main(["--model", str(tmp_path), *FLAGS])
    assert loads == [(tmp_path, OPTIONS)] * 2


def test_infill_engine_passes_the_launch(loads, short_dir, tmp_path):
    from engine.host.server import EXIT_ERROR, main

    assert main(["--socket", str(short_dir / "engine.sock"), "--model", str(tmp_path), *FLAGS]) == EXIT_ERROR
    assert loads == [(tmp_path, OPTIONS)]


def test_infill_complete_in_process_serves_the_dtype_it_was_given(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import torch

    from infill_lsp import complete

    real, cores = engine.core.loading.load_core, []

    def keep(model_dir, **options):
        cores.append(real(model_dir, **options))
        return cores[-1]

    monkeypatch.setattr(engine.core.loading, "load_core", keep)
    source = tmp_path / "a.py"
    source.write_text("def f(x):\n    return <FILL>\n")
    # an untrained model's fill may be refused: then the hole keeps its marker and the status says so
    code = complete.main([str(source), "--model", str(tiny_model_dir), "--steps", "2", *FLAGS])
    assert code in (complete.EXIT_FILLED, complete.EXIT_HOLES_LEFT)
    assert capsys.readouterr().out.startswith("def f(x):\n    return ")
    (core,) = cores
    assert core.runner.dtype == torch.bfloat16 and core.welcome.backend == "torch" and core.welcome.device == "cpu"


# ---- the socket paths ------------------------------------------------------------------------------


@pytest.fixture
def fake_engines_importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p))


def test_infill_complete_joins_a_running_engine(short_dir, fake_engines_importable, tmp_path, capsys):
    """It used to start its socket client twice, so it failed against every running engine."""
    from infill_lsp import complete

    sock = short_dir / "engine.sock"
    engine_process = subprocess.Popen(
        [sys.executable, "-m", "engine", "--socket", str(sock), "--core-factory", "fake_core:make_core",
         "--log-level", "warning"],
        cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        asyncio.run(_wait_listening(sock))
        source = tmp_path / "a.txt"
        source.write_text("hello abcdef<FILL>ghijkl more\n")
        assert complete.main([str(source), "--socket", str(sock)]) == 0
        assert capsys.readouterr().out == "hello abcdef[abcdef|ghijkl]ghijkl more\n"
    finally:
        engine_process.kill()
        engine_process.wait(20)


def test_a_spawned_engine_gets_every_option_of_the_launch(short_dir, fake_engines_importable):
    from engine.clients.connect import open_client

    launch = EngineLaunch(core_factory="fake_core:make_core", idle_exit=30.0, device="cpu", dtype="float32")

    async def scenario() -> tuple[list[str], str]:
        client = open_client(launch, socket=short_dir / "engine.sock", start_timeout=60)
        await client.start()
        try:
            with open(f"/proc/{client.engine_pid}/cmdline", "rb") as f:
                command = f.read().decode().split("\0")[:-1]
            with open(f"/proc/{client.engine_pid}/maps", encoding="utf-8") as f:
                return command, f.read()
        finally:
            await client.shutdown_engine()
            await client.close()

    command, maps = asyncio.run(scenario())
    assert command[1:3] == ["-m", "engine"] and command[5:] == launch.to_argv()
    # A core factory's engine (the tests start hundreds) serves without importing torch: ~0.2 s to start.
    assert "libtorch" not in maps


async def _wait_listening(sock: Path, timeout: float = 30.0) -> None:
    from engine.clients.unix_socket import EngineNotListening, SocketEngineClient

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        client = SocketEngineClient(sock)
        try:
            await client.start()
            await client.close()
            return
        except EngineNotListening:
            assert asyncio.get_running_loop().time() < deadline, "the engine did not listen in time"
            await asyncio.sleep(0.05)


# ---- the onnx extra is optional --------------------------------------------------------------------


def test_backend_onnx_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    from infill_lsp import complete

    monkeypatch.setattr(launch_module, "onnx_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        complete.main(["a.py", "--backend", "onnx"])
    assert exit_info.value.code == 2
    assert "pip install 'infill-diffusion[onnx]'" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match=r"pip install 'infill-diffusion\[onnx\]'"):
        EngineLaunch(backend="onnx").load_core()


def test_the_base_install_serves_without_onnx(tiny_model_dir):
    """With onnx and onnxruntime unimportable, the torch backend serves and the onnx one explains itself."""
    code = f"""
import sys
sys.modules["onnxruntime"] = None
sys.modules["onnx"] = None
from engine.host.launch import EngineLaunch
from engine.protocol import InfillRequest, InfillResult
core = EngineLaunch(model_dir=__import__("pathlib").Path({str(tiny_model_dir)!r})).load_core()
core.add(InfillRequest("1", "def f(x):\\n    return ", "\\n", language="python", max_steps=2))
results = []
while core.has_work():
    results += [m for m in core.step() if isinstance(m, InfillResult)]
assert len(results) == 1 and core.welcome.backend == "torch"
try:
    import engine.model.onnx_runner
except ImportError as exc:
    print(exc)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env,
                         cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ONNX_EXTRA_MISSING


def test_engines_that_commands_leave_behind_exit_when_idle(tmp_path):
    """`infill batch/complete --socket` start an engine that outlives them: it exits like an editor's."""
    import argparse

    from engine.clients.connect import SpawningClient
    from engine.host.launch import EDITOR_IDLE_EXIT_S
    from infill_lsp.batch.cli import _client

    assert EngineLaunch().spawned().idle_exit == EDITOR_IDLE_EXIT_S
    assert EngineLaunch(idle_exit=5.0).spawned().idle_exit == 5.0
    args = argparse.Namespace(launch=EngineLaunch(), remote=None, socket=str(tmp_path / "e.sock"), timeout=30.0)
    client = _client(args)
    assert isinstance(client, SpawningClient) and client.launch.idle_exit == EDITOR_IDLE_EXIT_S
