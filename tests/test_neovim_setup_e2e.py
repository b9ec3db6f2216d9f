"""The first start of the Neovim plugin, through a real headless Neovim: finding the server (`cmd`, PATH, the
clone's .venv) or saying loudly how to get one, default settings the server accepts without a word, every
file buffer served by default, and `:help infill` (the shipped doc/tags current)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nvim_editor import NVIM, PLUGIN_DIR, SERVER_CMD, editor_env, needs_nvim, start_nvim, wait_attached
from nvim_rpc import WAIT_S, Nvim, start_editor, stop_editors

from infill_lsp.editor_setup import clone_root, connect_lines

__all__ = ["start_nvim"]  # the fixture

# An engine that is never reached: the server starts without spawning one and the settings stay the defaults.
NO_ENGINE = ["--engine-url", "http://127.0.0.1:9"]
BARE_PATH = "/usr/bin:/bin"  # no `infill` here (checked), so only the clone's .venv can provide it
DOC = PLUGIN_DIR / "doc" / "infill.txt"
TAGS = PLUGIN_DIR / "doc" / "tags"
FAKE_SETTINGS = {
    "engine": {"mode": "factory", "factory": "lsp_fake_engine:make_client", "restartBackoffMs": 50},
    "debounceMs": 0,
}


def clone_with_plugin(root: Path, *, server: bool) -> Path:
    """A clone's layout under ``root``: the plugin in editors/neovim, a Makefile, and with ``server`` a
    .venv/bin/infill running this checkout's server. Returns the plugin folder."""
    plugin = root / "editors" / "neovim"
    shutil.copytree(PLUGIN_DIR, plugin)
    (root / "Makefile").write_text("demo:\n")
    if server:
        script = root / ".venv" / "bin" / "infill"
        script.parent.mkdir(parents=True)
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infill_lsp.cli "$@" {" ".join(NO_ENGINE)}\n')
        script.chmod(0o755)
    return plugin


def notified(nvim: Nvim) -> list[dict]:
    return nvim.lua("return _G.infill_test_notified")


def messages(nvim: Nvim) -> str:
    return nvim.lua("return vim.fn.execute('messages')")


def settle(nvim: Nvim) -> None:
    """Wait until the server answered a request: what it showed at initialize has arrived by then."""
    answer = nvim.lua(
        "local c = vim.lsp.get_clients({ name = 'infill' })[1]"
        " local r = c:request_sync('infill/status', vim.empty_dict(), 10000) return r ~= nil and r.err == nil"
    )
    assert answer


def attached_here(nvim: Nvim) -> bool:
    return nvim.lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'infill' }) > 0")


