"""The plan of a batch run: every hole of every file as an engine request, grouped into waves.

Pure apart from parsing. Holes are ordered by file path and offset; each gets a seed derived from the
file's hash and its span, so a hole's request is the same whichever run, machine or actor sends it.
Waves group whole files (a file with more holes than a wave holds is split) and are the unit of work
handed to an engine at once, so every engine sees the same batches in every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import tree_sitter

from engine.protocol import InfillRequest, Priority
from infill_lsp.batch.holes import DOCSTRING_PLANNER, MARKER_RECIPE, Hole, hole_context, without_overlaps
from infill_lsp.batch.journal import HoleRecord
from infill_lsp.batch.sources import SourceFile
from infill_lsp.checks import names_in_code
from infill_lsp.context import detect_indent_unit
from infill_lsp.docstrings import docstring_plan
from infill_lsp.edits import CommandError
from infill_lsp.fill import Fill, HolePlan, Rejected, finish_fill
from infill_lsp.languages import LanguageSupport

HoleKey = tuple[str, str, int, int]
MAX_WAVE_SIZE = 256  # engine.core.config.EngineConfig.max_queued: a larger wave would be answered "busy"


@dataclass(frozen=True, slots=True, kw_only=True)
class FillSettings:
    """How every request of a run is made; part of the journal's fingerprint."""

    steps: int = 0  # 0: the engine default
    seed: int = 0
    wave_size: int = 64
    marker: str = ""
    min_confidence: float = 0.0  # the gate: a fill under this confidence is reported, not written
    context: bool = True  # repository context: definitions and code from the repository's other files

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1], got {self.min_confidence}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if not 1 <= self.wave_size <= MAX_WAVE_SIZE:
            raise ValueError(
                f"wave_size must lie in [1, {MAX_WAVE_SIZE}] (the engine queues at most {MAX_WAVE_SIZE} requests), "
                f"got {self.wave_size}"
            )


@dataclass(frozen=True, slots=True)
class PlannedHole:
    file: SourceFile
    hole: Hole
    request: InfillRequest
    plan: HolePlan

    @property
    def key(self) -> HoleKey:
        return (str(self.file.path), self.file.sha256, self.hole.start, self.hole.end)


@dataclass(slots=True)
class FilePlan:
    file: SourceFile
    holes: list[PlannedHole] = field(default_factory=list)
    dropped: int = 0  # holes overlapping another one


def hole_seed(sha256: str, hole: Hole, run_seed: int) -> int:
    """A non-zero 31-bit seed from the file's hash, the hole's span and the run seed."""
    digest = hashlib.sha256(f"{sha256}:{hole.start}:{hole.end}:{run_seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1


def hole_plan(
    source: SourceFile,
    language: LanguageSupport,
    hole: Hole,
    others: list[Hole],
    marker: str,
    tree,
    known_names: frozenset[str] = frozenset(),
) -> HolePlan:
    """The fill layer's plan for ``hole``; raises CommandError when its planner finds nothing to do.

    ``tree`` is a callable returning the file's parse (only planners that need it call it).
    """
    if hole.planner == DOCSTRING_PLANNER:
        return docstring_plan(source.text, hole.start, language=language, tree=tree())
    prefix, suffix = hole_context(source.text, hole, others, marker)
    return HolePlan(
        start=hole.start,
        end=hole.end,
        prefix=prefix,
        suffix=suffix,
        before=prefix,
        after=suffix,
        original="" if hole.recipe == MARKER_RECIPE else source.text[hole.start : hole.end],
        language=language.name,
        canvas_lengths=(hole.canvas,),
        single_line=hole.single_line,
        pinned=hole.pinned,
        trail=hole.trailer,
        indent_unit=detect_indent_unit(source.text, language.entry.indent),
        known_names=known_names,
    )


def plan_file(
    source: SourceFile, language: LanguageSupport, holes: list[Hole], settings: FillSettings, first_id: int,
    id_prefix: str = "batch-",
) -> FilePlan:
    """Turn the holes found in ``source`` into requests numbered from ``first_id`` (ids ``id_prefix`` + number:
    a run gives a prefix of its own, so that runs sharing an engine never share an id). The requests hold the
    whole file around each hole and no repository context until ``fitting.fit_holes`` cuts them to an engine."""
    kept, dropped = without_overlaps(holes)
    plan = FilePlan(source, dropped=len(dropped))
    parsed: list[tree_sitter.Tree] = []

    def tree() -> tree_sitter.Tree:
        if not parsed:
            parsed.append(language.parse(source.text.encode("utf-8", "surrogatepass")))
        return parsed[0]

    known = names_in_code(language, tree(), source.text)
    for hole in kept:
        try:
            fill_plan = hole_plan(source, language, hole, kept, settings.marker, tree, known)
        except CommandError:
            plan.dropped += 1
            continue
        hole = dataclasses.replace(hole, start=fill_plan.start, end=fill_plan.end)
        request = fill_plan.request(
            f"{id_prefix}{first_id + len(plan.holes)}",
            max_steps=settings.steps,
            priority=Priority.BATCH,
            seed=hole_seed(source.sha256, hole, settings.seed),
        )
        plan.holes.append(PlannedHole(source, hole, request, fill_plan))
    return plan


def waves(holes: list[PlannedHole], wave_size: int) -> list[list[PlannedHole]]:
    """Group holes (in plan order) into waves of at most ``wave_size``, keeping a file's holes together."""
    out: list[list[PlannedHole]] = []
    current: list[PlannedHole] = []
    by_file: dict[str, list[PlannedHole]] = {}
    for planned in holes:
        by_file.setdefault(str(planned.file.path), []).append(planned)
    for group in by_file.values():
        if current and len(current) + len(group) > wave_size:
            out.append(current)
            current = []
        for start in range(0, len(group), wave_size):
            chunk = group[start : start + wave_size]
            if current and len(current) + len(chunk) > wave_size:
                out.append(current)
                current = []
            current.extend(chunk)
    if current:
        out.append(current)
    return out


def judge_fill(
    planned: PlannedHole,
    language: LanguageSupport,
    raw: str,
    *,
    confidence: float = 0.0,
    steps: int = 0,
    min_confidence: float = 0.0,
) -> HoleRecord:
    """Return the journal record for ``raw``: filled, rejected (by the gate or the fill layer's checks),
    or empty."""
    outcome = finish_fill(raw, planned.plan, language)
    if isinstance(outcome, Fill) and confidence < min_confidence:
        outcome = Rejected(f"under the gate: confidence {confidence:.3f} < {min_confidence}", text=outcome.text)
    record = dict(
        path=str(planned.file.path),
        sha256=planned.file.sha256,
        start=planned.hole.start,
        end=planned.hole.end,
        recipe=planned.hole.recipe,
        confidence=confidence,
        steps=steps,
    )
    if isinstance(outcome, Rejected):
        status = "empty" if outcome.empty else "rejected"
        return HoleRecord(**record, fill=outcome.text, status=status, detail=outcome.reason)
    return HoleRecord(**record, fill=outcome.text, status="filled")
