"""One batch run, start to end: find files and holes, reuse the journal, drive the engine, diff, write.

``BatchConfig`` is the one typed object the CLI builds; ``run_batch`` takes it with a WaveRunner
factory (in-process engine, socket engine or Ray actors), a progress bar and a stop event, and
returns the report. Files are diffed or written only when all their holes are decided, so an
interrupted run never leaves a half-filled file behind and a resumed run ends where a whole one would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.protocol import Welcome
from infill_lsp.batch.driving import Answer, WaveRunner, answer_text, drive
from infill_lsp.batch.fitting import fit_holes
from infill_lsp.batch.holes import (
    Recipe,
    RecipeError,
    compile_query,
    load_recipes,
    marker_holes,
    query_holes,
    recipe_query,
)
from infill_lsp.batch.journal import HoleRecord, Journal, JournalError, read_journal
from infill_lsp.batch.patches import WriteRefused, apply_fills, unified_diff, write_atomically
from infill_lsp.batch.planning import FilePlan, FillSettings, PlannedHole, judge_fill, plan_file, waves
from infill_lsp.batch.progress import NoProgress, Progress
from infill_lsp.batch.report import BatchReport, FileOutcome, HoleOutcome, SkippedFile
from infill_lsp.batch.sources import Skipped, SourceFile, find_files, read_source, resolve_roots
from infill_lsp.languages import LanguageRegistry, LanguageSupport
from infill_lsp.postprocess import parse_damage

DEFAULT_RECIPES = ("todo_bodies",)


@dataclass(slots=True, kw_only=True)
class BatchConfig:
    paths: tuple[str, ...]
    recipes: tuple[str, ...] = DEFAULT_RECIPES
    query_file: Path | None = None
    fill: FillSettings = field(default_factory=FillSettings)
    write: bool = False
    journal: Path | None = None
    max_file_bytes: int = 1024 * 1024
    limit: int = 0  # stop after this many holes answered by the engine (0: no limit)

    def __post_init__(self) -> None:
        if not self.paths:
            raise ValueError("paths: name at least one file or folder")
        if self.max_file_bytes < 1:
            raise ValueError("max_file_bytes must be >= 1")
        if self.limit < 0:
            raise ValueError("limit must be >= 0")


RunnerFactory = Callable[[], Awaitable[tuple[WaveRunner, str, Callable[[], Awaitable[None]]]]]


class HoleFinder:
    """Compiles recipe and user queries per language, once, and finds the holes of one file."""

    def __init__(self, config: BatchConfig, recipes: dict[str, Recipe] | None = None) -> None:
        table = load_recipes() if recipes is None else recipes
        unknown = [name for name in config.recipes if name not in table]
        if unknown:
            raise RecipeError(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(sorted(table))}")
        self.recipes = [table[name] for name in config.recipes]
        self.user_query = config.query_file.read_text(encoding="utf-8") if config.query_file else None
        self.query_origin = str(config.query_file)
        self.marker = config.fill.marker
        self._compiled: dict[tuple[str, str], object] = {}

    def _query(self, language: LanguageSupport, key: str, make):
        if (language.name, key) not in self._compiled:
            self._compiled[(language.name, key)] = make()
        return self._compiled[(language.name, key)]

    def find(self, source: SourceFile, language: LanguageSupport):
        """Return the holes of ``source``, or the reason it cannot be processed."""
        holes = marker_holes(source.text, self.marker) if self.marker else []
        if not self.recipes and self.user_query is None:
            return holes
        tree = language.parse(source.text.encode("utf-8", "surrogatepass"))
        if tree.root_node.has_error and not self.marker:
            errors = parse_damage(language, source.text)[0]
            return f"does not parse ({errors} syntax errors); fix it first, fills could not be checked"
        for recipe in self.recipes:
            query = self._query(language, recipe.name, lambda r=recipe: recipe_query(language, r))
            if query is not None:
                holes += query_holes(
                    source.text,
                    tree,
                    query,
                    recipe=recipe.name,
                    canvas=recipe.canvas,
                    pinned=recipe.pinned,
                    single_line=recipe.single_line,
                    planner=recipe.planner,
                )
        if self.user_query is not None:
            try:
                query = self._query(
                    language, "--query", lambda: compile_query(language, self.user_query, self.query_origin)
                )
            except RecipeError as exc:
                self._compiled[(language.name, "--query")] = exc
                query = exc
            if isinstance(query, RecipeError):
                return f"the --query does not compile for {language.name}: {query}"
            holes += query_holes(source.text, tree, query, recipe="query")
        return holes


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def fitted_to(welcome: Welcome | None, config: BatchConfig, roots: list[Path], holes: list[PlannedHole],
              registry: LanguageRegistry) -> list[PlannedHole]:
    """``holes`` with their requests fitted to the engine that announced ``welcome``, with the repository
    context unless the run turned it off (the repositories' index is built here, once an engine is there)."""
    index = repository_index(roots) if config.fill.context and holes else None
    return fit_holes(holes, registry, welcome, index)


def repository_index(roots: list[Path]):
    """The workspace index of the repositories holding ``roots`` (each root's git work tree, else the root
    itself), built now: the repository context of every hole."""
    from infill_lsp.config import Settings
    from infill_lsp.context_command import workspace_of
    from infill_lsp.workspace import WorkspaceIndex
    from infill_lsp.workspace.cache import cache_if

    folders = sorted({workspace_of(root / "_" if root.is_dir() else root) for root in roots})
    index = WorkspaceIndex(folders, cache=cache_if(Settings().index_cache))
    index.build_now()
    return index


def collect_plans(config: BatchConfig, registry: LanguageRegistry, finder: HoleFinder):
    """Return (roots, file plans, skipped files) for the configured paths, holes numbered from 1. The
    requests are not yet fitted to an engine (``fitted_to``)."""
    roots, skipped = resolve_roots(config.paths)
    found, refused = find_files(roots, lambda p: registry.name_for("", p.as_uri()))
    skipped += refused
    plans: list[FilePlan] = []
    next_id, id_prefix = 1, f"batch-{secrets.token_hex(4)}-"
    for path, name in found:
        source = read_source(path, name, max_bytes=config.max_file_bytes)
        if isinstance(source, Skipped):
            skipped.append(source)
            continue
        language = registry.get(name)
        if language is None:
            reason = registry.failures().get(name, f"no grammar for {name}")
            skipped.append(Skipped(source.display, reason))
            continue
        holes = finder.find(source, language)
        if isinstance(holes, str):
            skipped.append(Skipped(source.display, holes))
            continue
        plan = plan_file(source, language, holes, config.fill, next_id, id_prefix)
        next_id += len(plan.holes)
        plans.append(plan)
    return roots, plans, skipped


async def run_batch(
    config: BatchConfig,
    make_runner: RunnerFactory,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    registry: LanguageRegistry | None = None,
) -> BatchReport:
    """Run the batch described by ``config`` and return its report (files written only with ``write``)."""
    registry = registry or LanguageRegistry()
    progress = progress or NoProgress()
    stop = stop or asyncio.Event()
    roots, plans, skipped = collect_plans(config, registry, HoleFinder(config))
    records: dict[tuple[str, str, int, int], HoleRecord] = {}
    reused: set[tuple[str, str, int, int]] = set()
    if config.journal is not None:
        finished = read_journal(config.journal)
        for plan in plans:
            for planned in plan.holes:
                if planned.key in finished:
                    records[planned.key] = finished[planned.key]
                    reused.add(planned.key)
    pending = [p for plan in plans for p in plan.holes if p.key not in records]
    if config.limit:
        pending = pending[: config.limit]
    errors: dict[tuple[str, str, int, int], str] = {}
    report = BatchReport(dry_run=not config.write, journal=str(config.journal or ""))
    interrupted = False
    if pending:
        interrupted, seconds, model = await _fill(
            config, make_runner, roots, pending, records, errors, progress, stop, registry, report
        )
        report.engine_seconds = round(seconds, 3)
        report.model = model
        answered = sum(1 for p in pending if p.key in records)
        report.holes_per_second = round(answered / seconds, 3) if seconds else 0.0
    report.interrupted = interrupted
    report.skipped = [SkippedFile(s.path, s.reason) for s in skipped]
    report.dropped_overlaps = sum(p.dropped for p in plans)
    for plan in plans:
        language = registry.get(plan.file.language)
        assert language is not None  # plans exist only for languages that compiled
        report.files.append(_file_outcome(config, roots, plan, language, records, reused, errors))
    report.count()
    return report


async def _fill(config, make_runner, roots, pending, records, errors, progress, stop, registry, report):
    journal = None
    if config.journal is not None:
        try:
            journal = Journal(config.journal)
        except JournalError as exc:  # the fills still count: go on without resuming
            report.journal_error = str(exc)
    runner, model, close = await make_runner()
    try:
        pending = fitted_to(runner.welcome, config, roots, pending, registry)
    except BaseException:
        await close()
        raise
    started = time.perf_counter()
    progress.start(len(pending))

    def on_answer(planned: PlannedHole, answer: Answer) -> None:
        nonlocal journal
        text, confidence, steps, error = answer_text(answer)
        progress.advance()
        if error:
            errors[planned.key] = error
            return
        language = registry.get(planned.file.language)
        record = judge_fill(planned, language, text, confidence=confidence, steps=steps,
                            min_confidence=config.fill.min_confidence)
        records[planned.key] = record
        if journal is not None:
            try:
                journal.append(record)
            except JournalError as exc:  # a full disk: keep the fills, stop journaling, say so
                report.journal_error = str(exc)
                journal.close()
                journal = None

    try:
        finished = await drive(waves(pending, config.fill.wave_size), runner, on_answer, stop)
    finally:
        seconds = time.perf_counter() - started
        progress.close()
        if journal is not None:
            journal.close()
        await close()
    return not finished, seconds, model


def _file_outcome(config, roots, plan: FilePlan, language, records, reused, errors) -> FileOutcome:
    source = plan.file
    outcome = FileOutcome(path=source.display, language=source.language, status="unchanged")
    fills = []
    for planned in plan.holes:
        key = planned.key
        line = _line_of(source.text, planned.hole.start)
        record = records.get(key)
        if record is None:
            status = "error" if key in errors else "pending"
            outcome.holes.append(HoleOutcome(line, planned.hole.recipe, status, detail=errors.get(key, "")))
            continue
        outcome.holes.append(
            HoleOutcome(
                line,
                record.recipe,
                record.status,
                reused=key in reused,
                detail=record.detail,
                fill=record.fill,
            )
        )
        if record.status == "filled":
            fills.append((planned.hole.start, planned.hole.end, record.fill))
    if any(h.status in ("pending", "error") for h in outcome.holes):
        outcome.status, outcome.detail = "incomplete", "some holes are not done; the file is left as it is"
        return outcome
    if not fills:
        return outcome
    new_text = apply_fills(source.text, fills)
    before = parse_damage(language, source.text)
    after = parse_damage(language, new_text)
    if after[0] > before[0] or after[1] > before[1]:
        outcome.status, outcome.detail = (
            "refused",
            "the fills together break the parse; the file is left as it is",
        )
        return outcome
    outcome.diff = unified_diff(source.display, source.text, new_text)
    outcome.status = "changed"
    if config.write:
        try:
            write_atomically(
                source.path, new_text, expected_sha256=source.sha256, mode=source.mode, roots=roots
            )
        except (WriteRefused, OSError) as exc:
            outcome.status, outcome.detail = "refused", str(exc)
        else:
            outcome.status = "written"
    return outcome
