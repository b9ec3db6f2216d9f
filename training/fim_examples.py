"""Fill-in-the-middle training examples cut from real files, and their collation into batches.

A hole is cut at the character level (a whole line, a block of lines, the rest of a line, a word, or a
random span), and prefix, middle and suffix are tokenized separately, exactly as the engine tokenizes
them at serving time. The middle is padded with ``<eom>`` to the canvas length so the model learns where
a fill ends.

With a prompt format (``engine.prompt.formats``, for example ``chat``), the prompt is that format's, built by the
same code the engine serves with, and the middle is padded with the format's first end token instead.

A context hook (``training.context_examples``) gives a hole the repository context the language server would
send with it; its tokens fill the prompt's context slot and come out of the prefix's token budget, as the
engine counts them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from engine.prompt.fim import build_prompt
from engine.prompt.formats import BoundFormat
from engine.prompt.tokenizer import InfillTokenizer

# Hole kinds and how often each is drawn.
HOLE_KINDS = (("line", 0.32), ("block", 0.16), ("rest_of_line", 0.14), ("word", 0.08), ("span", 0.30))


@dataclass(frozen=True, slots=True)
class FimExample:
    prompt: list[int]
    middle: list[int]
    kind: str
    # Under a prompt format: the parts the prompt was built from, so a trimmed prompt is built anew.
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()
    language: str = ""
    # An edit example's draft (``training.edit_examples``): the region before the edit, which the canvas starts
    # from; the middle is the region after it. None for a fill.
    draft: tuple[int, ...] | None = None
    context: tuple[int, ...] = ()  # the context slot's tokens (code from other files), kept whole by trimming


@dataclass(slots=True, kw_only=True)
class FimRecipe:
    max_prefix_tokens: int = 640
    max_suffix_tokens: int = 192
    canvas_lengths: tuple[int, ...] = (16, 32, 64)
    chars_per_token: float = 3.2
    context_fraction: float = 0.5  # share of examples given repository context (training.context_examples)

    def __post_init__(self) -> None:
        if self.max_prefix_tokens < 1 or self.max_suffix_tokens < 0:
            raise ValueError("FimRecipe token budgets must be positive")
        if not self.canvas_lengths or min(self.canvas_lengths) < 2:
            raise ValueError("FimRecipe.canvas_lengths must hold lengths of at least 2")
        if not 0.0 <= self.context_fraction <= 1.0:
            raise ValueError(f"FimRecipe.context_fraction must lie in [0, 1], got {self.context_fraction}")


def _line_bounds(text: str, rng: random.Random) -> tuple[int, int] | None:
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 < len(text)]
    if len(starts) < 2:
        return None
    index = rng.randrange(len(starts))
    start = starts[index]
    end = text.find("\n", start)
    return start, (len(text) if end < 0 else end + 1)


def choose_hole(text: str, kind: str, rng: random.Random, max_chars: int) -> tuple[int, int] | None:
    """Return the (start, end) character span of a hole of ``kind`` in ``text``, or None."""
    if len(text) < 8:
        return None
    if kind == "line":
        return _line_bounds(text, rng)
    if kind == "block":
        bounds = _line_bounds(text, rng)
        if bounds is None:
            return None
        start, end = bounds
        for _ in range(rng.randint(1, 7)):
            nxt = text.find("\n", end)
            if nxt < 0 or nxt + 1 - start > max_chars:
                break
            end = nxt + 1
        return start, end
    if kind == "rest_of_line":
        bounds = _line_bounds(text, rng)
        if bounds is None:
            return None
        start, end = bounds
        line = text[start:end].rstrip("\n")
        if len(line) < 2:
            return None
        cut = start + rng.randint(1, len(line) - 1)
        return cut, start + len(line)
    if kind == "word":
        start = rng.randrange(len(text) - 1)
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1
        end = start
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        return (start, end) if end > start else None
    # span: anywhere, any length up to the budget (empty spans teach an immediate <eom>)
    start = rng.randrange(len(text))
    length = min(int(rng.expovariate(1 / max(8, max_chars / 4))), max_chars, len(text) - start)
    return start, start + length


class FimSampler:
    """Cut FIM examples from source files with one tokenizer and recipe."""

    def __init__(self, tokenizer: InfillTokenizer, recipe: FimRecipe, fmt: BoundFormat | None = None) -> None:
        self.tokenizer = tokenizer
        self.recipe = recipe
        self.format = fmt  # None: the FIM layout of engine.prompt.fim
        self._kinds = [k for k, _ in HOLE_KINDS]
        self._weights = [w for _, w in HOLE_KINDS]

    def sample(
        self, text: str, language: str, canvas_length: int, rng: random.Random,
        context: Callable[[int, int], list[int]] | None = None,
    ) -> FimExample | None:
        """Return one example whose middle fits ``canvas_length - 1`` tokens, or None if none was found.

        ``context`` maps the hole's character span to the context slot's tokens; they take at most half of
        the prefix's token budget (the oldest dropped first, as the engine trims) and the prefix the rest."""
        recipe = self.recipe
        max_chars = int((canvas_length - 1) * recipe.chars_per_token)
        for _ in range(4):
            kind = rng.choices(self._kinds, self._weights)[0]
            span = choose_hole(text, kind, rng, max_chars)
            if span is None:
                continue
            start, end = span
            middle = self.tokenizer.encode(text[start:end])
            if len(middle) >= canvas_length:
                continue
            prefix_text = text[max(0, start - int(recipe.max_prefix_tokens * recipe.chars_per_token * 1.5)) : start]
            suffix_text = text[end : end + int(recipe.max_suffix_tokens * recipe.chars_per_token * 1.5)]
            room = recipe.max_prefix_tokens // 2
            slot = context(start, end)[-room:] if context and room else []
            prefix = self.tokenizer.encode(prefix_text)[len(slot) - recipe.max_prefix_tokens :]
            suffix = self.tokenizer.encode(suffix_text)[: recipe.max_suffix_tokens]
            if self.format is None:  # the fim layout's context slot sits just before the prefix
                prompt = build_prompt(self.tokenizer.special, slot + prefix, suffix, language)
                return FimExample(prompt=prompt, middle=middle, kind=kind, context=tuple(slot))
            prompt = self.format.prompt(prefix, suffix, language, slot)
            return FimExample(prompt, middle, kind, tuple(prefix), tuple(suffix), language, context=tuple(slot))
        return None


