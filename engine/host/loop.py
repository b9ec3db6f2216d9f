"""Drives one EngineCore on a background thread: submissions in from any thread, routed messages out.

The core is pure (add / cancel / step, no IO, not thread-safe) and is touched only by the loop thread.
Other threads post commands to a queue; between two denoising steps the loop applies them, so a
cancellation frees its batch slot within one step. A request keeps the id it was born with (unique across
clients: ``engine.protocol.RequestIds``) from the client to the core and back; the loop routes each
outgoing message to the sink of the owner that submitted it, refuses an id already in flight, and lets only
that owner cancel it.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from engine.protocol import ErrorCode, ErrorReply, InfillRequest, InfillResult, Partial, StatusReply, Welcome

log = logging.getLogger(__name__)

CoreMessage = Partial | InfillResult | ErrorReply
Sink = Callable[[CoreMessage], None]
"""Receives a request's messages, on the loop thread; it must not block (hand off to your own thread)."""

_MAX_FAILURE_BACKOFF_S = 1.0


class EngineCore(Protocol):
    """What the loop needs from a core (engine.core.engine_core.EngineCore, or a fake in tests)."""

    welcome: Welcome

    def add(self, request: InfillRequest) -> None: ...

    def cancel(self, request_id: str) -> None: ...

    def step(self) -> list[CoreMessage]: ...

    def has_work(self) -> bool: ...

    def status(self, request_id: str) -> StatusReply: ...

    def fail_all(self, message: str) -> list[CoreMessage]:
        """Drop every request with an ErrorReply(INTERNAL); called after ``step`` raised."""
        ...


def _libc():
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
_M_MMAP_THRESHOLD = -3
if _LIBC is not None:
    # Large buffers (a step's logits, batched caches) come from mmap and go back to the OS when freed,
    # instead of glibc raising its threshold after the first free and keeping them in the heap for good.
    _LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


