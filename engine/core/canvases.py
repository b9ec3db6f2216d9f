"""A request's canvases: their lengths, how each starts (noise, the typed text, a seed or a draft, the suffix's
start) and the generator each draws from; how a denoising step counts on one. No IO."""

from __future__ import annotations

import hashlib

import torch

from engine.core.config import EngineConfig
from engine.core.jobs import Job, Slot
from engine.core.sampler import GenerateConfig, initial_canvas
from engine.prompt.formats import BoundFormat
from engine.prompt.tokenizer import InfillTokenizer
from engine.protocol import InfillRequest


class Canvases:
    """Builds the canvases of the core's requests (``EngineCore.canvases``)."""

    def __init__(self, config: EngineConfig, format: BoundFormat, tokenizer: InfillTokenizer, *, vocab_size: int,
                 device: torch.device | str, canvas_length: int, generation: GenerateConfig | None) -> None:
        self.config = config
        self.format = format
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.device = device
        self.canvas_length = canvas_length  # the length the checkpoint was trained on (0: unknown)
        self.generation = generation
        self.noise_low = format.noise_low

    def widths(self, asked: tuple[int, ...]) -> tuple[int, ...]:
        """The canvas lengths denoised for a request that asked for ``asked``.

        A checkpoint trained on one canvas length gets that length (unless short canvases are allowed);
        a format that puts the suffix's start on the canvas gets three fill lengths around the first ask,
        each followed by that suffix start.
        """
        cfg = self.config
        if self.format.format.canvas == "config" and self.canvas_length and not cfg.short_canvases:
            asked = (min(self.canvas_length, cfg.max_canvas),)
        k = self.format.suffix_on_canvas
        if not k:
            return asked
        base = min(asked[0], cfg.max_canvas - k)
        slots = sorted({max(2, base // 2), base, min(base * 2, cfg.max_canvas - k)})
        return tuple(n + k for n in slots)

    def carrying(self, widths: tuple[int, ...], tokens: int) -> tuple[int, ...]:
        """``widths`` grown to hold ``tokens`` of carried text before the fill (in steps of 8, so requests
        carrying a little more or less text still share a step), unless the checkpoint denoises one length."""
        cfg = self.config
        if not tokens or (self.format.format.canvas == "config" and self.canvas_length and not cfg.short_canvases):
            return widths
        extra = -(-tokens // 8) * 8
        return tuple(min(cfg.max_canvas, width + extra) for width in widths)

    def draft_widths(self, tokens: int) -> tuple[int, ...]:
        """The canvas length for a draft of ``tokens``: the shortest configured length (then the next power
        of two) with room for the draft, its end and a quarter more (at least 4) to grow into."""
        cfg = self.config
        need = tokens + 1 + max(4, tokens // 4)
        lengths = sorted({*cfg.single_line_canvases, *cfg.multi_line_canvases})
        width = next((n for n in lengths if n >= need), 0) or 1 << (need - 1).bit_length()
        return (min(width, cfg.max_canvas),)

    def make_slots(self, job: Job) -> None:
        carried = job.carry.ids if job.carry is not None else []
        pinned_ids = carried + (self.tokenizer.encode(job.request.pinned) if job.request.pinned else [])
        vocab = self.vocab_size
        tail = job.tail_ids
        for width in job.widths:
            for _ in range(job.request.num_candidates):
                generator = None
                if self.generation is None:
                    canvas = torch.randint(self.noise_low, vocab, (width,), generator=job.generator)
                else:
                    generator = self.generator(job.request, len(job.slots))
                    canvas = initial_canvas(width, vocab, generator)
                pinned = torch.zeros(width, dtype=torch.bool, device=canvas.device)
                if tail:  # the suffix's start closes the canvas, decided from the first step
                    canvas[width - len(tail) :] = torch.tensor(tail)
                    pinned[width - len(tail) :] = True
                room = width - len(tail)  # the fill's slots
                n = min(len(pinned_ids), room - 1)
                if n:
                    canvas[:n] = torch.tensor(pinned_ids[:n])
                    pinned[:n] = True
                seed = job.seed_ids[: room - n]
                if seed:
                    canvas[n : n + len(seed)] = torch.tensor(seed)
                    if n + len(seed) < room:
                        canvas[n + len(seed)] = self.format.end_ids[0]
                no_end = torch.zeros(width, dtype=torch.bool, device=canvas.device)
                no_end[n] = True  # the first free position: the fill is never empty
                slot = Slot(width, canvas, pinned, no_end, canvas.clone(), tail=len(tail), carry=job.carry)
                if job.request.draft:  # the draft and its end hold their places until decided
                    slot.keep = torch.zeros(width, dtype=torch.bool, device=canvas.device)
                    slot.keep[n : min(room, n + len(seed) + 1)] = True
                    slot.draft = canvas.clone()
                if generator is not None:
                    slot.generator, slot.pinned = generator, pinned.clone()
                    slot.history = torch.full((self.generation.stability_threshold, width), -1, dtype=torch.long,
                                              device=canvas.device)
                job.slots.append(slot)

    def generator(self, request: InfillRequest, index: int) -> torch.Generator:
        """The generator of a request's ``index``-th canvas (generate policy), on the runner's device: seeded
        with the request's seed (``request_seed``), plus ``index * 0x9E3779B9`` after the first canvas (an odd
        step, so the low 32 bits, all a CPU generator reads, differ between a request's canvases)."""
        seed = (request_seed(request) + index * 0x9E3779B9) % 2**64
        return torch.Generator(device=self.device).manual_seed(seed)


def request_seed(request: InfillRequest) -> int:
    """The request's seed, or when it gives none (0) one derived from its own text: never from arrival order,
    so the same request gives the same fill whatever came before it."""
    if request.seed:
        return request.seed
    digest = hashlib.blake2b(digest_size=8)
    for part in (request.prefix, request.suffix, request.context, request.language, request.pinned):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return int.from_bytes(digest.digest(), "little") or 1


def advanced(job: Job, slot: Slot, confidence: float, converged: bool) -> None:
    """Count one denoising step of ``slot``; it is done once converged or out of steps."""
    slot.steps += 1
    slot.forward_passes += 1
    slot.confidence = confidence
    slot.converged = converged
    if converged or slot.steps >= job.max_steps:
        slot.done = True
        slot.sc_logits = None


def kept(slot: Slot, canvas: torch.Tensor, decided: torch.Tensor | None = None) -> torch.Tensor:
    """``canvas`` (the next input of ``slot``) with a draft's undecided positions holding the draft's tokens."""
    if slot.keep is None or slot.draft is None:
        return canvas
    keep = slot.keep if decided is None else slot.keep & ~decided
    return torch.where(keep, slot.draft, canvas)


def healed(logits: torch.Tensor, slots: list[Slot], decided: torch.Tensor | None = None) -> None:
    """Hold each carrying canvas's healed position (the one after its carried tokens) to the tokens whose text
    begins with the healed text: the other logits there go to -inf, in place. A decided position is left be."""
    for row, slot in enumerate(slots):
        carry = slot.carry
        if carry is None:
            continue
        position = slot.carried
        if decided is not None and bool(decided[row, position]):
            continue
        allowed = carry.allowed.to(logits.device)
        kept_logits = logits[row, position, allowed]
        logits[row, position] = float("-inf")
        logits[row, position, allowed] = kept_logits
