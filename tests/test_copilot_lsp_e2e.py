"""A real next-edit client against `infill serve`, unmodified: copilot-lsp (a Neovim client of the Copilot
language server's textDocument/copilotInlineEdit protocol, from ``../shared/clients/copilot-lsp`` beside the
repository, Apache-2.0, kept unchanged) shows our next edit and applies it.

The server's engine is the scripted one of the LSP tests (tests/lsp_fake_engine.py), which keeps every draft
confidently, so after the user renames a parameter the server's rule suggests the same rename at its use."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsp_helpers import PYTHONPATH, ROOT, TESTS
from nvim_editor import NVIM, SERVER_CMD, needs_nvim
from nvim_rpc import Nvim, start_editor, stop_editors

COPILOT_LSP = ROOT.parent / "shared" / "clients" / "copilot-lsp"
FAKE_ENGINE = {"mode": "factory", "factory": "lsp_fake_engine:make_client", "restartBackoffMs": 50}
TEXT = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"

pytestmark = [
    needs_nvim,
    pytest.mark.skipif(not (COPILOT_LSP / "lua" / "copilot-lsp" / "nes" / "init.lua").is_file(),
                       reason=f"copilot-lsp is not at {COPILOT_LSP} (the shared folder beside the clone)"),
]


@pytest.fixture
def editor(tmp_path: Path) -> Iterator[Nvim]:
    document = tmp_path / "area.py"
    document.write_text(TEXT)
    config = {
        "plugin_dir": str(COPILOT_LSP),
        "cmd": SERVER_CMD,
        "init_options": {"engine": FAKE_ENGINE, "requestTimeoutMs": 10_000},
        "root_dir": str(tmp_path),
        "debounce_ms": 100,
    }
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "INFILL_COPILOT_TEST": json.dumps(config),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    started: list = []
    assert NVIM is not None
    nvim = start_editor(started, NVIM, ["--clean", "-u", str(TESTS / "copilot_lsp_init.lua"), str(document)],
                        env, tmp_path)
    try:
        nvim.wait_for("copilot-lsp's client to start and initialize",
                      "local c = vim.lsp.get_clients({ name = 'copilot_ls' })[1] return c ~= nil and c.initialized")
        yield nvim
    finally:
        stop_editors(started)


def test_copilot_lsp_shows_and_applies_our_next_edit(editor: Nvim):
    nvim = editor
    # The user renames the parameter: cursor on "height" in the signature, change the word to "size".
    nvim.request("nvim_win_set_cursor", 0, [1, len("def area(width, ")])
    nvim.input("cwsize<Esc>")
    nvim.wait_for("the rename", "return vim.api.nvim_buf_get_lines(0, 0, 1, true)[1] == 'def area(width, size):'")
    # copilot-lsp asks by itself after a change (debounced); the suggestion lands in its buffer state.
    state = nvim.wait_for("copilot-lsp to show a next edit", "return vim.b.nes_state")
    assert state["newText"] == "size" and state["text"] == "size"
    assert state["range"] == {"start": {"line": 1, "character": 19}, "end": {"line": 1, "character": 25}}
    assert state["command"]["command"] == "infill.nextEdit.accept"
    marks = nvim.lua("return #vim.api.nvim_buf_get_extmarks(0, -1, 0, -1, {})")
    assert marks > 0  # shown in the buffer
    # Tab's work in copilot-lsp's README: jump to the edit, then apply it.
    nvim.lua("require('copilot-lsp.nes').walk_cursor_start_edit()")
    nvim.wait_for("the jump to the edit", "return vim.api.nvim_win_get_cursor(0)[1] == 2")
    nvim.lua("require('copilot-lsp.nes').apply_pending_nes()")
    nvim.wait_for("the edit applied",
                  "return vim.api.nvim_buf_get_lines(0, 1, 2, true)[1] == '    return width * size'")
    assert nvim.lines() == ["def area(width, size):", "    return width * size", "", "", "print(area(2, 3))"]
    nvim.wait_for("the suggestion cleared", "return vim.b.nes_state == nil")
