"""The report of a batch run: per file and per hole, as text for people and as JSON for machines."""

from __future__ import annotations

import msgspec


class HoleOutcome(msgspec.Struct, omit_defaults=True):
    line: int  # 1-based line of the hole's start
    recipe: str
    status: str  # filled | rejected | empty | error | pending
    reused: bool = False  # answered by the journal of an earlier run
    detail: str = ""
    fill: str = ""


class FileOutcome(msgspec.Struct):
    path: str
    language: str
    status: str  # changed | unchanged | written | refused | incomplete
    holes: list[HoleOutcome] = []
    detail: str = ""
    diff: str = ""


class SkippedFile(msgspec.Struct):
    path: str
    reason: str


class BatchReport(msgspec.Struct):
    files: list[FileOutcome] = []
    skipped: list[SkippedFile] = []
    holes: int = 0
    filled: int = 0
    rejected: int = 0
    empty: int = 0
    errors: int = 0
    pending: int = 0
    reused: int = 0
    dropped_overlaps: int = 0
    written: int = 0
    refused: int = 0
    engine_seconds: float = 0.0
    holes_per_second: float = 0.0
    interrupted: bool = False
    dry_run: bool = True
    model: str = ""
    journal: str = ""
    journal_error: str = ""  # the journal failed (e.g. a full disk): this run cannot be resumed

    def count(self) -> None:
        """Fill the totals from ``files``."""
        outcomes = [h for f in self.files for h in f.holes]
        self.holes = len(outcomes)
        for status in ("filled", "rejected", "empty", "pending"):
            setattr(self, status, sum(h.status == status for h in outcomes))
        self.errors = sum(h.status == "error" for h in outcomes)
        self.reused = sum(h.reused for h in outcomes)
        self.written = sum(f.status == "written" for f in self.files)
        self.refused = sum(f.status == "refused" for f in self.files)


def to_json(report: BatchReport) -> str:
    return msgspec.json.format(msgspec.json.encode(report).decode(), indent=2)


def summary(report: BatchReport) -> str:
    """Human-readable lines for stderr: problems first, then the totals."""
    lines = []
    for skipped in report.skipped:
        lines.append(f"skipped {skipped.path}: {skipped.reason}")
    incomplete = [f.path for f in report.files if f.status == "incomplete"]
    for file in report.files:
        if file.status == "refused":
            lines.append(f"refused {file.path}: {file.detail}")
        for hole in file.holes:
            if hole.status in ("rejected", "empty", "error"):
                lines.append(f"{hole.status} {file.path}:{hole.line} ({hole.recipe}): {hole.detail}")
    action = "written" if not report.dry_run else "changed (dry run: rerun with --write to apply)"
    changed = report.written if not report.dry_run else sum(f.status == "changed" for f in report.files)
    lines.append(
        f"{report.holes} holes in {len(report.files)} files: {report.filled} filled, {report.rejected} rejected "
        f"(parse check), {report.empty} empty, {report.errors} engine errors, {report.pending} not done; "
        f"{report.reused} reused from the journal; {changed} files {action}; {len(report.skipped)} files skipped"
    )
    if incomplete:
        shown = ", ".join(incomplete[:5]) + (
            f" and {len(incomplete) - 5} more" if len(incomplete) > 5 else ""
        )
        lines.append(f"left as they are (holes not done): {shown}")
    if report.engine_seconds:
        lines.append(f"engine: {report.holes_per_second:.2f} holes/s over {report.engine_seconds:.1f} s")
    if report.journal_error:
        lines.append(
            f"warning: {report.journal_error}; the run went on without a journal, so an interrupted "
            "run would start over (free space or pass --journal elsewhere)"
        )
    if report.interrupted:
        lines.append("interrupted: finished holes are in the journal; rerun the same command to resume")
    return "\n".join(lines)
