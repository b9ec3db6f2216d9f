"""The workspace index: the files of the editor's workspace folders, their definitions and imports.

``files`` walks a folder (git's ignore rules in ``gitignore``), ``definitions`` reads one file's symbols,
``index`` keeps them all current in a background thread.
"""

from infill_lsp.workspace.definitions import Definition, Symbols
from infill_lsp.workspace.files import DEFAULT_EXCLUDE, IndexLimits
from infill_lsp.workspace.index import WorkspaceIndex

__all__ = ["DEFAULT_EXCLUDE", "Definition", "IndexLimits", "Symbols", "WorkspaceIndex"]
