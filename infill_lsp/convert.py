"""Converters between lsprotocol types and the pure core's positions, changes, fills and edits."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from infill_lsp.completion import Plan
from infill_lsp.documents import TextChange
from infill_lsp.fill import Fill
from infill_lsp.positions import ENCODINGS, UTF16, LineIndex, Position

COMPLETION_LABEL_CHARS = 60


def lsp_position(position: Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def position_from_lsp(position: types.Position) -> Position:
    return Position(position.line, position.character)


def lsp_range(index: LineIndex, start: int, end: int) -> types.Range:
    """The LSP range of the document offsets ``start:end``."""
    return types.Range(start=lsp_position(index.position(start)), end=lsp_position(index.position(end)))


def encoding_from_lsp(kind: types.PositionEncodingKind | str | None) -> str:
    value = kind.value if isinstance(kind, types.PositionEncodingKind) else kind
    return value if value in ENCODINGS else UTF16


def change_from_lsp(change: types.TextDocumentContentChangeEvent) -> TextChange:
    if isinstance(change, types.TextDocumentContentChangePartial):
        rng = change.range
        return TextChange(change.text, (position_from_lsp(rng.start), position_from_lsp(rng.end)))
    return TextChange(change.text)


def selected_from_lsp(
    info: types.SelectedCompletionInfo | None,
) -> tuple[Position, Position, str] | None:
    if info is None:
        return None
    return position_from_lsp(info.range.start), position_from_lsp(info.range.end), info.text


def lsp_inline_item(index: LineIndex, plan: Plan, fill: Fill) -> types.InlineCompletionItem:
    """The item inserting ``fill`` at the plan's cursor, over any closers (or popup item) it replaces."""
    return types.InlineCompletionItem(
        insert_text=plan.typed + fill.text, range=lsp_range(index, plan.start, plan.replace_end(fill))
    )


def lsp_completion_item(index: LineIndex, plan: Plan, fill: Fill, rank: int) -> types.CompletionItem:
    """A popup item for clients without inline completion, clearly marked as infill's."""
    text = plan.typed + fill.text
    first = text.split("\n", 1)[0].strip()
    label = first if len(first) <= COMPLETION_LABEL_CHARS else first[: COMPLETION_LABEL_CHARS - 1] + "…"
    lines = text.count("\n")
    return types.CompletionItem(
        label=f"infill: {label}" + (f" (+{lines} lines)" if lines else ""),
        kind=types.CompletionItemKind.Text,
        detail="infill",
        documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
        sort_text=f"!{rank:03d}",  # before the language server's own items
        filter_text=text,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=lsp_range(index, plan.start, plan.replace_end(fill)), new_text=text),
        preselect=rank == 0,
    )


def lsp_workspace_edit(
    uri: str, version: int | None, edit_range: types.Range, text: str, *, versioned: bool = True
) -> types.WorkspaceEdit:
    """One text edit; versioned (where the client can) so that it is refused if the document moved on."""
    edit = types.TextEdit(range=edit_range, new_text=text)
    if not versioned:
        return types.WorkspaceEdit(changes={uri: [edit]})
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=[edit],
            )
        ]
    )


def plain(value: Any) -> Any:
    """Command arguments arrive as dicts, or as namedtuples from some clients: dicts and lists out."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
