"""The plan of a batch run: every hole of every file as an engine request, grouped into waves.

Pure apart from parsing. Holes are ordered by file path and offset; each gets a seed derived from the
file's hash and its span, so a hole's request is the same whichever run, machine or actor sends it.
Waves group whole files (a file with more holes than a wave holds is split) and are the unit of work
handed to an engine at once, so every engine sees the same batches in every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.protocol import InfillRequest, Priority
from infill_lsp.batch.holes import MARKER_RECIPE, Hole, hole_context, without_overlaps
from infill_lsp.batch.journal import HoleRecord
from infill_lsp.batch.sources import SourceFile
from infill_lsp.languages import LanguageSupport
from infill_lsp.postprocess import drop_repeated_lines, normalise_indentation, parse_damage

HoleKey = tuple[str, str, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class FillSettings:
    """How every request of a run is made; part of the journal's fingerprint."""

    steps: int = 0  # 0: the engine default
    seed: int = 0
    wave_size: int = 64
    marker: str = ""

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.wave_size < 1:
            raise ValueError(f"wave_size must be >= 1, got {self.wave_size}")


@dataclass(frozen=True, slots=True)
class PlannedHole:
    file: SourceFile
    hole: Hole
    request: InfillRequest
    baseline: tuple[int, int]  # parse damage of the text around the hole before filling

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


def plan_file(
    source: SourceFile, language: LanguageSupport, holes: list[Hole], settings: FillSettings, first_id: int
) -> FilePlan:
    """Turn the holes found in ``source`` into requests numbered from ``first_id``."""
    kept, dropped = without_overlaps(holes)
    plan = FilePlan(source, dropped=len(dropped))
    for offset, hole in enumerate(kept):
        prefix, suffix = hole_context(source.text, hole, kept, settings.marker)
        original = "" if hole.recipe == MARKER_RECIPE else source.text[hole.start : hole.end]
        request = InfillRequest(
            request_id=first_id + offset,
            prefix=prefix,
            suffix=suffix,
            language=language.name,
            canvas_lengths=(hole.canvas,),
            max_steps=settings.steps,
            priority=Priority.BATCH,
            pinned=hole.pinned,
            single_line=hole.single_line,
            seed=hole_seed(source.sha256, hole, settings.seed),
        )
        baseline = parse_damage(language, prefix + original + suffix)
        plan.holes.append(PlannedHole(source, hole, request, baseline))
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


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def clean_batch_fill(raw: str, planned: PlannedHole, indent_unit: str) -> str:
    """Shape a raw engine fill for its hole: one line or re-indented lines, pinned start, trailer."""
    hole, request = planned.hole, planned.request
    fill = raw.replace("\r\n", "\n")
    if hole.pinned and not fill.startswith(hole.pinned):
        fill = hole.pinned + fill
    if hole.single_line:
        fill = fill.split("\n", 1)[0]
    else:
        line_prefix = request.prefix[request.prefix.rfind("\n") + 1 :]
        previous = request.prefix[: len(request.prefix) - len(line_prefix)].rstrip("\n").rsplit("\n", 1)[-1]
        fill = drop_repeated_lines(fill, previous)
        fill = normalise_indentation(fill, indent_unit, _leading(line_prefix))
    fill = fill.rstrip()
    return fill + hole.trailer if fill.strip() else ""


def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in text)


def judge_fill(
    planned: PlannedHole,
    language: LanguageSupport,
    raw: str,
    *,
    confidence: float = 0.0,
    steps: int = 0,
    clean: Callable[[str, PlannedHole, str], str] = clean_batch_fill,
) -> HoleRecord:
    """Return the journal record for ``raw``: filled, rejected (worse parse) or empty."""
    fill = clean(raw, planned, language.entry.indent)
    record = dict(
        path=str(planned.file.path),
        sha256=planned.file.sha256,
        start=planned.hole.start,
        end=planned.hole.end,
        recipe=planned.hole.recipe,
        fill=fill,
        confidence=confidence,
        steps=steps,
    )
    if not fill:
        return HoleRecord(**record, status="empty", detail="the engine returned nothing usable")
    if _has_control_characters(fill):
        return HoleRecord(**record, status="rejected", detail="the fill holds control characters")
    request = planned.request
    errors, brackets = parse_damage(language, request.prefix + fill + request.suffix)
    base_errors, base_brackets = planned.baseline
    if errors > base_errors or brackets > base_brackets:
        detail = (
            f"the fill does not parse: {errors} syntax errors (before: {base_errors}), "
            f"{brackets} unbalanced brackets (before: {base_brackets})"
        )
        return HoleRecord(**record, status="rejected", detail=detail)
    return HoleRecord(**record, status="filled")
