"""The fill layer: one plan type for a hole, and the one function that turns a raw fill into an edit.

Every caller goes through here: inline completions, edit commands, ``infill batch``, ``infill
complete``/``demo`` and the eval. A caller plans its hole into a ``HolePlan`` (the prompt the engine
sees, the document span the result replaces, and how the text is shaped), sends ``plan.request(...)``
to the engine, and passes each candidate to ``finish_fill``, which returns the text to write, or a
``Rejected`` saying why nothing should be written. ``finish_candidates`` does that for a whole result,
keeping the engine's order. Pure: no IO, no LSP types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.protocol import Candidate, InfillRequest, Priority
from infill_lsp.checks import made_up_names
from infill_lsp.context import InfillContext, only_closers
from infill_lsp.languages import LanguageSupport
from infill_lsp.postprocess import (
    closer_overlap,
    drop_repeated_lines,
    first_line,
    indent_continuation,
    leading,
    normalise_indentation,
    parse_damage,
    suffix_line_overlap,
)
from infill_lsp.text_checks import glued_word, open_string, stutter, unbalanced_brackets


@dataclass(frozen=True, slots=True)
class Fill:
    """Text that replaces the plan's span and the ``replaces`` characters after it."""

    text: str
    replaces: int = 0


@dataclass(frozen=True, slots=True)
class Rejected:
    """No fill for this candidate: ``empty`` when nothing usable came back, else it failed a check."""

    reason: str
    empty: bool = False
    text: str = ""  # the shaped fill that was refused, when there was one


@dataclass(frozen=True, slots=True, kw_only=True)
class HolePlan:
    """One hole: what the engine is asked, which document span the answer replaces, how it is shaped.

    ``prefix``/``suffix`` are the prompt around the hole; they may hold text the document does not (an
    instruction comment, ``lead``). ``context`` is code from other files, which the engine's prompt format
    places. ``before``/``after`` are the document's own text
    around the span ``start:end`` (a window of it), and ``original`` what the span holds now: the parse
    check compares ``before + result + after`` with ``before + original + after``.
    """

    start: int
    end: int
    prefix: str
    suffix: str
    before: str
    after: str
    original: str = ""
    context: str = ""
    language: str = "text"
    canvas_lengths: tuple[int, ...] = ()
    single_line: bool = False
    pinned: str = ""  # the fill must start with this (the engine keeps it fixed)
    lead: str = ""  # written before the fill
    trail: str = ""  # written after the fill; a fill that writes its non-blank part itself is cut there
    trail_multiline: str | None = None  # written after a fill of several lines (default: ``trail``)
    line_marker: str = ""  # put before every line of the fill after the first (comment markers)
    base_indent: str | None = None  # indentation of the fill's first line (default: the hole's line's)
    indent_unit: str = "    "
    max_lines: int = 0  # 0: no limit
    keep_in_block: bool = False  # lines after the first may not sit left of ``base_indent``
    may_replace_closers: bool = False  # the fill may replace closing brackets after it on its line
    known_names: frozenset[str] = frozenset()  # names in reach (the document's, the context's): opts in
    # to the made-up-name check (``checks.made_up_names``)
    title: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"HolePlan span must satisfy 0 <= start <= end, got {self.start}:{self.end}")
        if self.max_lines < 0:
            raise ValueError(f"HolePlan.max_lines must be >= 0, got {self.max_lines}")

    @property
    def line_prefix(self) -> str:
        """The hole's line up to the hole."""
        return self.before[self.before.rfind("\n") + 1 :]

    @property
    def previous_line(self) -> str:
        """The last complete line before the hole's line."""
        head = self.before[: len(self.before) - len(self.line_prefix)].rstrip("\n")
        return head.rsplit("\n", 1)[-1]

    @property
    def following(self) -> str:
        """What follows the fill once written: the trail, then the document after the span."""
        return self.trail + self.after

    @property
    def indent(self) -> str:
        return self.base_indent if self.base_indent is not None else leading(self.line_prefix)

    def render(self, fill: str) -> str:
        """The text that replaces the span for ``fill``: lead, the fill's lines (with markers), trail."""
        lines = fill.split("\n")
        if self.line_marker:
            marker = self.line_marker.strip()
            tail = [x.strip().removeprefix(marker).removeprefix(" ").rstrip() for x in lines[1:]]
            lines = [lines[0], *((self.line_marker + x).rstrip() if x else self.line_marker.rstrip() for x in tail)]
        multiline = len(lines) > 1 and self.trail_multiline is not None
        return self.lead + "\n".join(lines) + (self.trail_multiline if multiline else self.trail)

    def request(
        self,
        request_id: str,
        *,
        document_key: str = "",
        max_steps: int = 0,
        num_candidates: int = 1,
        priority: int = Priority.INTERACTIVE,
        seed: int = 0,
        canvas_lengths: tuple[int, ...] | None = None,
        score: bool = False,
    ) -> InfillRequest:
        """The engine request for this hole."""
        return InfillRequest(
            request_id=request_id,
            prefix=self.prefix,
            suffix=self.suffix,
            language=self.language,
            document_key=document_key,
            canvas_lengths=self.canvas_lengths if canvas_lengths is None else canvas_lengths,
            max_steps=max_steps,
            num_candidates=num_candidates,
            priority=priority,
            pinned=self.pinned,
            single_line=self.single_line,
            seed=seed,
            context=self.context,
            score=score,
        )


