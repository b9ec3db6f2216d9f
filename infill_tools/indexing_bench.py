"""Fills while the workspace index builds, beside the same fills without a workspace.

``python -m infill_tools.indexing_bench [--files N] [--fills N] [--pause-ms MS] [--repo DIR] [--once]`` starts
one engine process (the embedded model), generates a repository of ``--files`` Python modules (about 52 lines
each; 2,000 files is about 100k lines; or indexes ``--repo DIR``), and runs two fresh ``infill serve``
sessions against the engine: the first without workspace folders, the second given the repository as its
folder once it is up, its fills going on while the index builds in the background. Each session opens the
same files of this project (outside the repository) and asks for an automatic inline completion at
``--fills`` places, ``--pause-ms`` apart; the second tags each fill with whether the index was still
building when it was answered, and starts the build again (the folder removed and added) whenever it has
ended, so most of its fills meet one (``--once``: build once, as a session does). Prints one JSON object:
fill latency p50/p95 without a workspace, during indexing and after it, their ratios, and the build time. A
measure, not a test: run it alone on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from engine.host.launch import EngineLaunch
from infill_tools.bench import engine_socket
from infill_tools.context_bench import generate
from infill_tools.loadgen import close_client
from infill_tools.typing_bench import jump_places, percentiles, server_status, start_session, timed_fill
from infill_tools.typing_traces import default_sources


async def session(sock: str, documents: dict[str, str], places: list[tuple], *, folder: Path | None,
                  pause_ms: float, rebuild: bool = True, timeout_s: float = 60.0) -> dict[str, Any]:
    """One fresh language server: fills at ``places``; with ``folder``, tagged by the index's state (``rebuild``:
    a build that has ended is started again before the next fill)."""
    # The engine's first request and the handshake happen before the folder is given, outside the figures.
    client = await start_session("infill-indexing-bench", sock, documents, timeout_s=timeout_s,
                                 settings={"warm": False, "index_cache": False})  # every build reads the files
    folders = [types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)] if folder else None
    during: list[float] = []
    after: list[float] = []
    build_s = files = None
    try:
        if folders:  # the folder arrives now: the index starts building in the background
            client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=folders, removed=[])))
        for uri, line, character in places:
            await asyncio.sleep(pause_ms / 1000)
            if folders and rebuild and ((await server_status(client)).get("index") or {}).get("state") == "ready":
                # built already: the folder removed and added again, so this fill too meets a build
                for event in (types.WorkspaceFoldersChangeEvent(added=[], removed=folders),
                              types.WorkspaceFoldersChangeEvent(added=folders, removed=[])):
                    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(event=event))
                await asyncio.sleep(0.05)
            elapsed, _ = await timed_fill(client, uri, line, character, timeout_s)
            index = (await server_status(client)).get("index") or {}
            (during if folder and index.get("state") == "building" else after).append(elapsed)
        if folder:
            for _ in range(int(timeout_s * 10)):
                index = (await server_status(client)).get("index") or {}
                if index.get("state") != "building":
                    break
                await asyncio.sleep(0.1)
            build_s = index.get("build_seconds")
            files = index.get("files")
    finally:
        await close_client(client)
    out: dict[str, Any] = {"fills": percentiles(after)} if not folder else {
        "during_indexing": percentiles(during), "after_indexing": percentiles(after),
        "fills_during": len(during), "build_s": build_s, "files_indexed": files}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.indexing_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000, help="modules of the generated repository")
    parser.add_argument("--repo", type=Path, default=None, metavar="DIR", help="index DIR instead")
    parser.add_argument("--fills", type=int, default=30, help="fills per session")
    parser.add_argument("--pause-ms", type=float, default=150.0, help="rest before each fill")
    parser.add_argument("--once", action="store_true", help="build the index once, not again for each fill")
    args = parser.parse_args(argv)
    if args.fills < 1 or args.files < 1 or args.pause_ms < 0:
        parser.error("--fills and --files must be >= 1, --pause-ms >= 0")
    sources = default_sources(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory(prefix="infill-indexing-") as tmp:
        repo = args.repo
        if repo is None:
            repo = Path(tmp) / "repo"
            generate(repo, args.files)
        with engine_socket(EngineLaunch()) as sock:
            report: dict[str, Any] = {}
            for name, folder in (("no_workspace", None), ("with_workspace", repo.resolve())):
                root = f"file:///indexing/{name}-{time.time_ns()}"
                documents, places = jump_places(sources, root, jumps=args.fills, seed=0)
                report[name] = asyncio.run(session(str(sock), documents, places, folder=folder,
                                                   pause_ms=args.pause_ms, rebuild=not args.once))
                print(f"  {name}: {report[name]}", file=sys.stderr)
    base = report["no_workspace"]["fills"]
    for when in ("during_indexing", "after_indexing"):
        figures = report["with_workspace"][when]
        for q in ("p50", "p95"):
            if figures.get(q) and base.get(q):
                report[f"{when}_{q}_ratio"] = round(figures[q] / base[q], 3)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
