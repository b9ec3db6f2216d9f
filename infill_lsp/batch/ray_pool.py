"""Beyond one machine: waves handed to Ray actors, each hosting its own EngineCore.

One actor per GPU of the cluster (``num_gpus=1``, the core on ``cuda``), or ``actors`` CPU actors
where there are none. Requests and answers cross as msgpack bytes of the wire-format structs (no
pickled objects of ours). Ray is imported only here and only when ``--ray`` is given.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from engine.clients.interface import EngineError
from engine.host.launch import EngineLaunch
from engine.protocol import ErrorReply, InfillRequest, InfillResult, Welcome
from infill_lsp.batch.driving import OnAnswer

_requests_decoder = msgspec.msgpack.Decoder(list[InfillRequest])
_answers_decoder = msgspec.msgpack.Decoder(list[InfillResult | ErrorReply])
_welcome_decoder = msgspec.msgpack.Decoder(Welcome)
_encoder = msgspec.msgpack.Encoder()


class EngineActorBody:
    """What each actor runs: an in-process engine client over a core it loads itself."""

    def __init__(self, launch: EngineLaunch, timeout: float) -> None:
        from engine.clients.connect import open_client

        self._loop = asyncio.new_event_loop()
        self._client = open_client(launch, inproc=True, request_timeout=timeout)
        self._timeout = timeout
        self.welcome = self._loop.run_until_complete(self._client.start())

    def model(self) -> str:
        return f"{self.welcome.model_name} ({self.welcome.device})"

    def handshake(self) -> bytes:
        """The engine's Welcome, msgpack-encoded."""
        return _encoder.encode(self.welcome)

    def fill(self, wave: bytes) -> bytes:
        """Fill a wave of msgpack-encoded InfillRequests; return msgpack InfillResult | ErrorReply per request."""
        from infill_lsp.batch.driving import LocalWaveRunner

        requests = _requests_decoder.decode(wave)
        answers: list[InfillResult | ErrorReply | None] = [None] * len(requests)

        def keep(index: int, answer) -> None:
            if isinstance(answer, InfillResult):
                answers[index] = answer
            else:
                code = getattr(answer, "code", 3)
                answers[index] = ErrorReply(requests[index].request_id, code, str(answer))

        runner = LocalWaveRunner(self._client, self._timeout)
        self._loop.run_until_complete(runner.run_wave(requests, keep))
        return _encoder.encode(answers)


def actor_launch(launch: EngineLaunch, device: str) -> EngineLaunch:
    """``launch`` on ``device`` when it leaves the device to ``auto``."""
    return dataclasses.replace(launch, device=device) if launch.device == "auto" else launch


def connect(address: str, actors: int):
    """Connect to (``auto`` / an address) or start (``local``) a Ray cluster; return (ray, started_here)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs the 'ray' package (pip install 'ray==2.60.0')") from None
    if ray.is_initialized():
        return ray, False
    if address == "local":
        ray.init(num_cpus=max(1, actors), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray, True


@dataclass(slots=True)
class RayWaveRunner:
    """Runs waves on a pool of engine actors, one wave per actor at a time."""

    ray: object
    handles: list
    slots: int = 0
    welcome: Welcome | None = None  # the first actor's (every actor loads the same launch)
    _free: asyncio.Queue | None = field(default=None)

    @classmethod
    def start(cls, ray, *, launch: EngineLaunch, actors: int, timeout: float) -> RayWaveRunner:
        """One actor per GPU of the cluster, else ``actors`` CPU actors; an ``auto`` device becomes the
        actors' (cuda or cpu), a device named in ``launch`` is kept."""
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            remote = ray.remote(num_gpus=1, num_cpus=1)(EngineActorBody)
            launch = actor_launch(launch, "cuda")
            handles = [remote.remote(launch, timeout) for _ in range(gpus)]
        else:
            remote = ray.remote(num_cpus=1)(EngineActorBody)
            launch = actor_launch(launch, "cpu")
            handles = [remote.remote(launch, timeout) for _ in range(max(1, actors))]
        return cls(ray, handles, slots=len(handles))

    async def model(self) -> str:
        """Who fills the waves; also learns the engines' prompt budgets (``welcome``)."""
        self.welcome = _welcome_decoder.decode(await self.handles[0].handshake.remote())
        names = await asyncio.gather(*[h.model.remote() for h in self.handles])
        return ", ".join(sorted(set(names))) + f" on {len(self.handles)} Ray actors"

    async def run_wave(self, requests: Sequence[InfillRequest], on_answer: OnAnswer) -> None:
        if self._free is None:
            self._free = asyncio.Queue()
            for handle in self.handles:
                self._free.put_nowait(handle)
        handle = await self._free.get()
        ref = handle.fill.remote(_encoder.encode(list(requests)))
        try:
            answers = _answers_decoder.decode(await ref)
        except asyncio.CancelledError:
            self.ray.cancel(ref)
            raise
        finally:
            self._free.put_nowait(handle)
        for index, answer in zip(itertools.count(), answers, strict=False):
            if isinstance(answer, ErrorReply):
                on_answer(index, EngineError(answer.code, answer.message))
            else:
                on_answer(index, answer)

    def close(self) -> None:
        for handle in self.handles:
            self.ray.kill(handle)
