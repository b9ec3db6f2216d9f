"""The engine's queue policy: which waiting prompts a step encodes first, and which canvases it denoises.

Two orderings, one after the other:

- by class: interactive fills, then next-edit requests, then cache warm-ups (``InfillRequest.warm``), then
  batch work. A class is served before the next is looked at, in both the prefill budget and the batch;
- within a class, fairly between clients (``InfillRequest.client``): each step's batch of canvases is
  shared out one canvas per client in turn (max-min fair: a client wanting less than its share gets all
  it wants, the others split the rest), and waiting prompts are encoded one per client in turn, the
  client with the fewest requests in the engine first. A client with one light request beside another holding
  dozens of heavy ones is encoded and denoised in the first step after it arrives.

A request that arrives waits for the step in flight. On a CPU a step's cost grows with the tokens it encodes and
denoises, so while several clients have work, or one has a backlog, ``StepPace`` bounds each step's work to about
a time target, learnt from what past steps cost per token: the wait of a newcomer is then about one target,
whatever the others asked for. A client alone with a little work is not paced: it waits only on its own steps,
which more passes would only slow.

Pure: no torch, no IO. The core hands in its jobs in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

from engine.protocol import InfillRequest, Priority

# Lower is served first. Warm-ups sit between next-edit and batch work: they only encode a prompt, and
# what they prepare is an editor's next interactive fill.
CLASS_RANKS = {Priority.INTERACTIVE: 0, Priority.NEXT_EDIT: 1, Priority.BATCH: 3}
WARM_RANK = 2
PRIORITIES = tuple(int(p) for p in CLASS_RANKS)


class Queued(Protocol):
    @property
    def request(self) -> InfillRequest: ...


J = TypeVar("J", bound=Queued)
S = TypeVar("S")
T = TypeVar("T")


def class_rank(request: InfillRequest) -> int:
    """The request's service class (lower first); a priority this engine does not know is batch work."""
    base = CLASS_RANKS.get(request.priority, CLASS_RANKS[Priority.BATCH])  # type: ignore[call-overload]
    return max(base, WARM_RANK) if request.warm else base


def _by_class_and_client(jobs: Iterable[J]) -> dict[int, dict[str, list[J]]]:
    """``jobs`` by class rank (ascending), then by client (in order of each client's first job)."""
    classes: dict[int, dict[str, list[J]]] = {}
    for job in jobs:
        request = job.request
        classes.setdefault(class_rank(request), {}).setdefault(request.client, []).append(job)
    return dict(sorted(classes.items()))


def prefill_order(waiting: Iterable[J], load: Mapping[str, int] | None = None) -> list[J]:
    """The order to encode ``waiting`` prompts in (given in arrival order): class by class; within a class,
    one job per client in turn, the clients with the least ``load`` (requests in the engine) first."""
    load = load or {}
    order: list[J] = []
    for clients in _by_class_and_client(waiting).values():
        queues = sorted(clients.values(), key=lambda q: load.get(q[0].request.client, 0))  # stable: arrival
        order.extend(_round_robin(queues))
    return order


def batch_share(pending: Sequence[tuple[J, Sequence[S]]], capacity: int, *, equalize: float = 0.0,
                size: Callable[[S], int] = lambda canvas: 1, tokens: int | None = None) -> list[tuple[J, S]]:
    """The (job, canvas) pairs one step denoises, at most ``capacity``: ``pending`` (jobs in arrival order,
    each with its canvases not yet done) class by class, each class's room shared out between its clients
    one canvas at a time. A client's canvases are taken in its own job order. ``equalize`` > 0: while a class
    has several clients, none gets more than ``equalize`` times the smallest client's want, in ``size`` units (a
    canvas's tokens: on a CPU a step costs in proportion to the tokens it denoises, so this keeps a light
    client's steps about as short as alone; a heavier client waits a step rather than slow it down).
    ``tokens``: the step's room in ``size`` units (``StepPace``); within it, each class's chosen canvases are
    taken one client at a time in turn, the client with the fewest first, and at least one canvas is always
    taken, so every step makes progress."""
    chosen: list[tuple[J, S]] = []
    classes = _by_class_and_client(job for job, canvases in pending if canvases)
    canvases_of = {id(job): canvases for job, canvases in pending}
    for clients in classes.values():
        room = capacity - len(chosen)
        if room <= 0:
            break
        wants = [[(job, c) for job in jobs for c in canvases_of[id(job)]] for jobs in clients.values()]
        claims = [len(w) for w in wants]
        if equalize > 0 and len(claims) > 1:
            sizes = [[size(canvas) for _, canvas in w] for w in wants]
            cap = equalize * min(sum(s) for s in sizes)
            claims = [_fitting(s, cap) for s in sizes]
        shares = [pairs[:quota] for pairs, quota in zip(wants, fair_quotas(claims, room), strict=True)]
        chosen.extend(_round_robin(sorted(shares, key=len)))  # the smallest share first: it fits any room
    if tokens is None:
        return chosen
    kept = _fitting([size(canvas) for _, canvas in chosen], tokens)
    return chosen[: max(1, kept)]


