"""The language server's hold on the engine: make a client, start it, restart it with backoff.

With ``engine.url`` the engine is another machine's (over a WebSocket): it is never started or stopped
from here, and Restart Engine reconnects to it.

Nothing here imports torch: the client modules do not, and an in-process core is loaded only when started.
A dead engine is reported once (through ``on_outage``), answers become empty, and the next request
after the backoff tries a fresh client. A shared engine launched with other settings (model, device,
backend, dtype) is restarted with this server's when no other client uses it; otherwise ``on_notice``
says which settings are in force and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import importlib
import logging
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.clients.connect import SpawningClient, open_client, stop_engine
from engine.clients.interface import EngineClient, EngineError, EngineUnavailable
from engine.protocol import InfillRequest, InfillResult, RequestIds, StatusReply, Welcome
from infill_lsp.config import EngineSettings

log = logging.getLogger(__name__)

ClientFactory = Callable[[EngineSettings], EngineClient]
MAX_BACKOFF_S = 60.0
CLOSE_TIMEOUT_S = 5.0
STATUS_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 15.0


def resolve_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` (for test and development hooks named in settings)."""
    module_name, _, name = spec.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise EngineUnavailable(f"cannot load {spec!r}: {exc}") from None
    if not callable(target):
        raise EngineUnavailable(f"{spec!r} is not callable")
    return target


CODE_SETTINGS_ENV = "INFILL_ALLOW_CODE_SETTINGS"


def check_code_settings(settings: EngineSettings) -> None:
    """Refuse settings that name code to import unless the server's own environment allows them.

    ``engine.factory`` and ``engine.core_factory`` exist for tests and development. Editor settings can
    come from a workspace file, so naming code to run there must not be enough to run it.
    """
    named = settings.mode == "factory" or bool(settings.core_factory)
    if named and os.environ.get(CODE_SETTINGS_ENV) != "1":
        raise EngineUnavailable(
            "engine.factory / engine.core_factory are development settings; they are honoured only when "
            f"the server runs with {CODE_SETTINGS_ENV}=1"
        )


def make_engine_client(settings: EngineSettings) -> EngineClient:
    """Return an unstarted EngineClient for ``settings.url`` (a remote engine) or ``settings.mode``."""
    check_code_settings(settings)
    socket = Path(settings.socket) if settings.socket else None
    start_timeout = settings.start_timeout_ms / 1000
    if (remote := settings.remote()) is not None:
        return open_client(settings.launch(), remote=remote, start_timeout=start_timeout, client_name="infill-lsp")
    match settings.mode:
        case "spawn":
            return open_client(settings.launch(), socket=socket, start_timeout=start_timeout, client_name="infill-lsp")
        case "connect":
            return open_client(settings.launch(), socket=socket, spawn=False, client_name="infill-lsp")
        case "inproc":
            return open_client(settings.launch(), inproc=True, start_timeout=start_timeout)
        case "factory":
            return resolve_callable(settings.factory)(settings)
        case _:
            raise EngineUnavailable(f"unknown engine mode {settings.mode!r}")


async def _engine_status(client: EngineClient) -> StatusReply | None:
    try:
        return await asyncio.wait_for(client.status(), STATUS_TIMEOUT_S)
    except (EngineError, EngineUnavailable, TimeoutError):
        return None


def _other_clients(reply: StatusReply | None) -> int:
    """How many other clients the engine that sent ``reply`` serves (-1: it did not say)."""
    return reply.clients - 1 if reply is not None and reply.clients else -1


def settings_keeping(settings: EngineSettings, running: StatusReply) -> EngineSettings:
    """``settings`` with what they leave open (no model directory, ``auto``) set to what the engine
    ``running`` serves, so that a restart starts the same engine afresh."""
    launch = settings.launch().keeping(running)
    model_dir = str(launch.model_dir) if launch.model_dir is not None else ""
    return dataclasses.replace(settings, model_dir=model_dir, device=launch.device, backend=launch.backend,
                               dtype=launch.dtype)  # fmt: skip