def trim_prompt(prompt: list[int], length: int, fim_prefix: int, context: int = 0) -> list[int]:
    """Shorten a FIM prompt to ``length`` tokens: drop the oldest prefix tokens, then the suffix's end, then
    the start of the ``context`` tokens that open the prefix part (kept whole while anything else can go)."""
    excess = len(prompt) - length
    if excess <= 0:
        return prompt
    split = prompt.index(fim_prefix)
    start = split + 1 + context  # the prefix's first token
    from_prefix = min(excess, len(prompt) - start - 1)  # tokens between the context and <fim_middle>
    prompt = prompt[:start] + prompt[start + from_prefix :]
    rest = excess - from_prefix
    from_suffix = min(rest, split - 3) if context else rest  # the suffix sits after <bos> <lang> <fim_suffix>
    if from_suffix:  # drop from the end of the suffix, which sits just before <fim_prefix>
        prompt = prompt[: split - from_suffix] + prompt[split:]
        split -= from_suffix
    if rest - from_suffix:
        prompt = prompt[: split + 1] + prompt[split + 1 + rest - from_suffix :]
    return prompt


def trim_parts(example: FimExample, length: int, fmt: BoundFormat) -> FimExample:
    """Shorten a prompt built by ``fmt`` to ``length`` tokens: drop the oldest prefix tokens, then the end
    of the suffix, then the start of the context, and build the prompt anew from what is left."""
    excess = len(example.prompt) - length
    if excess <= 0:
        return example
    from_prefix = min(excess, len(example.prefix))
    prefix = example.prefix[from_prefix:]
    from_suffix = min(excess - from_prefix, len(example.suffix))
    suffix = example.suffix[: len(example.suffix) - from_suffix]
    context = example.context[excess - from_prefix - from_suffix :]
    prompt = fmt.prompt(list(prefix), list(suffix), example.language, list(context))
    return replace(example, prompt=prompt, prefix=prefix, suffix=suffix, context=context)