def stays_unattached(nvim: Nvim, seconds: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if attached_here(nvim):
            return False
        time.sleep(0.05)
    return True


@needs_nvim
def test_without_cmd_the_server_of_the_clones_venv_starts(start_nvim, tmp_path):
    assert shutil.which("infill", path=BARE_PATH) is None
    plugin = clone_with_plugin(tmp_path / "clone", server=True)
    nvim = start_nvim("example.py", "x = 1\n", {}, plugin_dir=plugin, env={"PATH": BARE_PATH})
    cmd = nvim.lua("return vim.lsp.get_clients({ name = 'infill' })[1].config.cmd")
    assert cmd == [str(tmp_path / "clone" / ".venv" / "bin" / "infill"), "serve"]
    settle(nvim)
    assert [n for n in notified(nvim) if "infill" in n["message"]] == []
    nvim.request("nvim_command", "checkhealth infill")
    report = "\n".join(nvim.lines())
    found = report.split("language server infill")[0]  # the engine after it is down: none is reachable here
    assert "(beside the plugin)" in found and "runs" in found and "ERROR" not in found, report


@needs_nvim
def test_without_any_server_it_says_so_once_with_the_fix(start_nvim, tmp_path):
    plugin = clone_with_plugin(tmp_path / "clone", server=False)
    nvim = start_nvim("example.py", "x = 1\n", {}, plugin_dir=plugin, env={"PATH": BARE_PATH}, attached=False)
    nvim.wait_for("the message", "return #_G.infill_test_notified > 0")
    loud = [n for n in notified(nvim) if n["level"] >= 3]  # vim.log.levels.WARN
    assert len(loud) == 1, notified(nvim)
    message = loud[0]["message"]
    venv = str(tmp_path / "clone" / ".venv" / "bin" / "infill")
    assert "not found" in message and venv in message, message
    assert f"`make demo` in {tmp_path / 'clone'}" in message and "pip install infill-diffusion" in message
    assert "cmd = { '/path/to/.venv/bin/infill', 'serve' }" in message
    assert "not found" in messages(nvim)  # in :messages as well, not only a passing echo
    assert stays_unattached(nvim)


@needs_nvim
def test_a_cmd_that_does_not_run_is_named(start_nvim, tmp_path):
    setup = {"cmd": [str(tmp_path / "nowhere" / "infill"), "serve"]}
    nvim = start_nvim("example.py", "x = 1\n", setup, attached=False)
    nvim.wait_for("the message", "return #_G.infill_test_notified > 0")
    loud = [n["message"] for n in notified(nvim) if n["level"] >= 3]
    assert len(loud) == 1 and str(tmp_path / "nowhere" / "infill") in loud[0] and "`cmd`" in loud[0], loud


@needs_nvim
def test_default_settings_draw_no_warning_from_the_server(start_nvim):
    nvim = start_nvim("example.py", "x = 1\n", {"cmd": [*SERVER_CMD, *NO_ENGINE]})
    settle(nvim)
    shown = messages(nvim)
    assert "setting ignored" not in shown and "unknown setting" not in shown, shown
    init_options = nvim.lua("return vim.json.encode(vim.lsp.get_clients({ name = 'infill' })[1].config.init_options)")
    assert init_options == '{"nextEditInlineCompletion":false}'  # the plugin shows next edits itself

    # setup() again with settings: they reach the running server flat, as VS Code sends them
    nvim.lua("require('infill').setup({ cmd = ..., settings = { engine = {}, maxLines = 3 } })",
             [*SERVER_CMD, *NO_ENGINE])
    settle(nvim)
    shown = messages(nvim)
    assert "setting ignored" not in shown and "unknown setting" not in shown and "must be" not in shown, shown


@needs_nvim
def test_every_file_is_served_by_default_and_filetypes_limits_it(start_nvim, tmp_path):
    nvim = start_nvim("build.lua", "local x = 1\n", {"cmd": SERVER_CMD, "settings": FAKE_SETTINGS})
    assert nvim.lua("return vim.bo.filetype") == "lua"

    (tmp_path / "NOTES").write_text("no filetype here\n")
    nvim.request("nvim_command", f"edit {tmp_path / 'NOTES'}")
    nvim.wait_for("the client on a file without a filetype",
                  "return #vim.lsp.get_clients({ bufnr = 0, name = 'infill' }) > 0")
    assert nvim.lua("return vim.bo.filetype") == ""

    nvim.request("nvim_command", "help infill-options")
    assert nvim.lua("return vim.bo.buftype") == "help"
    assert stays_unattached(nvim)
    nvim.request("nvim_command", "terminal")
    assert stays_unattached(nvim)

    # filetypes = { 'python' }: only Python files
    nvim.lua("require('infill').setup({ cmd = ..., filetypes = { 'python' }, settings = ... })",
             SERVER_CMD, FAKE_SETTINGS)
    (tmp_path / "other.lua").write_text("return 1\n")
    nvim.request("nvim_command", f"edit {tmp_path / 'other.lua'}")
    assert stays_unattached(nvim)
    (tmp_path / "main.py").write_text("x = 1\n")
    nvim.request("nvim_command", f"edit {tmp_path / 'main.py'}")
    nvim.wait_for("the client on a Python file", "return #vim.lsp.get_clients({ bufnr = 0, name = 'infill' }) > 0")


@needs_nvim
def test_the_lines_infill_demo_prints_work_as_pasted_into_init_lua(tmp_path):
    """`infill demo` ends with an init.lua snippet: pasted as it is, Neovim serves a file and has the help."""
    server = tmp_path / "bin" / "infill"
    server.parent.mkdir()
    server.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infill_lsp.cli "$@" {" ".join(NO_ENGINE)}\n')
    server.chmod(0o755)
    lines = connect_lines(clone_root(), str(server))
    start = lines.index("Neovim 0.11+, in init.lua:")
    init = tmp_path / "config" / "nvim" / "init.lua"
    init.parent.mkdir(parents=True)
    init.write_text("\n".join(line.strip() for line in lines[start + 1 : start + 3]) + "\n")
    (tmp_path / "example.py").write_text("x = 1\n")
    started: list = []
    try:
        assert NVIM is not None
        env = editor_env(tmp_path, {}, PATH=BARE_PATH)  # the user's own config folder: init.lua found there
        nvim = start_editor(started, NVIM, [str(tmp_path / "example.py")], env, tmp_path)
        wait_attached(nvim)
        assert nvim.lua("return vim.lsp.get_clients({ name = 'infill' })[1].config.cmd") == [str(server), "serve"]
        nvim.request("nvim_command", "help infill")
        assert nvim.lua("return vim.fn.expand('%:t')") == "infill.txt"
        assert nvim.lua("return vim.fn.exists(':InfillStatus')") == 2
    finally:
        stop_editors(started)


@needs_nvim
def test_the_ghost_text_stands_out_without_true_colour(start_nvim):
    """The default colorscheme colours Comment only with 'termguicolors': the ghost text is grey without it."""
    nvim = start_nvim("example.py", "x = 1\n", {"cmd": [*SERVER_CMD, *NO_ENGINE]}, attached=False)
    ghost = "return vim.api.nvim_get_hl(0, { name = 'InfillGhost', link = false })"
    nvim.request("nvim_command", "set notermguicolors")
    assert nvim.lua("return vim.api.nvim_get_hl(0, { name = 'Comment', link = false }).ctermfg") is None
    assert nvim.lua(ghost).get("ctermfg") == 8
    nvim.request("nvim_command", "set termguicolors")
    assert nvim.lua("return vim.api.nvim_get_hl(0, { name = 'InfillGhost' })") == {"link": "Comment"}
    nvim.request("nvim_command", "highlight InfillGhost ctermfg=3 guifg=#aa8800 | set notermguicolors")
    assert nvim.lua(ghost).get("ctermfg") == 3  # the user's own stays


@needs_nvim
def test_help_infill_opens_the_plugins_help(start_nvim):
    nvim = start_nvim("example.py", "x = 1\n", {"cmd": [*SERVER_CMD, *NO_ENGINE]}, attached=False)
    for tag in ("infill", "infill-setup", "infill.setup()", ":InfillStatus"):
        nvim.request("nvim_command", f"help {tag}")
        assert nvim.lua("return vim.bo.buftype") == "help", tag
        assert nvim.lua("return vim.fn.expand('%:t')") == "infill.txt", tag


def test_every_tag_of_the_help_is_in_the_shipped_tags():
    tags = {line.split("\t")[0] for line in TAGS.read_text().splitlines()}
    defined = set(re.findall(r"(?:^|\s)\*([^\s*|]+)\*(?=\s|$)", DOC.read_text(), flags=re.M))
    assert "infill" in defined and "infill-options" in defined
    assert defined <= tags, f"missing in {TAGS}: {sorted(defined - tags)}"


@needs_nvim
def test_the_shipped_tags_are_what_helptags_writes(tmp_path):
    shutil.copy(DOC, tmp_path / "infill.txt")
    assert NVIM is not None
    subprocess.run(
        [NVIM, "--headless", "--clean", "-c", f"helptags {tmp_path}", "-c", "qa!"],
        check=True,
        timeout=WAIT_S,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    assert TAGS.read_text() == (tmp_path / "tags").read_text(), (
        "regenerate: nvim --headless -c 'helptags editors/neovim/doc' -c q"
    )
