"""``infill context FILE --line N --character M``: print what the model would be given at that position.

The file's workspace (``--workspace``, else the git work tree holding it, else its folder) is indexed first,
on this thread; then the same sources and packer as the language server's build the context, and the
prefix and suffix windows are cut as an automatic completion there would cut them, at the settings'
default budgets (a running engine's token budgets may shrink them further).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infill_lsp.json_stdout import stdout_to_stderr


def workspace_of(path: Path) -> Path:
    """The git work tree holding ``path``, else its folder."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return path.resolve().parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infill context", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the file")
    parser.add_argument("--line", type=int, required=True, help="the cursor's line (1-based)")
    parser.add_argument("--character", type=int, default=1, help="the cursor's column (1-based, default 1)")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="the workspace folder to index (default: the git work tree holding FILE)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with stdout_to_stderr(args.json):
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"infill context: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
        if args.line < 1 or args.character < 1:
            print("infill context: --line and --character count from 1", file=sys.stderr)
            return 2
        report = context_report(args.file, text, args.line - 1, args.character - 1, args.workspace)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from infill_lsp.retrieval.report import render_text

        sys.stdout.write(render_text(report))
    return 0


def context_report(path: Path, text: str, line: int, character: int, workspace: Path | None) -> dict:
    """The report of ``infill context`` for ``text`` (the file at ``path``) at a 0-based position."""
    from infill_lsp.completion import context_budgets
    from infill_lsp.config import Settings
    from infill_lsp.documents import Document
    from infill_lsp.languages import LanguageRegistry
    from infill_lsp.positions import Position
    from infill_lsp.retrieval.report import describe
    from infill_lsp.workspace import WorkspaceIndex
    from infill_lsp.workspace.cache import cache_if

    settings = Settings()
    registry = LanguageRegistry()
    root = (workspace or workspace_of(path)).resolve()
    index = (WorkspaceIndex([root], settings.index_limits(), registry, cache=cache_if(settings.index_cache))
             if settings.index_workspace else None)  # fmt: skip
    if index is not None:
        index.build_now()
    real = path.resolve()
    document = Document(real.as_uri(), text, language=registry.for_document("", real.as_uri()), encoding="utf-32")
    budgets, cross_file_chars = context_budgets(settings, None)

    def display(shown: str) -> str:
        where = Path(shown)
        return where.relative_to(root).as_posix() if where.is_relative_to(root) else where.name

    return describe(document, Position(line, character), [], settings, budgets=budgets,
                    cross_file_chars=cross_file_chars, index=index, display=display)  # fmt: skip