def equal_length_batches(
    examples: list[FimExample], batch_size: int, special, fmt: BoundFormat | None = None
) -> list[list[FimExample]]:
    """Group examples by prompt length and trim each group to its shortest prompt (no padding needed).

    ``special`` is the FIM layout's ids (unused under a prompt format ``fmt``)."""
    ordered = sorted(examples, key=lambda e: len(e.prompt))
    batches = []
    for start in range(0, len(ordered) - batch_size + 1, batch_size):
        group = ordered[start : start + batch_size]
        length = len(group[0].prompt)
        if fmt is None:
            batch = [replace(e, prompt=trim_prompt(e.prompt, length, special.fim_prefix, len(e.context)))
                     for e in group]
        else:
            batch = [trim_parts(e, length, fmt) for e in group]
        if len({len(e.prompt) for e in batch}) == 1:  # a template whose pieces cannot shrink: skip the group
            batches.append(batch)
    return batches


@dataclass(slots=True)
class FimBatch:
    """Left-padded prompts and ``<eom>``-padded canvases, ready for the model."""

    prompt_ids: torch.Tensor  # (B, L)
    prompt_mask: torch.Tensor  # (B, L) bool, False on left padding
    prompt_positions: torch.Tensor  # (B, L)
    canvas_ids: torch.Tensor  # (B, C) the clean middle + <eom> padding
    middle_lengths: torch.Tensor  # (B,)
    # Edit rows (``--edit-fraction``): the draft + <eom> padding the canvas starts from, the clean canvas on
    # rows without a draft; and each row's draft length, -1 on rows without one. None: no row has a draft.
    draft_ids: torch.Tensor | None = None  # (B, C)
    draft_lengths: torch.Tensor | None = None  # (B,)

    def to(self, device: torch.device | str) -> FimBatch:
        return FimBatch(*(None if t is None else t.to(device, non_blocking=True) for t in (
            self.prompt_ids, self.prompt_mask, self.prompt_positions, self.canvas_ids, self.middle_lengths,
            self.draft_ids, self.draft_lengths,
        )))

    @property
    def tokens(self) -> int:
        """Real (non-padding) tokens in the batch: prompt plus canvas."""
        return int(self.prompt_mask.sum()) + self.canvas_ids.numel()


def collate(examples: list[FimExample], canvas_length: int, pad_id: int, eom_id: int) -> FimBatch:
    """Left-pad prompts to the longest one and pad middles (and edit rows' drafts) with ``<eom>`` to
    ``canvas_length``."""
    width = max(len(e.prompt) for e in examples)
    batch = len(examples)
    prompt_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros((batch, width), dtype=torch.bool)
    canvas = torch.full((batch, canvas_length), eom_id, dtype=torch.long)
    lengths = torch.zeros(batch, dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.prompt)
        prompt_ids[row, width - n :] = torch.tensor(example.prompt)
        prompt_mask[row, width - n :] = True
        if example.middle:
            canvas[row, : len(example.middle)] = torch.tensor(example.middle)
        lengths[row] = len(example.middle)
    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    if all(e.draft is None for e in examples):
        return FimBatch(prompt_ids, prompt_mask, positions, canvas, lengths)
    drafts = canvas.clone()
    draft_lengths = torch.full((batch,), -1, dtype=torch.long)
    for row, example in enumerate(examples):
        if example.draft is not None:
            if len(example.draft) >= canvas_length:
                raise ValueError(f"a draft of {len(example.draft)} tokens does not fit a canvas of {canvas_length}")
            drafts[row] = eom_id
            drafts[row, : len(example.draft)] = torch.tensor(example.draft, dtype=torch.long)
            draft_lengths[row] = len(example.draft)
    return FimBatch(prompt_ids, prompt_mask, positions, canvas, lengths, drafts, draft_lengths)
