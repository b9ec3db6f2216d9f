"""What one editor session shares with the completion work: settings, open documents, the engine link,
the workspace index.

The language server owns a ``Session`` and replaces its parts as the editor changes settings or opens
documents; the ``Completer`` reads them from here, so it never reaches into the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infill_lsp.config import Settings
from infill_lsp.documents import DocumentStore
from infill_lsp.engine_link import EngineLink
from infill_lsp.workspace.index import WorkspaceIndex


@dataclass(slots=True)
class Session:
    settings: Settings = field(default_factory=Settings)
    documents: DocumentStore = field(default_factory=DocumentStore)
    link: EngineLink | None = None
    root: str | None = None  # the workspace folder, for naming other documents in cross-file context
    index: WorkspaceIndex | None = None  # the workspace folders' files and definitions (None: no folder)