def _clients(count: int) -> str:
    return f"{count} other client{'s' if count != 1 else ''}"


def settings_notice(welcome: Welcome, differences: list[str], others: int, mode: str, attempt: int = 0) -> str:
    """What to tell a user whose engine settings the shared engine does not serve, and why."""
    backend = f"{welcome.backend}, {welcome.dtype}" if welcome.dtype else welcome.backend
    serving = f"{welcome.model_name} on {welcome.device} ({backend})"
    asked = "; ".join(differences)
    if mode == "connect":
        why = ("engine.mode is connect, so this server does not restart it: restart it with your settings "
               "(infill engine restart --model/--device/--backend/--dtype) or use engine.mode spawn")
    elif attempt > 0:
        why = "it was just restarted with your settings and serves these anyway: check them with infill doctor"
    elif others > 0:
        why = (f"it also serves {_clients(others)}, so it keeps its settings; once they have gone, "
               "Restart Engine starts one with yours")
    else:
        why = "it could not be asked who else uses it, so it keeps its settings; Restart Engine tries again"
    return f"the engine in use serves {serving}, not your settings' {asked}: {why}"


class EngineState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    DOWN = "down"
    CLOSED = "closed"


class EngineLink:
    """Owns one EngineClient at a time for the server; every method returns within its timeout."""

    def __init__(
        self,
        settings: EngineSettings,
        factory: ClientFactory = make_engine_client,
        *,
        on_outage: Callable[[str], None] = lambda message: None,
        on_state: Callable[[EngineState], None] = lambda state: None,
        on_notice: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.on_outage = on_outage
        self.on_state = on_state
        self.on_notice = on_notice
        self.clock = clock
        self._state = EngineState.IDLE
        self.welcome: Welcome | None = None
        self.last_error = ""
        self.failures = 0  # consecutive
        self.restarts = 0
        self._client: EngineClient | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self._latencies: deque[float] = deque(maxlen=200)
        self.next_request_id = RequestIds("lsp")  # every request's one id, from here to the core and back
        self._auto_restart: asyncio.TimerHandle | None = None
        self._restart_settings: EngineSettings | None = None  # the next start's, after Restart Engine

    @property
    def state(self) -> EngineState:
        return self._state

    @state.setter
    def state(self, value: EngineState) -> None:
        changed, self._state = value is not self._state, value
        if changed:
            self.on_state(value)

    def backoff_s(self) -> float:
        base = self.settings.restart_backoff_ms / 1000
        return min(MAX_BACKOFF_S, base * 2 ** max(0, self.failures - 1))

    def ensure_started(self) -> None:
        """Begin starting the engine unless it runs, is starting, or is backing off."""
        if self.state in (EngineState.STARTING, EngineState.READY, EngineState.CLOSED):
            return
        if self.state is EngineState.DOWN and self.clock() < self._retry_at:
            return
        if self.state is EngineState.DOWN:
            self.restarts += 1
        self.state = EngineState.STARTING
        self._start_task = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        client: EngineClient | None = None
        try:
            for attempt in range(2):
                launching, self._restart_settings = self._restart_settings or self.settings, None
                client = self.factory(launching)
                self.welcome = await asyncio.wait_for(client.start(), self.settings.start_timeout_ms / 1000)
                differences = self._differences(self.welcome)
                if not differences:
                    break
                others = _other_clients(await _engine_status(client))
                spawned = self.settings.mode == "spawn" and isinstance(client, SpawningClient)
                if attempt == 0 and others == 0 and spawned:
                    log.info("the engine serves other settings (%s): restarting it with ours", "; ".join(differences))
                    stopping, client = client, None
                    await asyncio.wait_for(stop_engine(stopping, stopping.socket_path), STOP_TIMEOUT_S)
                    continue
                self.on_notice(settings_notice(self.welcome, differences, others, self.settings.mode, attempt))
                break
        except asyncio.CancelledError:
            self._close_soon(client)
            raise
        except Exception as exc:  # a broken factory or engine must not take the server down
            self._close_soon(client)
            self._fail(exc)
            return
        if self.state is EngineState.CLOSED:
            self._close_soon(client)
            return
        self._client, self.state = client, EngineState.READY  # failures reset on the first answer
        log.info("engine ready: %s", self.welcome)

    def _differences(self, welcome: Welcome) -> list[str]:
        """How a shared engine (spawn or connect mode) differs from these settings; [] elsewhere (a remote
        engine serves what its operator chose)."""
        if self.settings.mode not in ("spawn", "connect") or self.settings.url:
            return []
        return self.settings.launch().mismatches(welcome)

    def _fail(self, exc: BaseException | str) -> None:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            message = "the engine did not start in time"
        self.failures += 1
        self.last_error = message
        if self.state is not EngineState.CLOSED:
            self.state = EngineState.DOWN
        self._retry_at = self.clock() + self.backoff_s()
        self._close_soon(self._client)
        self._client = None
        log.warning("engine unavailable (%s failures): %s", self.failures, message)
        self.on_outage(message)
        self._schedule_restart()

    def _schedule_restart(self) -> None:
        """Restart on its own after the backoff, so the engine comes back without waiting for a request."""
        if self._auto_restart is not None:
            self._auto_restart.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._auto_restart = loop.call_later(self.backoff_s() + 0.01, self.ensure_started)

    def _close_soon(self, client: EngineClient | None) -> None:
        if client is not None:
            self._spawn(asyncio.wait_for(client.close(), CLOSE_TIMEOUT_S))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieve, never raise

    async def ready_client(self, timeout: float) -> EngineClient | None:
        """Return a started, live client, waiting up to ``timeout`` for a start in progress."""
        self.ensure_started()
        if self.state is EngineState.STARTING and self._start_task is not None:
            await asyncio.wait({self._start_task}, timeout=timeout)
        if self.state is EngineState.READY and self._client is not None:
            if self._client.alive:
                return self._client
            self._fail("the engine connection was lost")
        return None

    async def ready_welcome(self, timeout: float) -> Welcome | None:
        """The running engine's Welcome (its budgets), waiting up to ``timeout`` for it to start."""
        if self.welcome is None or self.state is not EngineState.READY:
            await self.ready_client(timeout)
        return self.welcome

    async def infill(self, request: InfillRequest, timeout: float) -> InfillResult | None:
        """Return the engine's result, or None when it is unavailable or failed this request."""
        began = self.clock()
        client = await self.ready_client(timeout)
        if client is None:
            return None
        remaining = max(0.05, timeout - (self.clock() - began))
        try:
            result = await asyncio.wait_for(client.infill(request, timeout=remaining), remaining + 1.0)
        except asyncio.CancelledError:
            self._spawn(asyncio.wait_for(client.cancel(request.request_id), CLOSE_TIMEOUT_S))
            raise
        except EngineError as exc:
            log.warning("engine rejected request %s: %s", request.request_id, exc)
            return None
        except (EngineUnavailable, TimeoutError) as exc:
            if isinstance(exc, TimeoutError):
                self._spawn(asyncio.wait_for(client.cancel(request.request_id), CLOSE_TIMEOUT_S))
            if client.alive and self._client is client:
                log.warning("engine request %s timed out or failed: %s", request.request_id, exc)
            elif self._client is client:
                self._fail(exc)
            return None
        self.failures = 0
        self._latencies.append((self.clock() - began) * 1000)
        return result

    def latency_ms(self) -> dict[str, float]:
        if not self._latencies:
            return {}
        ordered = sorted(self._latencies)
        return {
            "last": round(self._latencies[-1], 2),
            "mean": round(statistics.fmean(ordered), 2),
            "p50": round(ordered[len(ordered) // 2], 2),
            "p90": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 2),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
            "count": len(ordered),
        }

    async def status(self, timeout: float = 2.0) -> dict[str, Any]:
        """Engine state, handshake, live counters (when it answers in time) and latency."""
        remote = self.settings.remote()
        info: dict[str, Any] = {
            "state": self.state.value,
            "mode": "remote" if remote is not None else self.settings.mode,
            "failures": self.failures,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "latency_ms": self.latency_ms(),
        }
        if remote is not None:
            info["url"] = remote.address
        if self.welcome is not None:
            info.update(
                model=self.welcome.model_name,
                model_dir=self.welcome.model_dir,
                device=self.welcome.device,
                backend=self.welcome.backend,
                dtype=self.welcome.dtype,
                trained=self.welcome.trained,
                max_prefix_tokens=self.welcome.max_prefix_tokens,
                max_suffix_tokens=self.welcome.max_suffix_tokens,
                chars_per_token=self.welcome.chars_per_token,
                prompt_format=self.welcome.prompt_format,
            )
        if self.state is EngineState.READY and self._client is not None and self._client.alive:
            try:
                reply = await asyncio.wait_for(self._client.status(), timeout)
            except (EngineError, EngineUnavailable, TimeoutError) as exc:
                info["status_error"] = str(exc) or type(exc).__name__
            else:
                info.update(
                    active=reply.active,
                    queued=reply.queued,
                    completed=reply.completed,
                    cache_entries=reply.cache_entries,
                    cache_hit_tokens=reply.cache_hit_tokens,
                    cache_lookup_tokens=reply.cache_lookup_tokens,
                    cache_hit_rate=(
                        round(reply.cache_hit_tokens / reply.cache_lookup_tokens, 4)
                        if reply.cache_lookup_tokens
                        else None
                    ),
                    mean_step_ms=round(reply.mean_step_ms, 3),
                    trimmed_prompts=reply.trimmed_prompts,
                    pid=reply.pid,
                    rss_bytes=reply.rss_bytes,
                    uptime_s=reply.uptime_s,
                    clients=reply.clients,
                )
        return info

    async def restart(self) -> str:
        """Restart now, ignoring any backoff, and say what was done: a spawned engine that no other client
        uses is stopped (Shutdown) and a fresh one started; a shared one, a remote one, or another mode's,
        is reconnected."""
        if self.state is EngineState.CLOSED:
            return "the language server is shutting down"
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
        client, self._client = self._client, None
        message = "reconnecting to the engine"
        if isinstance(client, SpawningClient) and client.alive:
            message = await self._stop_unless_shared(client)
        else:
            self._close_soon(client)
        if (remote := self.settings.remote()) is not None:  # another machine's: never stopped from here
            message = f"reconnecting to the engine at {remote.address} (its operator restarts it)"
        self.state, self.failures = EngineState.IDLE, 0
        self.ensure_started()
        return message

    async def _stop_unless_shared(self, client: SpawningClient) -> str:
        reply = await _engine_status(client)
        others = _other_clients(reply)
        if others != 0:
            self._close_soon(client)
            if others < 0:
                return "the engine did not say who else uses it, so it keeps running; reconnecting"
            return f"the engine also serves {_clients(others)}, so it keeps running; reconnecting"
        pid = client.engine_pid
        try:
            await asyncio.wait_for(stop_engine(client, client.socket_path), STOP_TIMEOUT_S)
        except (EngineError, EngineUnavailable, TimeoutError) as exc:
            self._close_soon(client)
            return f"could not stop the engine (pid {pid}): {exc or type(exc).__name__}; reconnecting"
        assert reply is not None  # others == 0 means it answered
        self._restart_settings = settings_keeping(self.settings, reply)
        return f"stopped the engine (pid {pid}); starting a fresh one"

    async def close(self) -> None:
        self.state = EngineState.CLOSED
        if self._auto_restart is not None:
            self._auto_restart.cancel()
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_S)
        for task in list(self._background):
            task.cancel()
