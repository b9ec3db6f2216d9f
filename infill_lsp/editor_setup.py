"""How to connect an editor to this installation: the lines ``infill demo`` ends with, with the absolute
paths of this clone and of this environment's ``infill`` command, to paste as they are."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

# The clone this package runs from (``<clone>/infill_lsp/editor_setup.py``); an installed package has no
# editors/ beside it.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def clone_root(root: Path = PACKAGE_ROOT) -> Path | None:
    """The clone holding the editor clients, or None when this package was installed without them."""
    return root if (root / "editors" / "neovim" / "lua" / "infill").is_dir() else None


def server_command() -> str:
    """This environment's ``infill`` script (beside its Python, unresolved: a venv's python is a link),
    else the one on PATH, else the bare name."""
    beside = Path(sys.executable).parent / "infill"
    if beside.is_file():
        return str(beside.absolute())
    return shutil.which("infill") or "infill"


def lua_string(text: str) -> str:
    """A Lua string literal for ``text``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _vsix_name(vscode: Path) -> str:
    """The file ``npm run package`` writes: named after the extension's own version (its package.json), or a
    shell pattern that matches it where package.json does not say."""
    try:
        package = json.loads((vscode / "package.json").read_text(encoding="utf-8"))
        return f"{package['name']}-{package['version']}.vsix"
    except (OSError, ValueError, KeyError, TypeError):
        return "infill-*.vsix"


def connect_lines(root: Path | None, server: str) -> list[str]:
    """The instructions for Neovim, VS Code and other LSP clients, for the clone ``root`` (None: no clone)
    and the server script ``server``."""
    setup = f"require('infill').setup({{ cmd = {{ {lua_string(server)}, 'serve' }} }})"
    server_path = f'"infill.serverPath": {json.dumps(server)}'
    if root is None:
        return [
            "Neovim 0.11+: the plugin is the folder editors/neovim of the repository; add it to the",
            f"  runtimepath, then in init.lua: {setup}",
            "VS Code: build the extension in editors/vscode of the repository (npm ci && npm run package),",
            f"  install the .vsix, and in settings.json: {server_path}",
            f"Any LSP client: {shlex.quote(server)} serve (stdio); the repository's README has Helix and Emacs.",
        ]
    vscode = root / "editors" / "vscode"
    build = f"cd {shlex.quote(str(vscode))} && npm ci && npm run package"
    install = f"code --install-extension dist/{_vsix_name(vscode)}"
    return [
        "Neovim 0.11+, in init.lua:",
        f"  vim.opt.runtimepath:append({lua_string(str(root / 'editors' / 'neovim'))})",
        f"  {setup}",
        f"VS Code: {build} && {install}",
        f"  then in settings.json: {server_path}",
        f"Any LSP client: {shlex.quote(server)} serve (stdio); {root / 'README.md'} has Helix and Emacs.",
    ]
