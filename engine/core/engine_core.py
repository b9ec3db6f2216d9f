"""EngineCore: admits infill requests, batches their canvases per denoising step, and emits results.

No IO: ``add`` / ``cancel`` / ``step`` / ``status``. The same core runs in-process (tests, ``infill
complete``) and behind the socket server. One ``step()`` prefills waiting prompts within a token budget
(reusing per-document encoder caches), then runs one decoder forward pass per canvas length over every
active canvas of every request, applies the sampler, and returns the messages that step produced.

The sampler is one of two policies (``engine.core.sampler``): a checkpoint whose ``generation_config.json`` sets
the sampling values (the published DiffusionGemma) runs ``generate``, transformers' ``generate()`` with
those values; any other (the embedded model) runs the engine's own. Under ``generate`` a request's canvases
each draw from their own generator: the ``i``-th (canvas lengths outer, candidates inner) is seeded with
the request's seed (``request_seed``: derived from its text when 0) plus ``i * 0x9E3779B9`` (mod 2**64; CPU
generators read only the low 32 bits, which this offset changes), so the first canvas of a request seeded ``s`` is
``torch.manual_seed(s); model.generate(prompt)`` with ``max_denoising_steps`` = the request's steps.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path

import msgspec
import torch

from engine.core.canvases import Canvases, request_seed
from engine.core.carry import Anchors, carry_of
from engine.core.config import EngineConfig
from engine.core.denoising import Denoiser
from engine.core.jobs import Carry, Job, Slot
from engine.core.kv import KVStore, common_prefix_length
from engine.core.runner import Runner
from engine.core.sampler import GenerateConfig
from engine.core.scheduler import PRIORITIES, StepPace, batch_share, client_load, prefill_order
from engine.prompt.formats import choose_format
from engine.prompt.tokenizer import InfillTokenizer
from engine.protocol import (
    PROTOCOL_VERSION,
    Candidate,
    ErrorCode,
    ErrorReply,
    FinishReason,
    InfillRequest,
    InfillResult,
    Partial,
    StatusReply,
    Welcome,
)

log = logging.getLogger(__name__)

CODE_SAMPLE = Path(__file__).resolve().parents[1] / "prompt" / "code_sample.txt"

Message = Partial | InfillResult | ErrorReply

# A step's time target on a CPU (EngineConfig.step_seconds "auto"): a request that arrives waits about this
# long for the step in flight, and a batch of a few canvases still fits one step.
CPU_STEP_SECONDS = 0.1
# A client alone with at most this many requests and canvases in the engine is not paced (``EngineCore._shared``).
UNPACED_JOBS = 4
UNPACED_CANVASES = 16
# The fewest prompt tokens a heavier client encodes in a step a lighter client's request shares with it.
MIN_PREFILL_SLICE = 64


class EngineCore:
    """Continuous, step-level batching of diffusion infill requests over one model runner."""

    def __init__(self, runner: Runner, tokenizer: InfillTokenizer, config: EngineConfig | None = None,
                 model_name: str = "", trained: bool = True, canvas_length: int = 0,
                 generation: GenerateConfig | None = None, edit_trained: bool = False) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        share = self.config.step_share
        if share == "auto":
            share = "equal" if str(getattr(runner, "device", "cpu")).startswith("cpu") else "fill"
        self._equalize = 2.0 if share == "equal" else 0.0  # each client's canvases a step: <= 2x the lightest's
        on_cpu = str(getattr(runner, "device", "cpu")).startswith("cpu")
        seconds = self.config.step_seconds
        self.pace = StepPace((CPU_STEP_SECONDS if on_cpu else 0.0) if seconds == "auto" else float(seconds))
        self.generation = generation  # the generate policy's settings; None: the engine's own policy
        self.policy = "engine" if generation is None else "generate"
        self.format = choose_format(tokenizer, self.config.prompt_format, self.config.prompt_template).bind(tokenizer)
        self.canvas_length = canvas_length  # the length the checkpoint was trained on (0: unknown)
        self.kv_store = KVStore(self.config.kv_budget_bytes)
        self.jobs: dict[str, Job] = {}
        self.completed = 0
        # Per document: the prefix and best fill of its last finished request, to seed the next canvas.
        self.last_fills: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.seeded = 0
        # Per document, the prompt typed text may be carried after (``engine.core.carry``).
        self.anchors = Anchors()
        self.carried = 0
        self.denoiser = Denoiser(runner, tokenizer, self.format, generation)
        self.banned, self.end_ids, self.noise_low = self.denoiser.banned, self.denoiser.end_ids, self.format.noise_low
        self.trimmed_prompts = 0
        self.canvases = Canvases(self.config, self.format, tokenizer, vocab_size=runner.vocab_size,
                                 device=runner.device, canvas_length=canvas_length, generation=generation)
        self.welcome = Welcome(
            protocol_version=PROTOCOL_VERSION,
            model_name=model_name,
            device=str(runner.device),
            backend=runner.backend,
            trained=trained,
            max_context_tokens=self.config.max_prefix_tokens + self.config.max_suffix_tokens,
            max_prefix_tokens=self.config.max_prefix_tokens,
            max_suffix_tokens=self.config.max_suffix_tokens,
            chars_per_token=tokenizer.chars_per_token(code_samples()),
            prompt_format=self.format.name,
            edit_prompt=self.format.edits,
            rewrites=edit_trained or self.format.edits,
        )

    # ---- requests ---------------------------------------------------------------------------

    def add(self, request: InfillRequest) -> None:
        """Queue ``request``; raise ValueError (naming the field) if it cannot be served."""
        cfg = self.config
        if request.request_id in self.jobs:
            raise ValueError(f"request_id {request.request_id} is already in flight")
        if len(self.jobs) >= cfg.max_queued:
            raise OverflowError("engine queue is full")
        if not 1 <= request.num_candidates <= cfg.max_candidates:
            raise ValueError(f"num_candidates must be in [1, {cfg.max_candidates}]")
        if request.max_steps < 0:
            raise ValueError("max_steps must be >= 0")
        if request.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(map(str, PRIORITIES))}, got {request.priority}")
        draft_ids = self.tokenizer.encode(request.draft) if request.draft else []
        widths = tuple(request.canvas_lengths) or (
            self.canvases.draft_widths(len(draft_ids)) if draft_ids
            else cfg.single_line_canvases if request.single_line else cfg.multi_line_canvases
        )
        if any(not 2 <= w <= cfg.max_canvas for w in widths) or len(widths) > 4:
            raise ValueError(f"canvas_lengths must be 1-4 lengths in [2, {cfg.max_canvas}]")
        widths = self.canvases.widths(widths)
        if len(request.alternatives) > 2 * cfg.max_candidates:
            raise ValueError(f"alternatives must be at most {2 * cfg.max_candidates} texts")
        if any(len(text) > 8 * cfg.max_canvas for text in request.alternatives):
            raise ValueError(f"alternatives must each be at most {8 * cfg.max_canvas} characters")
        pinned = self.tokenizer.encode(request.pinned) if request.pinned and draft_ids else []
        room = min(widths) - self.format.suffix_on_canvas - len(pinned)
        if draft_ids and len(draft_ids) + 1 > room:
            raise ValueError(f"draft is {len(draft_ids)} tokens, more than its canvas holds ({room - 1}): "
                             "send a smaller region")
        typed = self.anchors.typed(request, cfg.carry_chars)
        carry = carry_of(self.tokenizer, typed)
        if carry is not None:
            widths = self.canvases.carrying(widths, len(carry.ids) + 1)
            if len(carry.ids) + 2 > min(widths) - self.format.suffix_on_canvas:
                carry = None
        if carry is not None:
            self.carried += 1
            prompt = self._prompt(msgspec.structs.replace(request, prefix=request.prefix[: -len(typed)]))
        else:
            prompt = self._prompt(request)
            if request.document_key and not (draft_ids or request.alternatives):
                self.anchors.set(request)
        default_steps = cfg.default_steps if self.generation is None else self.generation.max_steps
        steps = min(request.max_steps or default_steps, cfg.max_steps_cap)
        generator = torch.Generator().manual_seed(request_seed(request))
        job = Job(request, prompt, steps, widths, time.monotonic(), generator=generator)
        job.carry = carry
        job.seed_ids = draft_ids or self._seed(request, carry)
        if self.format.suffix_on_canvas and not (draft_ids and self.format.edits):  # an edit's answer is the region
            k = self.format.suffix_on_canvas
            job.tail_ids = self.tokenizer.encode(request.suffix[: k * 8])[:k]
        if not request.warm and request.document_key:
            self._take_over_warm_ups(job)
        self.jobs[request.request_id] = job

    def _take_over_warm_ups(self, job: Job) -> None:
        """A fill takes over the warm-ups of its place (same document, at least half its prompt shared) still
        queued or encoding: they are cancelled, and what they encoded goes to the document's cache (``_finish``),
        where the fill's own lookup finds it, so it never waits behind a duplicate encoding."""
        for other in self.jobs.values():
            request = other.request
            if (request.warm and not other.cancelled and request.document_key == job.request.document_key
                    and 2 * common_prefix_length(other.prompt, job.prompt) >= len(job.prompt)):
                other.cancelled = True

    def _seed(self, request: InfillRequest, carry: Carry | None) -> list[int]:
        """Tokens to start the canvas from (after any carried text) when the user typed the beginning of the
        document's last fill.

        The rest of that fill seeds the canvas (undecided, so the model still judges every token): where
        it still fits, it is decided in a step or two; where the new text conflicts, it is re-denoised. After
        carried text the seed starts with the healed token's text, as the canvas does.
        """
        last = self.last_fills.get(request.document_key) if request.document_key else None
        if last is None or request.pinned:
            return []
        old_prefix, old_fill = last
        if not request.prefix.startswith(old_prefix):
            return []
        typed = request.prefix[len(old_prefix) :]
        if not typed or not old_fill.startswith(typed) or len(typed) >= len(old_fill):
            return []
        rest = old_fill[len(typed) :]
        ids = self.tokenizer.encode(rest if carry is None else carry.healed + rest)
        if carry is not None and not (ids and bool((carry.allowed == ids[0]).any())):
            return []
        self.seeded += 1
        return ids

    def cancel(self, request_id: str) -> None:
        job = self.jobs.get(request_id)
        if job is not None:
            job.cancelled = True

    def has_work(self) -> bool:
        return bool(self.jobs)

    def _prompt(self, request: InfillRequest) -> list[int]:
        """The prompt's token ids. Clients cut their context to the budgets announced in the Welcome; the
        trim here is a guard for what they missed (counted in ``trimmed_prompts``): code from other files
        goes first, then whole blocks from the start of the prefix."""
        cfg = self.config
        prefix = self.tokenizer.encode(request.prefix[-cfg.max_prefix_tokens * 8 :])
        suffix = self.tokenizer.encode(request.suffix[: cfg.max_suffix_tokens * 8])
        context = self.tokenizer.encode(request.context[-cfg.max_prefix_tokens * 8 :])
        excess = len(context) + len(prefix) - cfg.max_prefix_tokens
        if excess > 0 or len(suffix) > cfg.max_suffix_tokens:
            self.trimmed_prompts += 1
        if excess > 0:
            context = context[excess:] if excess < len(context) else []
            excess = len(prefix) - cfg.max_prefix_tokens
        if excess > 0:
            # Drop whole blocks from the start, so a growing prefix keeps the same first tokens.
            drop = -(-excess // cfg.prefix_trim_quantum) * cfg.prefix_trim_quantum
            # (A quantum that is large next to the budget would drop most of it: then trim exactly.)
            keeps_half = len(prefix) - drop >= cfg.max_prefix_tokens // 2
            prefix = prefix[drop:] if keeps_half else prefix[-cfg.max_prefix_tokens :]
        suffix = suffix[: cfg.max_suffix_tokens]
        draft = self.tokenizer.encode(request.draft) if request.draft else None
        return self.format.prompt(prefix, suffix, request.language, context, draft)

    # ---- the step ---------------------------------------------------------------------------

    @torch.inference_mode()
    def step(self) -> list[Message]:
        out: list[Message] = []
        for job in [j for j in self.jobs.values() if j.cancelled]:
            out.append(self._finish(job, FinishReason.CANCELLED))
        started = time.perf_counter()
        self._prefill()
        for job in [j for j in self.jobs.values() if (j.request.warm or j.request.alternatives) and j.encoded_at]:
            out.append(self._finish(job, FinishReason.CONVERGED))
        self._denoise(out, time.perf_counter() - started)
        for job in [j for j in self.jobs.values() if j.slots and all(s.done for s in j.slots)]:
            capped = not all(s.converged for s in job.slots)
            out.append(self._finish(job, FinishReason.STEP_CAP if capped else FinishReason.CONVERGED))
        return out

    def _shared(self) -> bool:
        """Whether steps are cut to the time target now: while several clients have work in the engine, or one
        has a backlog another's request could arrive behind (more than ``UNPACED_JOBS`` requests, or more than
        ``UNPACED_CANVASES`` canvases to denoise). A client alone with a little work waits only on its own steps:
        cutting them (a cold prompt's encoding into several passes) would only slow it."""
        if len(self.jobs) > UNPACED_JOBS or len({job.request.client for job in self.jobs.values()}) > 1:
            return True
        canvases = sum(1 for job in self.jobs.values() for slot in job.slots if not slot.done)
        canvases += sum(len(job.canvases_to_come()) for job in self.jobs.values())
        return canvases > UNPACED_CANVASES

    def _pending_canvases(self) -> list[tuple[Job, list[Slot]]]:
        """Each encoded, live job (in arrival order) with its canvases not yet done."""
        return [(job, [s for s in job.slots if not s.done]) for job in self.jobs.values()
                if job.encoded and not job.cancelled]

    def _prefill(self) -> None:
        """Encode waiting prompts within the step's token budget, reusing each document's cache.

        Prompts with a few tokens left to encode (a keystroke's worth, up to one chunk) share one encoder
        pass (``encode_batch``); longer ones are encoded alone, chunk by chunk.
        """
        waiting = [j for j in self.jobs.values() if not (j.encoded and j.slots)]
        if not waiting:
            return
        canvases_waiting = any(slots for _, slots in self._pending_canvases())
        limit = self.config.prefill_tokens_per_step
        budget = self.pace.prompt_tokens(limit, canvases_waiting=canvases_waiting) if self._shared() else limit
        planned, started = budget, time.perf_counter()
        short: list[Job] = []
        load = client_load(self.jobs.values())
        # Equal share (a CPU): while several clients have work, the least loaded one's prompts take the budget and
        # the others' encode at most twice the tokens the lightest has in this step (its prompt left to encode
        # and its canvases), so a light request does not wait on a heavy client's encoding, nor stalls it. A pass's
        # cost is mostly fixed (the layers, attention over the cache) below MIN_PREFILL_SLICE tokens: a share
        # smaller than that is not taken, as a heavy canvas wider than the share waits (``batch_share``).
        lightest = None
        if self._equalize and len(load) > 1:
            work: dict[str, int] = {}
            for job in self.jobs.values():
                work[job.request.client] = work.get(job.request.client, 0) + len(job.prompt)
            lightest = min(load, key=lambda client: (load[client], work.get(client, 0)))  # fewest, then shortest
        others = budget
        if lightest is not None:
            light = [job for job in self.jobs.values() if job.request.client == lightest]
            tokens = sum(len(job.prompt) - len(job.kv.ids) for job in light if not job.encoded)
            tokens += sum(slot.width for job in light for slot in job.slots if not slot.done)
            # and the canvases of its prompts not yet encoded (denoised in this step once they are)
            tokens += sum(sum(job.canvases_to_come()) for job in light)
            others = int(self._equalize * tokens)
            if others < MIN_PREFILL_SLICE:
                others = 0  # a slice that small costs a whole pass: the heavier clients' prompts wait this step
        order = prefill_order(waiting, load)
        order.sort(key=lambda job: job.request.client != lightest)  # stable: the lightest client's prompts first
        for job in order:
            if budget <= 0:
                break
            mine = lightest is None or job.request.client == lightest
            allowance = budget if mine else min(budget, others)
            if allowance <= 0:
                continue
            if not job.kv.ids:
                job.kv = self.kv_store.lookup(job.request.document_key, job.prompt)
                job.cached_tokens = len(job.kv.ids)
                job.started = time.monotonic()
            remaining = len(job.prompt) - len(job.kv.ids)
            if 0 < remaining <= (self.runner.chunk if mine else min(self.runner.chunk, allowance)):
                short.append(job)
                budget -= remaining
                others -= 0 if mine else remaining
                continue
            job.kv = self.runner.encode(job.kv, job.prompt, allowance)
            used = remaining - (len(job.prompt) - len(job.kv.ids))
            budget -= used
            others -= 0 if mine else used
            if job.encoded:
                self._encoded(job)
        if len(short) > 1:
            for job, kv in zip(short, self.runner.encode_batch([(j.kv, j.prompt) for j in short]), strict=True):
                job.kv = kv
        elif short:
            short[0].kv = self.runner.encode(short[0].kv, short[0].prompt)
        self.pace.observed("prompt", planned - budget, time.perf_counter() - started)
        for job in short:
            self._encoded(job)

    def _encoded(self, job: Job) -> None:
        job.encoded_at = time.monotonic()
        self.kv_store.store(job.request.document_key, job.kv)
        if not (job.request.warm or job.request.alternatives):  # those end here, their prompt in the cache
            self.canvases.make_slots(job)

    def _denoise(self, out: list[Message], spent: float) -> None:
        """One denoising pass per canvas length over the step's share of canvases, within what is left of the
        step's time target after ``spent`` seconds of encoding."""
        room = self.pace.canvas_tokens(spent) if self._shared() else None
        active = batch_share(self._pending_canvases(), self.config.max_batch_canvases, equalize=self._equalize,
                             size=lambda slot: slot.width, tokens=room)
        started = time.perf_counter()
        by_width: dict[int, list[tuple[Job, Slot]]] = {}
        for pair in active:
            by_width.setdefault(pair[1].width, []).append(pair)
        for width, group in by_width.items():
            self.denoiser.run(width, group, self.config)
        self.pace.observed("canvas", sum(slot.width for _, slot in active), time.perf_counter() - started)
        for job in {id(j): j for j, _ in active}.values():
            if job.request.stream and job.slots:
                best = max(job.slots, key=lambda s: s.confidence)
                text, _ = self._fill_text(best, best.fill)
                out.append(Partial(job.request.request_id, text, max(s.steps for s in job.slots)))

    def _finish(self, job: Job, reason: FinishReason) -> InfillResult:
        del self.jobs[job.request.request_id]
        if reason == FinishReason.CANCELLED and not job.encoded and len(job.kv.ids) > job.cached_tokens:
            self.kv_store.store(job.request.document_key, job.kv)  # keep what it encoded before it was cancelled
        self.completed += 1
        candidates: dict[str, Candidate] = {}
        token_ids: dict[str, list[int]] = {}
        if reason != FinishReason.CANCELLED:
            for slot in sorted(job.slots, key=lambda s: -s.confidence):
                text, tokens = self._fill_text(slot, slot.fill)
                if text not in candidates:
                    candidates[text] = Candidate(text, round(slot.confidence, 4), tokens, slot.width)
                    token_ids[text] = slot.fill[slot.carried : slot.carried + tokens].tolist()
            if job.request.alternatives and job.encoded:  # weighed, not generated: each non-empty one, in order
                token_ids = {text: ids for text in job.request.alternatives if (ids := self.tokenizer.encode(text))}
                candidates = {text: Candidate(text, 0.0, len(ids), 0) for text, ids in token_ids.items()}
            if (job.request.score or job.request.alternatives) and candidates and job.encoded:
                candidates = self._scored(job, candidates, token_ids)
        key = job.request.document_key
        best = next(iter(candidates), "") or self._decided_text(job)
        if key and best and not (job.request.draft or job.request.alternatives):  # no start for the next fill
            self.last_fills[key] = (job.request.prefix, best)
            self.last_fills.move_to_end(key)
            while len(self.last_fills) > 256:
                self.last_fills.popitem(last=False)
        now = time.monotonic()
        started = job.started or now
        result = InfillResult(
            request_id=job.request.request_id,
            candidates=tuple(candidates.values()),
            finish_reason=int(reason),
            steps=max((s.steps for s in job.slots), default=0),
            forward_passes=max((s.forward_passes for s in job.slots), default=0),
            prompt_tokens=len(job.prompt),
            cached_tokens=job.cached_tokens,
            queue_ms=round((started - job.arrived) * 1000, 2),
            elapsed_ms=round((now - job.arrived) * 1000, 2),
            encode_ms=round((job.encoded_at - started) * 1000, 2) if job.encoded_at else 0.0,
        )
        log.debug("%s: %s, %d steps, %d/%d prompt tokens cached, queue %.1f ms, encode %.1f ms, elapsed %.1f ms",
                  result.request_id, reason.name.lower(), result.steps, result.cached_tokens, result.prompt_tokens,
                  result.queue_ms, result.encode_ms, result.elapsed_ms)
        return result

    def _scored(self, job: Job, candidates: dict[str, Candidate], token_ids: dict[str, list[int]]):
        """The candidates with the encoder's likelihood of each as a continuation of the prefix."""
        base = job.kv.truncated(len(job.prompt) - self.format.after_prefix(job.request.language))
        if len(base.ids) < 2:
            return candidates
        texts = list(candidates)
        scores = self.runner.score(base, [token_ids[t] for t in texts])
        return {t: msgspec.structs.replace(candidates[t], likelihood=round(score, 4))
                for t, score in zip(texts, scores, strict=True)}

    def _fill_text(self, slot: Slot, tokens: torch.Tensor) -> tuple[str, int]:
        """The text and token count of the fill ``tokens`` hold (the canvas without its suffix tail).

        The generate policy samples every id, so there a special or control-character token (other than
        pinned text) ends the fill too, as the format's end tokens do.
        """
        ids = tokens[slot.carried : slot.width - slot.tail]
        if slot.pinned is not None:
            banned = torch.isin(ids, self.banned.to(ids.device)) & ~slot.pinned[slot.carried : slot.carried + len(ids)]
            if bool(banned.any()):
                ids = ids[: int(banned.nonzero()[0])]
        text, count = self.format.canvas_text(ids.tolist())
        if slot.carry is not None:  # the healed token's text was typed already
            text = text[len(slot.carry.healed) :] if text.startswith(slot.carry.healed) else ""
        return text, count

    def _decided_text(self, job: Job) -> str:
        """The text a cancelled job had already decided (its leading decided tokens), to seed the next one."""
        best = ""
        for slot in job.slots:
            undecided = (~slot.decided).nonzero()
            end = int(undecided[0]) if len(undecided) else slot.width
            text, _ = self._fill_text(slot, slot.fill[:end])
            best = max(best, text, key=len)
        return best

    def fail_all(self, message: str) -> list[Message]:
        """Drop every job with an error reply (used when a step raised)."""
        out: list[Message] = [
            ErrorReply(rid, int(ErrorCode.INTERNAL), message) for rid in list(self.jobs)
        ]
        self.jobs.clear()
        return out

    def status(self, request_id: str = "") -> StatusReply:
        runner = self.runner
        return StatusReply(
            request_id=request_id,
            model_name=self.welcome.model_name,
            device=self.welcome.device,
            backend=self.welcome.backend,
            active=sum(1 for j in self.jobs.values() if j.slots),
            queued=sum(1 for j in self.jobs.values() if not j.slots),
            completed=self.completed,
            cache_entries=len(self.kv_store),
            cache_bytes=self.kv_store.nbytes,
            cache_hit_tokens=self.kv_store.hit_tokens,
            cache_lookup_tokens=self.kv_store.lookup_tokens,
            mean_step_ms=round(1000 * runner.step_seconds / max(1, runner.forward_passes), 3),
            trimmed_prompts=self.trimmed_prompts,
            forward_passes=runner.forward_passes,
        )


def code_samples() -> list[str]:
    """Code to measure a tokenizer's characters per token on: a fixed sample of Python (prompt/code_sample.txt)."""
    return [CODE_SAMPLE.read_text(encoding="utf-8")]
