"""LSP glue for the workspace index: built after ``initialized``, kept current from saves, closes and watched
file events, shown in the status; and the ``infill.showContext`` command (what the model sees at a cursor).

The index is built from the ``initialize`` request's workspace folders (else its root URI), and again when the
client adds or removes folders (``workspace/didChangeWorkspaceFolders``); a session with neither has no index,
and context comes from open documents alone.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from infill_lsp.convert import plain
from infill_lsp.language_server import InfillServer
from infill_lsp.positions import Position
from infill_lsp.retrieval.report import describe
from infill_lsp.workspace.cache import cache_if
from infill_lsp.workspace.index import WorkspaceIndex

log = logging.getLogger(__name__)

SHOW_CONTEXT = "infill.showContext"
WATCHER_ID = "infill-workspace-files"
REGISTRATION_TIMEOUT_S = 5.0


def file_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI; None for other schemes."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" and parsed.path else None


def workspace_roots(params: types.InitializeParams) -> list[Path]:
    """The workspace folders of ``initialize`` (its root URI, or root path, when it sends no folders)."""
    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots = [path for uri in uris if (path := file_path(uri)) is not None]
    if not roots and params.root_path:
        roots = [Path(params.root_path)]
    return [root for root in roots if root.is_dir()]


def start_index(ls: InfillServer, roots: list[Path]) -> None:
    """Start indexing ``roots`` in the background (nothing without roots or with indexing off)."""
    old, ls.session.index = ls.session.index, None
    if old is not None:
        old.close()
    settings = ls.settings
    if not roots or not settings.index_workspace:
        return
    ls.session.index = WorkspaceIndex(roots, settings.index_limits(), ls.registry,
                                      cache=cache_if(settings.index_cache))  # fmt: skip
    ls.session.index.start()


async def register_watcher(ls: InfillServer) -> None:
    """Ask the client to report file changes in the workspace, where it can register watchers."""
    workspace = ls.client_capabilities.workspace if ls.client_capabilities else None
    watched = workspace.did_change_watched_files if workspace else None
    if ls.session.index is None or watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern="**/*")])
    registration = types.Registration(WATCHER_ID, types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams([registration])), REGISTRATION_TIMEOUT_S
        )
    except Exception as exc:  # the index still follows saves and open documents
        log.info("no file watcher: %s", exc)


def refresh(ls: InfillServer, uri: str) -> None:
    """Index the file at ``uri`` again from disk (after a save, a close, or a change outside the editor)."""
    path, index = file_path(uri), ls.session.index
    if path is not None and index is not None:
        index.refresh(path)


def did_change_folders(ls: InfillServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    """Folders added to or removed from the workspace: the index starts again over the new set (a client that
    opens a folder after ``initialize``, as a multi-root editor does, gets its index then)."""
    removed = {path.resolve() for folder in params.event.removed or [] if (path := file_path(folder.uri))}
    added = [path.resolve() for folder in params.event.added or [] if (path := file_path(folder.uri))]
    current = list(ls.session.index.roots) if ls.session.index is not None else []  # resolved
    roots = [root for root in current if root not in removed]
    roots += [path for path in dict.fromkeys(added) if path.is_dir() and path not in roots]
    if roots != current:
        start_index(ls, roots)


def did_save(ls: InfillServer, params: types.DidSaveTextDocumentParams) -> None:
    refresh(ls, params.text_document.uri)


def did_change_watched_files(ls: InfillServer, params: types.DidChangeWatchedFilesParams) -> None:
    index = ls.session.index
    if index is None:
        return
    for change in params.changes:
        path = file_path(change.uri)
        if path is None:
            continue
        if change.type == types.FileChangeType.Deleted:
            index.remove(path)
        else:
            index.refresh(path)


async def show_context(ls: InfillServer, *args: Any) -> dict[str, Any]:
    """``infill.showContext`` {uri, position}: what the model would be given at that position (JSON)."""
    value = plain(args[0]) if len(args) == 1 else None
    where = value.get("position") if isinstance(value, dict) else None
    if not isinstance(value, dict) or not isinstance(value.get("uri"), str) or not isinstance(where, dict) or not all(
        isinstance(where.get(k), int) and not isinstance(where.get(k), bool) for k in ("line", "character")
    ):
        raise JsonRpcInvalidParams(f"{SHOW_CONTEXT} takes one argument {{uri, position: {{line, character}}}}")
    position = Position(where["line"], where["character"])
    document = ls.documents.get(value["uri"])
    if document is None:
        raise JsonRpcInvalidParams(f"{SHOW_CONTEXT}: {value['uri']} is not open")
    completer = ls.completer
    budgets, cross_file_chars = completer.budgets()
    others = [d for d in ls.documents.all() if d.uri != document.uri]
    return describe(document, position, others, ls.settings, budgets=budgets, cross_file_chars=cross_file_chars,
                    index=ls.session.index, display=completer.display, cache=completer.sources)  # fmt: skip


def register(server: InfillServer) -> None:
    server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))(did_save)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
    server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(did_change_folders)
    server.command(SHOW_CONTEXT)(_show_context)


async def _show_context(ls, *args):  # noqa: ANN001, ANN202  (pygls resolves annotations it cannot see)
    return await show_context(ls, *args)
