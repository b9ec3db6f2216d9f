"""The workspace index through the language server: a fill's prompt holds a definition from a file that was
never opened; the index follows watched-file events; ``infill.showContext`` and the status show it."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import DEFAULT_OPTIONS, complete, open_document, server_config, wait_for_status
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from infill_tools.loadgen import plain

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENGINE_LOG = Path(tempfile.mkdtemp(prefix="infill-fake-engine-")) / "requests.jsonl"
WORKSPACE = Path(tempfile.mkdtemp(prefix="infill-workspace-")).resolve()
BILLING = "def compute_invoice_total(items, tax_rate):\n    return sum(items) * (1 + tax_rate)\n"
MAIN = (
    "from shop.billing import compute_invoice_total\n\n\n"
    "def pay(items):\n    total = compute_invoice_total(items, 0.2)\n    return \n"
)


@pytest_lsp.fixture(config=server_config(FAKE_ENGINE_LOG=str(ENGINE_LOG)), scope="module")
async def client(lsp_client: LanguageClient):
    (WORKSPACE / "shop").mkdir(exist_ok=True)
    (WORKSPACE / "shop" / "billing.py").write_text(BILLING)
    (WORKSPACE / "shop" / "main.py").write_text(MAIN)
    (WORKSPACE / ".env.py").write_text("def compute_invoice_total():\n    SECRET = 1\n")
    lsp_client.registrations = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        lsp_client.registrations.extend(r.method for r in params.registrations)

    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options=DEFAULT_OPTIONS,
        workspace_folders=[types.WorkspaceFolder(uri=WORKSPACE.as_uri(), name="shop")],
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def engine_requests() -> list[dict[str, Any]]:
    return [json.loads(x) for x in ENGINE_LOG.read_text().splitlines()] if ENGINE_LOG.exists() else []


async def test_a_fill_prompt_holds_a_definition_from_a_file_never_opened(client: LanguageClient):
    info = await wait_for_status(client, lambda i: (i.get("index") or {}).get("state") == "ready", timeout=30)
    assert info["index"]["files"] == 2 and info["index"]["definitions"] >= 2  # .env.py never read
    assert types.WORKSPACE_DID_CHANGE_WATCHED_FILES in client.registrations
    main = (WORKSPACE / "shop" / "main.py").as_uri()
    open_document(client, main, MAIN)
    await complete(client, main, 5, len("    return "))
    context = engine_requests()[-1]["context"]
    assert context.startswith("# file: shop/billing.py\ndef compute_invoice_total(items, tax_rate):")
    assert "SECRET" not in context

    shown = plain(await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="infill.showContext", arguments=[{"uri": main, "position": {"line": 5, "character": 11}}])))
    assert shown["context"] == context and shown["chosen"][0]["source"] == "definitions"
    assert shown["file"] == "shop/main.py" and shown["index"]["state"] == "ready"


async def test_watched_file_events_keep_the_index_current(client: LanguageClient):
    added = WORKSPACE / "shop" / "tax.py"
    added.write_text("def tax_rate_for(country):\n    return 0.2\n")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=added.as_uri(), type=types.FileChangeType.Created)]))
    await wait_for_status(client, lambda i: i["index"]["files"] == 3, timeout=30)
    added.unlink()
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=added.as_uri(), type=types.FileChangeType.Deleted)]))
    await wait_for_status(client, lambda i: i["index"]["files"] == 2, timeout=30)


async def test_show_context_refuses_bad_arguments(client: LanguageClient):
    with pytest.raises(Exception, match="takes one argument"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="infill.showContext", arguments=[{"uri": "file:///x.py"}]))


async def test_a_folder_added_after_initialize_is_indexed_and_a_removed_one_dropped(client: LanguageClient):
    other = Path(tempfile.mkdtemp(prefix="infill-workspace-added-")).resolve()
    (other / "geo.py").write_text("def distance_between(a, b):\n    return abs(a - b)\n")
    added = types.WorkspaceFolder(uri=other.as_uri(), name="geo")
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(added=[added], removed=[])))
    info = await wait_for_status(client, lambda i: len(i["index"]["roots"]) == 2 and i["index"]["state"] == "ready",
                                 timeout=30)
    assert info["index"]["files"] == 3  # shop's two and geo.py
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(added=[], removed=[added])))
    info = await wait_for_status(client, lambda i: i["index"]["roots"] == [str(WORKSPACE)] and
                                 i["index"]["state"] == "ready", timeout=30)
    assert info["index"]["files"] == 2


async def test_a_folder_indexed_before_comes_back_from_the_index_cache(client: LanguageClient):
    """The index of a folder is kept on disk: the same folder added again (as a restarted server would build
    it) takes its unchanged files from the cache, unread, and finds the same definitions."""
    other = Path(tempfile.mkdtemp(prefix="infill-workspace-cached-")).resolve()
    for name in ("rates.py", "units.py"):
        (other / name).write_text(f"def convert_{name[:-3]}(value):\n    return value * 2\n")
        os.utime(other / name, (time.time() - 3600, time.time() - 3600))  # written long before any cache
    folder = types.WorkspaceFolder(uri=other.as_uri(), name="units")

    def change(added, removed):
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=added, removed=removed)))

    change([folder], [])
    first = await wait_for_status(client, lambda i: len(i["index"]["roots"]) == 2 and i["index"]["state"] == "ready",
                                  timeout=30)
    change([], [folder])
    await wait_for_status(client, lambda i: len(i["index"]["roots"]) == 1 and i["index"]["state"] == "ready",
                          timeout=30)
    change([folder], [])
    again = await wait_for_status(client, lambda i: len(i["index"]["roots"]) == 2 and i["index"]["state"] == "ready",
                                  timeout=30)
    assert again["index"]["from_cache"] >= first["index"]["from_cache"] + 2  # both of its files, at least
    assert again["index"]["files"] == first["index"]["files"] == 4
    change([], [folder])
    await wait_for_status(client, lambda i: len(i["index"]["roots"]) == 1 and i["index"]["state"] == "ready",
                          timeout=30)
