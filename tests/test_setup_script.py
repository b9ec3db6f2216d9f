"""scripts/setup.sh says three lines on a first run, however much pip and the build backend say (their output goes
to .venv/setup.log), and shows that output when the installation fails. A stand-in .venv/bin/python plays pip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lsp_helpers import ROOT

NOISY_PYTHON = """#!/bin/sh
# pip and the build backend, as they talk on a first install
echo "WARNING: Location 'file:///somewhere/' is ignored: it is neither a file nor a directory." >&2
printf '  BuildBackendWarning: Editable installation.\\n  !!\\n  ********\\n  !!\\n' >&2
case "$*" in
  *"-e ."*) [ -n "$FAIL_INSTALL" ] && { echo "ERROR: the editable install broke" >&2; exit 1; } ;;
esac
exit 0
"""


def run_setup(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(NOISY_PYTHON)
    python.chmod(0o755)
    return subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_first_install_says_only_what_setup_does(tmp_path):
    result = run_setup(tmp_path)
    assert result.returncode == 0, result.stderr
    said = (result.stdout + result.stderr).splitlines()
    assert said == ["setup: installing infill into .venv (first run takes a minute or two)", "setup: done"]
    log = (tmp_path / ".venv" / "setup.log").read_text()
    assert "BuildBackendWarning" in log and "WARNING: Location" in log


def test_a_failed_install_shows_pips_output(tmp_path):
    result = run_setup(tmp_path, FAIL_INSTALL="1")
    assert result.returncode == 1
    assert "ERROR: the editable install broke" in result.stderr
    assert "setup: installation failed (pip's whole output: .venv/setup.log)" in result.stderr
    assert not (tmp_path / ".venv" / ".infill-installed").exists()