def plan_from_context(
    ctx: InfillContext,
    *,
    cursor: int,
    language: str,
    context: str = "",
    max_lines: int = 0,
    pinned: str = "",
    single_line: bool | None = None,
    trail: str = "",
    known_names: frozenset[str] = frozenset(),
) -> HolePlan:
    """The plan for inserting at ``cursor`` with the context ``build_context`` cut around it.

    ``context`` is code from other files (the prompt format places it). ``single_line``
    overrides the hole kind's guess (the eval's splits fix it).
    """
    return HolePlan(
        start=cursor,
        end=cursor,
        prefix=ctx.prefix,
        suffix=ctx.suffix,
        before=ctx.prefix,
        after=ctx.suffix,
        context=context,
        language=language,
        canvas_lengths=ctx.canvas_lengths,
        single_line=ctx.single_line if single_line is None else single_line,
        pinned=pinned,
        trail=trail,
        indent_unit=ctx.indent_unit,
        max_lines=max_lines,
        may_replace_closers=True,
        known_names=known_names,
    )


def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in text)


def _shape(raw: str, plan: HolePlan) -> str:
    """Cut and re-indent ``raw`` to the hole: one line, or lines without repeats in the document's indent."""
    fill = raw.replace("\r\n", "\n")
    closer = plan.trail.strip()
    if closer and closer in fill:  # the fill closed the docstring or comment itself: the plan does that
        fill = fill[: fill.index(closer)]
    if plan.single_line:
        fill = first_line(fill)
    else:
        fill = drop_repeated_lines(fill, plan.previous_line if not plan.line_prefix.strip() else "")
        if plan.max_lines:
            fill = "\n".join(fill.split("\n")[: plan.max_lines])
        fill = normalise_indentation(fill, plan.indent_unit, plan.indent)
        if plan.keep_in_block:
            fill = indent_continuation(fill, plan.indent)
    rest = first_line(plan.following)
    if not rest.strip() or only_closers(rest):
        fill = fill.rstrip()
    return fill


def _readings(fill: str, plan: HolePlan) -> list[Fill]:
    """Readings of ``fill`` against what follows the hole, most likely intended first."""
    rest = first_line(plan.following)
    out: list[Fill] = []
    if plan.may_replace_closers and not plan.trail and plan.single_line and rest.strip() and only_closers(rest):
        if fill.rstrip().endswith(rest.strip()) and len(fill.rstrip()) > len(rest.strip()):
            out.append(Fill(fill.rstrip(), replaces=len(rest)))
    if k := closer_overlap(fill, rest):
        out.append(Fill(fill[:-k]))
    if not plan.single_line and (k := suffix_line_overlap(fill, plan.following)):
        out.append(Fill("\n".join(fill.split("\n")[:-k]).rstrip()))
    out.append(Fill(fill))
    return [r for r in out if r.text.strip()]


