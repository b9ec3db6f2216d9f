"""``infill engine status|stop|restart``: ask the engine on a socket what it serves, stop it, or start it afresh.

Each joins the engine as one more client (never starting one, except ``restart``), so what it reports
counts itself among the clients; the numbers shown leave it out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import msgspec

from engine.clients.connect import spawn_or_connect, stop_engine
from engine.clients.interface import EngineError, EngineUnavailable
from engine.clients.unix_socket import EngineNotListening, SocketEngineClient
from engine.host.launch import EDITOR_IDLE_EXIT_S, EngineLaunch
from engine.host.server import default_socket_path
from engine.protocol import StatusReply

ACTIONS = ("status", "stop", "restart")
EXIT_OK, EXIT_NONE = 0, 1
_CLIENT_NAME = "infill-engine-control"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    socket_path = args.socket if args.socket is not None else default_socket_path()
    try:
        return asyncio.run(_ACTIONS[args.action](args, socket_path))
    except (EngineError, EngineUnavailable, TimeoutError) as exc:
        print(f"infill engine {args.action}: {exc or type(exc).__name__}", file=sys.stderr)
        return EXIT_NONE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infill engine", description="Look after the running engine.")
    actions = parser.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="what the engine on the socket serves, its memory, uptime, clients")
    status.add_argument("--json", action="store_true", help="one JSON object")
    actions.add_parser("stop", help="stop the engine on the socket (its clients start another when they need one)")
    restart = actions.add_parser(
        "restart", help="stop the engine and start a fresh one; flags not given (or auto) keep the running engine's "
        f"(with none running, it starts as an editor would: exiting {EDITOR_IDLE_EXIT_S:g}s after its last client)"
    )
    EngineLaunch.add_arguments(restart, process=True)
    restart.set_defaults(idle_exit=None)  # not given: the running engine's, or an editor's
    restart.add_argument("--start-timeout", type=float, default=300.0, metavar="SECONDS",
                         help="how long to wait for the new engine to serve (default 300)")
    for sub in (status, actions.choices["stop"], restart):
        sub.add_argument("--socket", type=Path, default=None, help=f"socket path (default: {default_socket_path()})")
    return parser


async def _joined(socket_path: Path) -> SocketEngineClient | None:
    client = SocketEngineClient(socket_path, client_name=_CLIENT_NAME)
    try:
        await client.start()
    except EngineNotListening:
        return None
    return client


async def _status(args: argparse.Namespace, socket_path: Path) -> int:
    client = await _joined(socket_path)
    if client is None:
        print(json.dumps({"running": False, "socket": str(socket_path)}) if args.json
              else f"no engine is listening on {socket_path}")
        return EXIT_NONE
    try:
        reply = await client.status(timeout=10.0)
    finally:
        await client.close()
    if args.json:
        info = msgspec.structs.asdict(reply)
        info.pop("request_id")
        info.update(running=True, socket=str(socket_path), clients=max(0, reply.clients - 1))
        print(json.dumps(info, indent=2))
    else:
        print("\n".join(status_lines(reply, socket_path)))
    return EXIT_OK


def status_lines(reply: StatusReply, socket_path: Path) -> list[str]:
    """``reply`` for a person to read (the clients leave out the one that asked)."""
    model = reply.model_name + (f" ({reply.model_dir})" if reply.model_dir else "")
    idle = f"{reply.idle_exit_s:g}s after its last client leaves" if reply.idle_exit_s else "never (no --idle-exit)"
    return [
        f"engine on {socket_path}",
        f"  pid        {reply.pid or 'unknown'}",
        f"  model      {model}",
        f"  device     {reply.device}   backend {reply.backend}   dtype {reply.dtype or 'unknown'}",
        f"  memory     {reply.rss_bytes / 2**20:.1f} MiB resident",
        f"  uptime     {_duration(reply.uptime_s)}",
        f"  clients    {max(0, reply.clients - 1)}",
        f"  queue      {reply.active} active, {reply.queued} queued, {reply.completed} completed",
        f"  exits      {idle}",
    ]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


async def _stop(args: argparse.Namespace, socket_path: Path) -> int:
    client = await _joined(socket_path)
    if client is None:
        print(f"no engine is listening on {socket_path}")
        return EXIT_NONE
    reply = await client.status(timeout=10.0)
    await stop_engine(client, socket_path)
    others = max(0, reply.clients - 1)
    print(f"stopped the engine (pid {reply.pid})" + (f"; {others} client(s) were connected" if others else ""))
    return EXIT_OK


async def _restart(args: argparse.Namespace, socket_path: Path) -> int:
    client = await _joined(socket_path)
    reply: StatusReply | None = None
    if client is not None:
        reply = await client.status(timeout=10.0)
        await stop_engine(client, socket_path)
    launch = restart_launch(args, reply)
    fresh = await spawn_or_connect(socket_path, launch, args.start_timeout, client_name=_CLIENT_NAME)
    try:
        pid = fresh.engine_pid
        welcome = fresh.welcome
    finally:
        await fresh.close()
    was = f"stopped pid {reply.pid}, " if reply is not None else "none was running; "
    served = f"{welcome.model_name} on {welcome.device}" if welcome is not None else "its model"
    exits = (f"exits {launch.idle_exit:g}s after its last client leaves" if launch.idle_exit
             else "stays up until `infill engine stop`")
    print(f"infill engine restart: {was}started pid {pid} serving {served}; it {exits} "
          f"(log: {socket_path.with_suffix('.log')})")
    return EXIT_OK


def restart_launch(args: argparse.Namespace, running: StatusReply | None) -> EngineLaunch:
    """The launch of a restart: the flags given, and the running engine's values where they leave it open.

    With none running, an engine started in the background exits as an editor's would (EDITOR_IDLE_EXIT_S
    after its last client) unless ``--idle-exit`` says otherwise: nothing else would ever stop it."""
    idle_exit = args.idle_exit
    if idle_exit is None:
        idle_exit = running.idle_exit_s if running else EDITOR_IDLE_EXIT_S
    launch = EngineLaunch(model_dir=args.model, device=args.device or "auto", backend=args.backend or "auto",
                          dtype=args.dtype or "auto", idle_exit=idle_exit, core_factory=args.core_factory or "")
    return launch.keeping(running) if running is not None else launch


_ACTIONS = {"status": _status, "stop": _stop, "restart": _restart}