def release_free_memory() -> None:
    """Return freed heap memory to the OS (glibc's malloc_trim; nothing elsewhere)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class LoopClosed(RuntimeError):
    """The loop is shut down and takes no more work."""


# ---- commands posted to the loop thread -------------------------------------------------------


@dataclass(slots=True, frozen=True)
class _Submit:
    owner: Hashable
    request: InfillRequest
    sink: Sink


@dataclass(slots=True, frozen=True)
class _Cancel:
    owner: Hashable
    request_id: str


@dataclass(slots=True, frozen=True)
class _CancelOwner:
    owner: Hashable


@dataclass(slots=True, frozen=True)
class _Status:
    request_id: str
    future: concurrent.futures.Future[StatusReply]


_Command = _Submit | _Cancel | _CancelOwner | _Status


@dataclass(slots=True)
class _Route:
    owner: Hashable
    sink: Sink | None  # None once the owner went away: its messages are dropped


class EngineLoop:
    """Owns ``core`` and steps it on one background thread while it has work; idle, it sleeps."""

    def __init__(self, core: EngineCore, *, name: str = "engine-loop", max_pending: int = 1024) -> None:
        self._core = core
        self._cond = threading.Condition()
        self._commands: collections.deque[_Command] = collections.deque()
        # Submissions waiting for the loop thread: past this many, a request is answered "busy" at once
        # (a burst faster than the core admits must not queue without bound).
        self.max_pending = max_pending
        self._pending_submits = 0
        self.refused_busy = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # Loop-thread state: only _run and what it calls touch these.
        self._routes: dict[str, _Route] = {}

    @property
    def welcome(self) -> Welcome:
        return self._core.welcome

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._closing

    def start(self) -> None:
        self._thread.start()

    def __enter__(self) -> EngineLoop:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- any thread ---------------------------------------------------------------------------

    def submit(self, owner: Hashable, request: InfillRequest, sink: Sink) -> None:
        """Queue ``request`` (ids are ``owner``'s own); its Partial/InfillResult/ErrorReply go to ``sink``.

        With ``max_pending`` submissions already waiting, it is answered OVERLOADED at once instead.
        """
        with self._cond:
            busy = self._pending_submits >= self.max_pending
            if busy:
                self.refused_busy += 1
            else:
                self._pending_submits += 1
        if busy:
            message = f"the engine is busy ({self.max_pending} requests waiting); try again"
            _deliver(sink, ErrorReply(request.request_id, ErrorCode.OVERLOADED, message))
            return
        if not self._post(_Submit(owner, request, sink)):
            with self._cond:
                self._pending_submits -= 1
            _deliver(sink, _shutting_down(request.request_id))

    def cancel(self, owner: Hashable, request_id: str) -> None:
        """End ``owner``'s request ``request_id`` at the next step with a CANCELLED result (no-op if done
        or not ``owner``'s)."""
        self._post(_Cancel(owner, request_id))

    def cancel_owner(self, owner: Hashable) -> None:
        """Cancel every request of ``owner`` (a disconnected client) and drop their messages."""
        self._post(_CancelOwner(owner))

    def status(self, request_id: str = "") -> concurrent.futures.Future[StatusReply]:
        """Return a future of the core's StatusReply, answered as ``request_id``, between two steps."""
        future: concurrent.futures.Future[StatusReply] = concurrent.futures.Future()
        if not self._post(_Status(request_id, future)):
            future.set_exception(LoopClosed("the engine loop is shut down"))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop; requests still in flight end with ErrorReply(SHUTTING_DOWN)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the engine loop did not stop within %.1fs (a step is still running)", timeout)
        elif not self._thread.is_alive():
            self._fail_pending_commands()

    def _post(self, command: _Command) -> bool:
        with self._cond:
            if self._closing:
                return False
            self._commands.append(command)
            self._cond.notify()
            return True

    # ---- loop thread --------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            while True:
                with self._cond:
                    if failures:  # the core keeps failing with nothing to fail: back off, don't spin
                        self._cond.wait_for(
                            lambda: self._commands or self._closing,
                            timeout=min(_MAX_FAILURE_BACKOFF_S, 0.01 * 2**failures),
                        )
                    if not self._commands and not self._closing and not self._core_has_work():
                        release_free_memory()  # going idle: hand the step's freed buffers back to the OS
                    while not self._commands and not self._closing and not self._core_has_work():
                        self._cond.wait()  # idle: sleep until a command arrives
                    if self._closing:
                        break
                    commands = list(self._commands)
                    self._commands.clear()
                    self._pending_submits -= sum(isinstance(c, _Submit) for c in commands)
                for command in commands:
                    self._apply(command)
                if self._core_has_work():
                    failures = 0 if self._step() else failures + 1
                self._fail_lost_requests()
        except BaseException:
            log.exception("the engine loop crashed")
            raise
        finally:
            with self._cond:
                self._closing = True
            self._fail_routes(ErrorCode.SHUTTING_DOWN, "the engine is shutting down")
            self._fail_pending_commands()

    def _apply(self, command: _Command) -> None:
        match command:
            case _Submit(owner=owner, request=request, sink=sink):
                self._add(owner, request, sink)
            case _Cancel(owner=owner, request_id=request_id):
                route = self._routes.get(request_id)
                if route is not None and route.owner == owner:  # only its owner cancels a request
                    self._cancel_in_core(request_id)
            case _CancelOwner(owner=owner):
                for request_id, route in list(self._routes.items()):
                    if route.owner == owner:
                        route.sink = None
                        self._cancel_in_core(request_id)
            case _Status(request_id=request_id, future=future):
                if not future.set_running_or_notify_cancel():
                    return  # the asker gave up
                try:
                    reply = self._core.status(request_id)
                except Exception as exc:
                    log.exception("core.status failed")
                    future.set_exception(exc)
                else:
                    future.set_result(reply)

    def _add(self, owner: Hashable, request: InfillRequest, sink: Sink) -> None:
        request_id = request.request_id
        if request_id in self._routes:
            message = f"request id {request_id} is already in flight"
            _deliver(sink, ErrorReply(request_id, ErrorCode.BAD_REQUEST, message))
            return
        try:
            self._core.add(request)
        except ValueError as exc:
            _deliver(sink, ErrorReply(request_id, ErrorCode.BAD_REQUEST, str(exc)))
            return
        except OverflowError as exc:  # the core's queue is full
            _deliver(sink, ErrorReply(request_id, ErrorCode.OVERLOADED, str(exc)))
            return
        except Exception as exc:
            log.exception("core.add failed")
            _deliver(
                sink,
                ErrorReply(request_id, ErrorCode.INTERNAL, f"the engine could not add the request: {exc!r}"),
            )
            return
        self._routes[request_id] = _Route(owner, sink)

    def _step(self) -> bool:
        try:
            messages = self._core.step()
        except Exception as exc:
            log.exception("an engine step failed")
            had_requests = bool(self._routes)
            # The core does not say which requests were in the failed batch: fail every live one.
            message = f"the engine step failed: {exc!r}"
            try:
                for reply in self._core.fail_all(message):
                    self._route(reply)
            except Exception:
                log.exception("core.fail_all failed")
            self._fail_routes(ErrorCode.INTERNAL, message)
            return had_requests
        for message in messages:
            self._route(message)
        return True

    def _route(self, message: CoreMessage) -> None:
        route = self._routes.get(message.request_id)
        if route is None:
            return  # a request already failed or forgotten
        if isinstance(message, InfillResult | ErrorReply):
            self._forget(message.request_id)
        if route.sink is not None:
            _deliver(route.sink, message)

    def _fail_lost_requests(self) -> None:
        """An idle core that still owes answers dropped them: fail those requests instead of hanging."""
        if self._routes and not self._core_has_work():
            self._fail_routes(ErrorCode.INTERNAL, "the engine core dropped the request")

    def _fail_routes(self, code: ErrorCode, message: str) -> None:
        for request_id in list(self._routes):
            route = self._forget(request_id)
            if route.sink is not None:
                _deliver(route.sink, ErrorReply(request_id, code, message))

    def _fail_pending_commands(self) -> None:
        with self._cond:
            commands = list(self._commands)
            self._commands.clear()
        for command in commands:
            match command:
                case _Submit(request=request, sink=sink):
                    _deliver(sink, _shutting_down(request.request_id))
                case _Status(future=future):
                    if future.set_running_or_notify_cancel():
                        future.set_exception(LoopClosed("the engine loop is shut down"))

    def _forget(self, request_id: str) -> _Route:
        return self._routes.pop(request_id)

    def _cancel_in_core(self, request_id: str) -> None:
        try:
            self._core.cancel(request_id)
        except Exception:
            log.exception("core.cancel failed")

    def _core_has_work(self) -> bool:
        try:
            return self._core.has_work()
        except Exception:
            log.exception("core.has_work failed")
            return False

def _deliver(sink: Sink, message: CoreMessage) -> None:
    try:
        sink(message)
    except Exception:
        log.exception("a request sink failed")


def _shutting_down(request_id: str) -> ErrorReply:
    return ErrorReply(request_id, ErrorCode.SHUTTING_DOWN, "the engine is shutting down")
