"""End to end through a real VS Code: the packaged extension in code-server 4.99.4 (VS Code 1.99.3), headless Chromium.

``editors/vscode/scripts/e2e-setup.sh`` installs what it takes (Debian packages, code-server and
playwright-core, the ``.vsix``; a no-op once done), this test starts code-server on a private profile, and
``editors/vscode/e2e/drive-vscode.cjs`` uses the editor as a person would: the status bar says "infill ready",
typing shows a ghost text and Tab accepts it, renaming a parameter shows the next edit at its use (struck
through, the new text beside it) and Tab goes there and then applies it, Show Status answers, Restart Engine
starts a new engine process, Fill Selection replaces a selection. The language server is this checkout's
``infill`` and its engine the embedded model on the CPU, spawned on a private socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsp_helpers import PYTHONPATH, ROOT

EXTENSION_DIR = ROOT / "editors" / "vscode"
SETUP = EXTENSION_DIR / "scripts" / "e2e-setup.sh"
DRIVER = EXTENSION_DIR / "e2e" / "drive-vscode.cjs"
SCREENSHOT = EXTENSION_DIR / ".e2e" / "screenshot.png"
INFILL = Path(sys.executable).with_name("infill")  # the checkout's .venv/bin/infill
SETUP_TIMEOUT_S = 1200  # a first run installs code-server (scripts/test.sh runs the setup before pytest)
DRIVE_TIMEOUT_S = 240

# drive-vscode.cjs types "    return sum(values) / len(" on line 8 (the end of mean's body), renames area's
# parameter radius to r (the next edit renames its use on the last line), selects the expression on the last
# line and fills it.
SAMPLE = '''\
import math


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values."""
    if not values:
        raise ValueError("mean of an empty list")



def area(radius: float) -> float:
    """Return the area of a circle."""
    return math.pi * radius ** 2
'''

USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "chat.commandCenter.enabled": False,
    # Tab must accept the ghost text, not an item of the suggest widget
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.suggestOnTriggerCharacters": False,
    "editor.wordBasedSuggestions": "off",
    "editor.autoClosingBrackets": "never",  # the buffer holds what was typed, as the fill was measured
    "infill.serverPath": str(INFILL),
    "infill.engine.device": "cpu",
    "infill.engine.idleExitSeconds": 60,
    "infill.requestTimeoutMs": 30_000,
    # The embedded model samples (the seed comes from the request's text, so a run repeats) and the server's
    # checks refuse fills that do not fit, so a cursor's fill may be empty: a few candidates each time.
    "infill.numCandidates": 3,
    "infill.invokedCandidates": 8,  # Fill Selection
    "infill.invokedSteps": 16,  # Fill Selection: the CPU is small
    "infill.commandTimeoutMs": 50_000,
}


def set_up() -> dict[str, str]:
    """What e2e-setup.sh installed, after running it; skips where it cannot run (not root, packages missing)."""
    result = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=SETUP_TIMEOUT_S)
    if result.returncode == 2:
        pytest.skip(f"the real VS Code cannot be set up here: {result.stderr.strip()}")
    assert result.returncode == 0, f"{SETUP} failed:\n{result.stdout}{result.stderr}"
    return json.loads((EXTENSION_DIR / ".e2e" / "paths.json").read_text())


def wait_for_port(log: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """The port code-server says it listens on (it was given port 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(
            r"HTTP server listening on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace")
        )
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"code-server did not start listening:\n{log.read_text(errors='replace')}")


def stop_engine(socket_path: Path) -> None:
    subprocess.run(
        [str(INFILL), "engine", "stop", "--socket", str(socket_path)], capture_output=True, timeout=60
    )


def logs(code_server: dict[str, str]) -> str:
    """The ends of code-server's log, the extension's log (the language server's stderr) and the engine's."""
    home = Path(code_server["log"]).parent
    files = [
        Path(code_server["log"]),
        *sorted((home / "data" / "logs").rglob("*infill*.log")),
        home / "engine.log",
    ]
    return "\n".join(
        f"== {path} ==\n{path.read_text(errors='replace')[-6000:]}" for path in files if path.exists()
    )


@pytest.fixture
def code_server(short_dir: Path) -> Iterator[dict[str, str]]:
    """code-server on a private profile, with the workspace and the engine socket under ``short_dir``."""
    paths = set_up()
    assert INFILL.exists(), f"{INFILL} is missing: the test runs under the checkout's .venv"
    workspace = short_dir / "workspace"
    workspace.mkdir()
    (workspace / "sample.py").write_text(SAMPLE)
    socket_path = short_dir / "engine.sock"
    user = short_dir / "data" / "User"
    user.mkdir(parents=True)
    (user / "settings.json").write_text(
        json.dumps({**USER_SETTINGS, "infill.engine.socket": str(socket_path)})
    )
    runtime = short_dir / "run"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "XDG_CONFIG_HOME": str(short_dir / "config"),
        "XDG_CACHE_HOME": str(short_dir / "cache"),
        "XDG_DATA_HOME": str(short_dir / "share"),
        "XDG_STATE_HOME": str(short_dir / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    log = short_dir / "code-server.log"
    command = [
        "node",
        paths["code_server"],
        "--auth",
        "none",
        "--bind-addr",
        "127.0.0.1:0",
        "--user-data-dir",
        str(short_dir / "data"),
        "--extensions-dir",
        paths["extensions"],
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        port = wait_for_port(log, process)
        yield {
            **paths,
            "E2E_URL": f"http://127.0.0.1:{port}",
            "E2E_FOLDER": str(workspace),
            "E2E_FILE": str(workspace / "sample.py"),
            "E2E_SOCKET": str(socket_path),
            "E2E_INFILL": str(INFILL),
            "E2E_CHROMIUM": paths["chromium"],
            "E2E_PROFILE": str(short_dir / "chromium"),
            "E2E_SCREENSHOT": str(SCREENSHOT),
            "log": str(log),
        }
    finally:
        with contextlib.suppress(ProcessLookupError):  # code-server, its extension host, the language server
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)
        stop_engine(socket_path)  # the engine runs in a session of its own


@pytest.mark.timeout(SETUP_TIMEOUT_S + DRIVE_TIMEOUT_S)
def test_the_extension_in_a_real_vscode(code_server: dict[str, str]):
    SCREENSHOT.parent.mkdir(exist_ok=True)
    home = Path(code_server["log"]).parent
    env = {
        **os.environ,
        "NODE_PATH": code_server["node_modules"],
        # Chromium keeps its crash reports, caches and dconf under these, not in the user's folders
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        **{key: value for key, value in code_server.items() if key.startswith("E2E_")},
    }
    try:
        result = subprocess.run(
            ["node", str(DRIVER)], env=env, capture_output=True, text=True, timeout=DRIVE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        output = b"".join(o if isinstance(o, bytes) else o.encode() for o in (exc.stdout, exc.stderr) if o)
        pytest.fail(
            f"drive-vscode.cjs ran over {DRIVE_TIMEOUT_S} s:\n{output.decode(errors='replace')}\n{logs(code_server)}"
        )
    print(result.stdout)
    if result.returncode != 0:
        pytest.fail(f"drive-vscode.cjs failed:\n{result.stdout}{result.stderr}\n{logs(code_server)}")
    checks = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert len(checks) == 9, f"drive-vscode.cjs makes 9 checks:\n{result.stdout}"
