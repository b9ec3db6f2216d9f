"""``infill engine``: the engine process, also serving the HTTP API when ``--http`` is given.

The engine knows nothing of HTTP: this command hands it the HTTP front as one of the fronts its process
serves (engine.host.server.FrontKind), over the same engine loop as its Unix socket.
"""

from __future__ import annotations

import argparse

import msgspec

from engine.host.launch import EngineLaunch
from engine.host.loop import EngineLoop
from engine.host.server import Front
from engine.host.server import main as engine_main
from engine.host.server import parse_args as parse_engine_args
from engine.protocol import Welcome
from infill_http.settings import HttpSettings


class HttpKind:
    """``--http`` and its flags (infill_http.settings), and the front they ask for."""

    @property
    def start_errors(self) -> tuple[type[Exception], ...]:
        from infill_http.api import HttpStartError

        return (HttpStartError,)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        HttpSettings.add_arguments(parser)

    def from_args(self, args: argparse.Namespace, launch: EngineLaunch) -> Front | None:
        settings = HttpSettings.from_args(args)
        if settings is None:
            return None
        if launch.idle_exit > 0:
            raise ValueError("--idle-exit does not go with --http: an engine that serves HTTP stays up until stopped")
        return HttpEngineFront(settings, log_level=args.log_level)


class HttpEngineFront:
    """The HTTP API of an engine process (an HttpFront on its event loop)."""

    def __init__(self, settings: HttpSettings, *, log_level: str) -> None:
        from infill_http.api import HttpFront

        self.settings = settings
        self.http = HttpFront(settings, log_level="warning" if log_level in ("info", "debug") else log_level)

    async def start(self) -> None:
        await self.http.start()

    def ready(self, engine: EngineLoop, welcome: Welcome, default_canvas: int) -> None:
        # The model directory is the operator's business, not a client's.
        self.http.ready(WelcomedEngine(engine, msgspec.structs.replace(welcome, model_dir="")),
                        default_canvas=default_canvas)

    async def stop(self) -> None:
        await self.http.stop()


class WelcomedEngine:
    """The engine loop as the HTTP API sees it, with the welcome it gives clients."""

    def __init__(self, engine: EngineLoop, welcome: Welcome) -> None:
        self.welcome = welcome
        self.submit = engine.submit
        self.cancel = engine.cancel
        self.cancel_owner = engine.cancel_owner
        self.status = engine.status


KINDS = (HttpKind(),)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, EngineLaunch, HttpSettings | None]:
    """The command line of ``infill engine``: (flags, launch, HTTP settings or None)."""
    args, launch, fronts = parse_engine_args(argv, KINDS)
    return args, launch, next((f.settings for f in fronts if isinstance(f, HttpEngineFront)), None)


def main(argv: list[str] | None = None) -> int:
    return engine_main(argv, KINDS)
