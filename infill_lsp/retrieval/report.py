"""What the model would be given at one cursor: the windows and every cross-file snippet, with why.

Shared by ``infill context`` and the language server's ``infill.showContext`` command: the same plan the
completion path makes (same budgets, same sources, same packer), described as JSON or as text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from infill_lsp.completion import Skip, plan_completion
from infill_lsp.config import Settings
from infill_lsp.context import Budgets
from infill_lsp.crossfile import uri_path
from infill_lsp.documents import Document
from infill_lsp.positions import Position
from infill_lsp.retrieval.gather import SourceCache, context_block
from infill_lsp.workspace.index import WorkspaceIndex


def describe(
    document: Document,
    position: Position,
    others: list[Document],
    settings: Settings,
    *,
    budgets: Budgets,
    cross_file_chars: int,
    index: WorkspaceIndex | None = None,
    display: Callable[[str], str] = lambda path: Path(path).name,
    cache: SourceCache | None = None,
) -> dict[str, Any]:
    """The prompt parts at ``position`` of ``document``, as JSON-ready data."""
    out: dict[str, Any] = {
        "file": display(str(uri_path(document.uri))),
        "line": position.line,
        "character": position.character,
        "language": document.language.name if document.language else "text",
        "budgets": {"prefix_chars": budgets.prefix_chars, "suffix_chars": budgets.suffix_chars,
                    "cross_file_chars": cross_file_chars},  # fmt: skip
        "index": index.status() if index is not None else None,
    }
    if not 0 <= position.line < document.index.line_count:
        out["skipped"] = f"line {position.line} is outside the file ({document.index.line_count} lines)"
        return out
    offset = document.index.offset(position)
    packed, gathered = context_block(
        document, offset, others, settings, budget=cross_file_chars, prefix_chars=budgets.prefix_chars,
        suffix_chars=budgets.suffix_chars, index=index, display=display, cache=cache,
    )  # fmt: skip
    out["timings_ms"] = gathered.timings_ms
    out["chosen"] = [s.as_json() for s in packed.chosen]
    out["dropped"] = [{**s.as_json(), "reason": reason} for s, reason in packed.dropped]
    try:
        plan = plan_completion(document, position, settings, request_id="context", cross_file=packed.block,
                               budgets=budgets)  # fmt: skip
    except Skip as why:
        out["skipped"] = str(why)
        out["context"] = packed.block
        return out
    out["context"] = plan.request.context
    out["prefix"] = plan.request.prefix
    out["suffix"] = plan.request.suffix
    out["hole"] = plan.context.kind.value
    return out


def render_text(report: dict[str, Any]) -> str:
    """``report`` for a terminal: the snippets with their source and why, then the prompt's parts."""
    lines = [f"{report['file']}:{report['line'] + 1}:{report['character'] + 1} ({report['language']})"]
    index = report.get("index")
    if index:
        lines.append(f"index: {index['files']} files, {index['definitions']} definitions ({index['state']})")
    else:
        lines.append("index: none (no workspace)")
    if "timings_ms" in report:
        lines.append("sources (ms): " + ", ".join(f"{k} {v}" for k, v in report["timings_ms"].items()))
    lines.append(f"\n== cross-file snippets chosen ({len(report.get('chosen', []))}) ==")
    for snippet in report.get("chosen", []):
        lines.append(f"- [{snippet['source']}] {snippet['path']}:{snippet['line'] + 1}: {snippet['why']}")
    if report.get("dropped"):
        lines.append(f"\n== left out ({len(report['dropped'])}) ==")
        for snippet in report["dropped"]:
            lines.append(f"- [{snippet['source']}] {snippet['path']}:{snippet['line'] + 1}: {snippet['reason']}")
    if "skipped" in report:
        lines.append(f"\nno completion here: {report['skipped']}")
    for part in ("context", "prefix", "suffix"):
        if part in report:
            lines += [f"\n== {part} ({len(report[part])} characters) ==", report[part]]
    return "\n".join(lines) + "\n"