def _fitting(sizes: Sequence[int], cap: float) -> int:
    """How many of ``sizes``, taken in order, fit in ``cap``."""
    total = 0
    for count, each in enumerate(sizes):
        total += each
        if total > cap:
            return count
    return len(sizes)


def fair_quotas(wants: Sequence[int], room: int) -> list[int]:
    """Max-min fair shares of ``room`` between claims of ``wants`` (one unit to each unmet claim in turn)."""
    quotas = [0] * len(wants)
    room = max(0, room)
    open_claims = [i for i, w in enumerate(wants) if w > 0]
    while room and open_claims:
        level = min(min(wants[i] - quotas[i] for i in open_claims), room // len(open_claims))
        if level == 0:  # fewer units left than claims: one each, in order
            for i in open_claims[:room]:
                quotas[i] += 1
            break
        for i in open_claims:
            quotas[i] += level
        room -= level * len(open_claims)
        open_claims = [i for i in open_claims if quotas[i] < wants[i]]
    return quotas


def _round_robin(queues: Sequence[Sequence[T]]) -> list[T]:
    out: list[T] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        out.extend(q[depth] for q in queues if depth < len(q))
    return out


def client_load(jobs: Iterable[Queued]) -> dict[str, int]:
    """Requests per client in ``jobs`` (the load ``prefill_order`` weighs clients by)."""
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.request.client] = counts.get(job.request.client, 0) + 1
    return counts


class StepPace:
    """How much one step may encode and denoise so that it lasts about ``seconds`` (0: no bound).

    The cost of a prompt token and of a canvas token are moving averages of what past steps measured
    (``observed``), seconds per token including each pass's fixed cost, so small steps err on the short side.
    Before the first measurement a step takes a cautious amount (``FIRST_PROMPT_TOKENS``, ``FIRST_CANVAS_TOKENS``).
    When a step has both kinds of work, encoding gets up to ``PROMPT_SHARE`` of the target and denoising what
    is left of it; a step always makes some progress (``LEAST_PROMPT_TOKENS`` of a prompt, one canvas).
    """

    FIRST_PROMPT_TOKENS = 256
    FIRST_CANVAS_TOKENS = 256
    LEAST_PROMPT_TOKENS = 32  # a step's encoding, however dear a token has looked
    PROMPT_SHARE = 0.5
    WEIGHT = 0.3  # of the newest measurement in the moving average

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a step's time target must be >= 0 seconds, got {seconds}")
        self.seconds = seconds
        self.per_token: dict[str, float] = {}  # "prompt" / "canvas" -> seconds per token

    def observed(self, kind: str, tokens: int, seconds: float) -> None:
        """Record that ``tokens`` of ``kind`` ("prompt" or "canvas") took ``seconds``."""
        if tokens <= 0 or seconds <= 0:
            return
        cost = seconds / tokens
        old = self.per_token.get(kind)
        self.per_token[kind] = cost if old is None else old + self.WEIGHT * (cost - old)

    def prompt_tokens(self, limit: int, *, canvases_waiting: bool) -> int:
        """The prompt tokens this step may encode (at most ``limit``, the configured budget)."""
        if not self.seconds:
            return limit
        cost = self.per_token.get("prompt")
        if cost is None:
            return min(limit, self.FIRST_PROMPT_TOKENS)
        share = self.PROMPT_SHARE if canvases_waiting else 1.0
        return min(limit, max(self.LEAST_PROMPT_TOKENS, int(self.seconds * share / cost)))

    def canvas_tokens(self, spent: float) -> int | None:
        """The canvas tokens this step may denoise after ``spent`` seconds of encoding (None: no bound)."""
        if not self.seconds:
            return None
        cost = self.per_token.get("canvas")
        if cost is None:
            return self.FIRST_CANVAS_TOKENS
        return max(0, int((self.seconds - spent) / cost))
