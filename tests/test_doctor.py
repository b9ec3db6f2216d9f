"""`infill doctor`: healthy here (exit 0), each broken part reported with its fix (exit 1), no torch imported."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from infill_lsp import doctor

ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = ROOT / "tests"


@pytest.fixture
def folder():
    base = Path(tempfile.mkdtemp(prefix="infill-d", dir="/tmp"))  # sun_path holds 107 bytes
    base.chmod(0o700)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_doctor_finds_this_installation_healthy(folder):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "infill_lsp.cli", "doctor", "--socket", str(folder / "engine.sock")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for part in ("python", "packages", "torch", "model", "socket", "engine", "grammars"):
        assert f" {part} " in done.stdout
    assert "all good" in done.stdout and "PROBLEM" not in done.stdout
    assert "torch 2." in done.stdout and "python, javascript, typescript" in done.stdout


def test_the_doctor_module_does_not_import_torch():
    code = "import sys, infill_lsp.cli, infill_lsp.doctor; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
    assert done.stdout.strip() == "False", done.stderr


def test_a_broken_model_directory_is_a_problem_with_its_fix(folder, capsys):
    model = folder / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "pytorch_model.bin").write_bytes(b"")
    findings = doctor.check_model(model)
    assert [f.level for f in findings] == [doctor.PROBLEM, doctor.PROBLEM]
    assert "only pytorch_model.bin, which the engine refuses" in findings[0].message and findings[0].fix
    assert "tokenizer.json" in findings[1].message
    assert doctor.main(["--model", str(model), "--socket", str(folder / "engine.sock"), "--json"]) == 1
    reported = json.loads(capsys.readouterr().out)
    assert any(f["part"] == "model" and f["level"] == "problem" and f["fix"] for f in reported)
    # a finding without a fix has no "fix" key; one with a fix says it
    assert all(f.get("fix", "x") != "" for f in reported), reported
    assert any("fix" not in f for f in reported) and any(f["level"] == "ok" for f in reported)


def test_a_shared_socket_folder_is_a_problem(folder):
    shared = folder / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    (finding,) = doctor.check_socket_folder(shared / "engine.sock")
    assert finding.level == doctor.PROBLEM and finding.fix == f"chmod 700 {shared}"
    (long,) = [f for f in doctor.check_socket_folder(folder / ("x" * 120) / "engine.sock") if f.level == "problem"]
    assert "longer than 107 bytes" in long.message


def test_a_cpu_torch_on_a_gpu_machine_is_a_problem_with_the_install_fix():
    cpu_build = 'print(\'{"version": "2.13.0+cpu", "cuda": null, "devices": [], "mps": false}\')'
    findings = doctor.check_torch(cpu_build, gpu_present=True)
    assert findings[-1].level == doctor.PROBLEM
    assert "PIP_CONFIG_FILE=/dev/null .venv/bin/pip install 'torch==2.13.0'" in findings[-1].fix
    gpu_build = ('print(\'{"version": "2.13.0", "cuda": "12.8", "mps": false, '
                 '"devices": [{"name": "H200", "free": 100000000000, "total": 150000000000}]}\')')  # fmt: skip
    findings = doctor.check_torch(gpu_build, gpu_present=True)
    assert [f.level for f in findings] == [doctor.OK, doctor.OK]
    assert findings[1].message == "cuda:0 H200: 93.1 GiB free of 139.7 GiB"
    broken = doctor.check_torch("raise ImportError('libcudart.so.12: cannot open shared object file')")
    assert broken[0].level == doctor.PROBLEM and "libcudart" in broken[0].message


def test_a_running_engine_is_reported_with_its_settings(folder, monkeypatch):
    from engine.clients.connect import open_client, stop_engine
    from engine.host.launch import EngineLaunch

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p))
    sock = folder / "engine.sock"

    async def scenario() -> list[doctor.Finding]:
        client = open_client(EngineLaunch(core_factory="fake_core:make_core", dtype="float32"), socket=sock)
        await client.start()
        try:
            return await doctor._ask_engine(sock)
        finally:
            await stop_engine(client, sock)

    (finding,) = asyncio.run(scenario())
    assert finding.level == doctor.OK and "fake-model on cpu (fake, float32)" in finding.message
    assert "1 client(s)" in finding.message  # the test's own


def test_the_doctor_reports_a_workspace_index(tmp_path):
    (tmp_path / "a.py").write_text("def one():\n    pass\n")
    (tmp_path / ".gitignore").write_text("b.py\n")
    (tmp_path / "b.py").write_text("def two():\n    pass\n")
    (finding,) = doctor.check_workspace(tmp_path)
    assert finding.level == doctor.OK and "1 files" in finding.message and "1 definitions" in finding.message
    assert "1 ignored" in finding.message
    (missing,) = doctor.check_workspace(tmp_path / "nowhere")
    assert missing.level == doctor.PROBLEM
