"""Which spans to ask the engine about for a next edit, and which answers become the suggestion.

Pure: ``plan`` turns a document's text, its cursor and its recent hunks into probes (a span of whole lines and
the draft its canvas starts from); the caller sends each as an engine request (prefix before the span, suffix
after it, ``draft``) and hands the answers to ``judge``. Two kinds of probe:

- the rule's: the repeat-the-last-edit rule proposes an edit; the probe's draft is its line with the edit
  made, and the model may veto it: a confident rewrite of that draft (at or above the gate, or
  ``UNTRAINED_VETO`` for a model not trained on edits; not merely ending it early) turns it down;
- the model's own (only for a model that rewrites well, ``NextEditPlan.rewrite``): the line at the cursor and
  the line after the last edit, drafted as they stand; the model proposes an edit by rewriting one,
  confidently.

"No edit" is the common answer: no rule that applies, a draft kept as it stands, an answer below the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from infill_lsp.next_edit.minimal import Edit, minimal_edits
from infill_lsp.next_edit.rule import repeated_edits


@dataclass(frozen=True, slots=True)
class Probe:
    """Ask about ``[start, end)`` of the text (whole lines without their line end), starting from ``draft``;
    ``rule``: the rule's edit this probe confirms (None: the model's own rewrite of the span)."""

    start: int
    end: int
    draft: str
    rule: Edit | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The engine's best rewrite of a probe's span, and its confidence (0-1)."""

    text: str
    confidence: float


UNTRAINED_VETO = 0.99


@dataclass(slots=True, kw_only=True)
class NextEditPlan:
    lines_before: int = 5  # the region the suggestion may touch: lines before the cursor's line
    lines_after: int = 30  # and after it (the benchmark finds more right edits at 30 than at 10, as quiet)
    max_probes: int = 4
    gate: float = 0.9  # the least confidence of a rewrite to become a suggestion (or to veto a rule's edit)
    rewrite: bool = True  # ask the model for rewrites of its own (else it only vetoes the rule's edits)

    @property
    def veto_gate(self) -> float:
        """The least confidence of a rewrite that turns a rule's edit down: the gate, or for a model not trained
        on edits (``rewrite`` off) at least ``UNTRAINED_VETO`` — its rewrites of a line are weak evidence
        against an edit (on the next-edit benchmark, at 0.9 the embedded model's vetoes cost two right edits
        for each wrong one they stop)."""
        return self.gate if self.rewrite else max(self.gate, UNTRAINED_VETO)

    def __post_init__(self) -> None:
        for name in ("lines_before", "lines_after", "max_probes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.gate <= 1:
            raise ValueError(f"gate must be in [0, 1], got {self.gate}")


def line_span(text: str, offset: int) -> tuple[int, int]:
    """The line holding ``offset``, without its line end (``\\n`` or ``\\r\\n``)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    return start, end - 1 if end > start and text[end - 1] == "\r" else end


def region(text: str, cursor: int, plan: NextEditPlan) -> tuple[int, int]:
    """The characters a suggestion may touch: whole lines around the cursor's line."""
    start, end = line_span(text, cursor)
    for _ in range(plan.lines_before):
        if start == 0:
            break
        start = line_span(text, start - 1)[0]
    for _ in range(plan.lines_after):
        newline = text.find("\n", end)
        if newline < 0:
            break
        end = line_span(text, newline + 1)[1]
    return start, end


def probes(text: str, cursor: int, hunks: list[tuple[int, int, str]], plan: NextEditPlan) -> list[Probe]:
    """The probes for a next edit at ``cursor``; ``hunks``: the recent edits, oldest first, each ``(start, end,
    old)`` in the current text's offsets (``[start, end)`` held ``old`` before)."""
    if not 0 <= cursor <= len(text):
        return []
    window = region(text, cursor, plan)
    out: list[Probe] = []
    spans: set[tuple[int, int]] = set()
    for edit in repeated_edits(text, cursor, hunks, window):
        start, end = line_span(text, edit.start)
        if edit.end > end or (start, end) in spans:
            continue  # one rule probe a line; an edit across lines is the model's to make
        spans.add((start, end))
        draft = text[start : edit.start] + edit.text + text[edit.end : end]
        out.append(Probe(start, end, draft, edit))
    own = [line_span(text, cursor)] if plan.rewrite else []
    if hunks and plan.rewrite:
        after = text.find("\n", hunks[-1][1])
        if after >= 0 and after + 1 < len(text):
            own.append(line_span(text, after + 1))
    for start, end in own:
        if (start, end) not in spans and text[start:end].strip() and window[0] <= start <= window[1]:
            spans.add((start, end))
            out.append(Probe(start, end, text[start:end]))
    return out[: plan.max_probes]


def judge(text: str, asked: list[Probe], answers: list[Answer | None], plan: NextEditPlan) -> list[Edit]:
    """The suggestion: the edits of the first probe whose answer passes (a rule's edit the model did not veto,
    or the model's own confident rewrite of a span); [] for no edit. A probe without an answer (the engine
    failed it) passes nothing."""
    for probe, answer in zip(asked, answers, strict=True):
        if answer is None:
            continue
        if probe.rule is not None:
            ended_early = probe.draft.startswith(answer.text.rstrip("\r\n"))  # no opinion on what it left out
            if answer.text == probe.draft or ended_early or answer.confidence < plan.veto_gate:
                return [probe.rule]
            continue  # the model is sure the line reads otherwise: the rule does not apply here
        if answer.confidence < plan.gate:
            continue
        if answer.text != probe.draft and "\n" not in answer.text:
            edits = minimal_edits(text[probe.start : probe.end], answer.text, probe.start)
            if edits:
                return edits
    return []


def reads_as_ghost_text(text: str, cursor: int, edit: Edit) -> bool:
    """Whether an editor can show ``edit`` as the ghost text of an inline completion at ``cursor``: one line
    of new text replacing part of the cursor's line around the cursor, the replaced text before the cursor a
    start of the new text (what is typed is kept), and a change after the cursor."""
    start, end = line_span(text, cursor)
    if not start <= edit.start <= cursor <= edit.end <= end or "\n" in edit.text or "\r" in edit.text:
        return False
    typed = text[edit.start : cursor]
    rest = edit.text[len(typed) :]
    return edit.text.startswith(typed) and rest != "" and rest != text[cursor : edit.end]


def keeps_parsing(parse, before: str, after: str) -> bool:
    """Whether ``after`` parses as well as ``before`` did: an edit may not break a file that parses
    (``parse``: text to a tree-sitter tree; a file already broken is not held to it)."""
    old = parse(before.encode("utf-8", "surrogatepass"))
    if old.root_node.has_error:
        return True
    return not parse(after.encode("utf-8", "surrogatepass")).root_node.has_error