def finish_fill(raw: str, plan: HolePlan, language: LanguageSupport | None = None) -> Fill | Rejected:
    """The edit for the engine's ``raw`` fill of ``plan``'s hole, or why there is none.

    Steps: the pinned start must be there; cut at the trail's closer, to one line (single-line holes) or
    without repeated lines and re-indented; trim what repeats the text after the hole; refuse control
    characters; then keep the reading that damages the parse least, and refuse it if it damages the parse
    more than the text had without it, or (where the plan knows the names in reach) if it uses a name
    defined nowhere. Without a grammar (``language`` None: a file of any other language) the same holds
    with the checks that need none: the reading that leaves the hole's line's brackets least unbalanced,
    refused if it leaves them worse than the original text did (``text_checks.unbalanced_brackets``).
    In every language a fill that runs on from a finished word into a new one (``return`` +
    ``property``) is refused (``text_checks.glued_word``).
    """
    if not raw.replace("\r\n", "\n").startswith(plan.pinned):
        return Rejected("the fill does not start with the text it was pinned to")
    readings = _readings(_shape(raw, plan), plan)
    if not readings:
        return Rejected("the engine returned nothing usable", empty=True)
    if _has_control_characters(readings[0].text):
        return Rejected("the fill holds control characters", text=readings[0].text)
    rendered = [Fill(plan.render(r.text), r.replaces) for r in readings]
    if language is None:
        return _finish_without_grammar(rendered, plan)
    errors, brackets = parse_damage(language, plan.before + plan.original + plan.after)
    damages = [parse_damage(language, plan.before + r.text + plan.after[r.replaces :]) for r in rendered]
    best = min(range(len(rendered)), key=lambda i: sum(damages[i]))  # ties: the likelier reading
    after_errors, after_brackets = damages[best]
    chosen = rendered[best]
    if after_errors > errors or after_brackets > brackets:
        return Rejected(
            f"the fill does not parse: {after_errors} syntax errors (before: {errors}), "
            f"{after_brackets} unbalanced brackets (before: {brackets})",
            text=chosen.text,
        )
    if glued := _glued(chosen, plan):
        return Rejected(f"the fill runs on from the word before it into {glued!r}", text=chosen.text)
    if stray := _stray_quote(chosen, plan) or _stuttered(chosen, plan):
        return Rejected(stray, text=chosen.text)
    if plan.known_names:
        text = chosen.text
        if text.rstrip().endswith(":") and not plan.after[chosen.replaces :].split("\n", 1)[0].strip():
            # A block opener on its own (``if x:``): give it a body so the text parses and can be checked.
            last = text.rstrip().rsplit("\n", 1)[-1]
            opener_indent = leading(last) if "\n" in text.rstrip() else plan.indent
            text = text.rstrip() + "\n" + opener_indent + plan.indent_unit + "pass"
        filled = plan.before + text + plan.after[chosen.replaces :]
        made_up = made_up_names(plan.language, plan.before + plan.original + plan.after, filled, plan.known_names)
        if made_up:
            return Rejected(f"the fill uses names defined nowhere: {', '.join(made_up)}", text=chosen.text)
    return chosen


def _glued(fill: Fill, plan: HolePlan) -> str | None:
    """The word ``fill`` glues onto the word before the hole (``text_checks.glued_word``); never for a
    pinned start, which the user chose."""
    if plan.pinned:
        return None
    return glued_word(plan.before, fill.text, plan.original + plan.after, plan.known_names)


def _stuttered(fill: Fill, plan: HolePlan) -> str | None:
    """Why ``fill`` repeats the word right before the hole (``text_checks.stutter``); never for a pinned start."""
    if plan.pinned or not (word := stutter(plan.before, fill.text)):
        return None
    return f"the fill repeats the word before it ({word!r})"


def _stray_quote(fill: Fill, plan: HolePlan) -> str | None:
    """Why a one-line ``fill`` leaves a string open on its line (``text_checks.open_string``): a parse may
    count that as no more damage than the hole had (``len(`` left open, ``len(x) "`` ends it badly)."""
    if "\n" in fill.text:
        return None
    without = plan.line_prefix + plan.original + first_line(plan.after)
    return open_string(without, plan.line_prefix + fill.text + first_line(plan.after[fill.replaces :]))


def _finish_without_grammar(rendered: list[Fill], plan: HolePlan) -> Fill | Rejected:
    """Of the readings, the one whose brackets on the hole's line are least unbalanced (ties: the
    likelier), refused if it unbalances them or glues onto a word."""

    without = plan.line_prefix + plan.original + first_line(plan.after)

    def damage(fill: Fill) -> str | None:
        return unbalanced_brackets(without, plan.line_prefix + fill.text + first_line(plan.after[fill.replaces :]))

    reasons = [damage(r) for r in rendered]
    best = next((i for i, reason in enumerate(reasons) if reason is None), 0)
    chosen = rendered[best]
    if reasons[best] is not None:
        return Rejected(reasons[best], text=chosen.text)
    if glued := _glued(chosen, plan):
        return Rejected(f"the fill runs on from the word before it into {glued!r}", text=chosen.text)
    if stray := _stray_quote(chosen, plan) or _stuttered(chosen, plan):
        return Rejected(stray, text=chosen.text)
    return chosen


def ranked(candidates: Iterable[Candidate], pick: str = "confidence", min_confidence: float = 0.0) -> list[Candidate]:
    """The candidates worth finishing, best first: ordered by ``pick`` (the denoiser's ``confidence``, or
    the encoder's ``likelihood``), without those under the gate ``min_confidence``."""
    kept = [c for c in candidates if c.confidence >= min_confidence]
    if pick == "likelihood":
        return sorted(kept, key=lambda c: -c.likelihood)
    return sorted(kept, key=lambda c: -c.confidence)


def finish_candidates(
    texts: Iterable[str], plan: HolePlan, language: LanguageSupport | None = None, *, limit: int = 0
) -> tuple[list[Fill], list[Rejected]]:
    """Finish every candidate in order: the distinct fills kept, and why the others were dropped."""
    kept: list[Fill] = []
    rejected: list[Rejected] = []
    for text in texts:
        outcome = finish_fill(text, plan, language)
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
        elif outcome not in kept:
            kept.append(outcome)
            if limit and len(kept) >= limit:
                break
    return kept, rejected
