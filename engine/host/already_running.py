"""What to tell a user whose ``infill engine`` found another engine holding its socket: the commands to run."""

from __future__ import annotations

import shlex
from pathlib import Path


def already_running_hint(argv: list[str], socket_path: Path, *, default_socket: Path, http: bool) -> str:
    """What to do when ``infill engine ARGV`` found another engine on ``socket_path``: the commands that
    stop it (and, for ``--http`` on the default socket, start this one in its place) or run beside it."""
    at = "" if socket_path == default_socket else f" --socket {shlex.quote(str(socket_path))}"
    command = shlex.join(["infill", "engine", *argv])
    beside = socket_path.with_name(("engine-http" if http else "engine-2") + socket_path.suffix)
    lines = [f"an engine is already running on {socket_path} (`infill engine status{at}` says what it serves)."]
    if http and not at:
        lines += [
            "It is likely an editor's engine, which stays up a while after the editor closes. To serve HTTP "
            "from this socket instead, stop it and start yours (editors join yours when they next need an engine):",
            f"    infill engine stop && {command}",
        ]
    else:
        lines += ["To replace it, stop it and run this command again:", f"    infill engine stop{at} && {command}"]
    lines += [
        "Or run a second engine beside it, on another socket:",
        f"    {command} --socket {shlex.quote(str(beside))}",
    ]
    return "\n".join(lines)
