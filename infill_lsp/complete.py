"""``infill complete`` and ``infill demo``: fill marked holes of a file through the engine, from a shell.

Holes are marked with ``<FILL>`` (or ``--marker``). They are filled in order, each seeing the fills
before it, exactly as an editor's automatic inline completion at that cursor would be: the same plan
(context cut, hole kind, canvas, settings' defaults) and the same fill layer checks, so a hole whose
fills are all refused is left unfilled, as the editor would show nothing: it keeps its marker in the
output, so the result shows where it was. By default the engine runs in this process; ``--socket`` uses
(or spawns) an engine process, ``--engine-url`` a remote engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.clients.interface import EngineUnavailable
from engine.clients.remote import RemoteEngine
from engine.host.launch import EngineLaunch
from engine.protocol import InfillResult, RequestIds, Welcome
from grammars import entry_for_path
from infill_lsp.editor_setup import clone_root, connect_lines, server_command

MARKER = "<FILL>"
SAMPLE = Path(__file__).parent / "samples" / "sample.py"
EXIT_FILLED, EXIT_ERROR, EXIT_USAGE, EXIT_HOLES_LEFT = 0, 1, 2, 3
EXIT_CODES = f"""exit status:
  {EXIT_FILLED}  every hole was filled
  {EXIT_ERROR}  no engine (none could be started or reached, or a remote one refused)
  {EXIT_USAGE}  bad arguments, a file that cannot be read, or no marker in it
  {EXIT_HOLES_LEFT}  some holes were left unfilled: the output keeps their marker where they are
"""


@dataclass(frozen=True, slots=True)
class Filled:
    """The text with every fill written, and the holes left unfilled (which keep their marker in it)."""

    text: str
    holes: int
    left: tuple[int, ...] = ()  # 1-based, in order
SHOWN_FILL_CHARS = 60  # a longer fill is cut in the demo's report


def split_holes(text: str, marker: str = MARKER) -> list[str]:
    """Return the text between markers: n holes give n + 1 pieces."""
    return text.split(marker)


def language_of(path: Path) -> str:
    """The table language of ``path`` by extension; "text" when the table has none."""
    entry = entry_for_path(path)
    return entry.name if entry is not None else "text"


async def fill_holes(
    client, text: str, language: str, marker: str, steps: int, on_fill=None, *, path: Path | None = None,
    workspace=None, welcome: Welcome | None = None,
) -> Filled:
    """Fill every marker in ``text`` in order, as an editor's inline completion would, and return the result.

    A hole left unfilled keeps ``marker`` in the result; the holes after it see it as empty, as an editor
    would. ``on_fill(index, fill, reason, elapsed_ms, result)`` hears of each hole: ``fill`` is the text
    written (None when every candidate was refused, with ``reason`` saying why). With a ``workspace`` index
    (a ``WorkspaceIndex``) and the file's ``path``, each hole gets the repository context an editor's would. The
    engine's ``welcome`` sets the prompt budgets, as in the editor.
    """
    from infill_lsp.completion import Skip, context_budgets, fills_from_result, plan_completion
    from infill_lsp.config import Settings
    from infill_lsp.documents import Document
    from infill_lsp.languages import LanguageRegistry
    from infill_lsp.retrieval.gather import context_block

    support = LanguageRegistry().get(language)
    settings = Settings() if not steps else Settings(max_steps=steps)
    budgets, cross_file_chars = context_budgets(settings, welcome)
    pieces = split_holes(text, marker)
    new_id = RequestIds("complete")
    done = shown = pieces[0]  # the text so far as the engine sees it, and as the output shows it
    left: list[int] = []
    for index, piece in enumerate(pieces[1:], start=1):
        rest = "".join(pieces[index:])
        uri = path.resolve().as_uri() if path is not None else f"file:///complete/hole{index}"
        document = Document(uri, done + rest, language=support)
        started = time.perf_counter()
        fill, reason, result = None, "", InfillResult(request_id="", candidates=(), finish_reason=0)
        cross_file = ""
        if workspace is not None:
            packed, _ = context_block(document, len(done), [], settings, budget=cross_file_chars,
                                      prefix_chars=budgets.prefix_chars, suffix_chars=budgets.suffix_chars,
                                      index=workspace, display=workspace.relative)  # fmt: skip
            cross_file = packed.block
        try:
            plan = plan_completion(document, document.index.position(len(done)), settings, request_id=new_id(),
                                   cross_file=cross_file, budgets=budgets)  # fmt: skip
        except Skip as why:
            reason = str(why)
        else:
            result = await client.infill(plan.request, timeout=300)
            fills = fills_from_result(result, plan, document, settings)
            if fills:
                fill = fills[0]
            else:
                reason = "every candidate was refused" if result.candidates else "the engine returned nothing"
        elapsed = (time.perf_counter() - started) * 1000
        if on_fill is not None:
            on_fill(index, None if fill is None else fill.text, reason, elapsed, result)
        if fill is None:
            left.append(index)
            done, shown = done + piece, shown + marker + piece
        else:
            written = fill.text + piece[fill.replaces :]
            done, shown = done + written, shown + written
    return Filled(shown, len(pieces) - 1, tuple(left))


async def _run(args, text: str, language: str, report) -> tuple[Filled, Welcome]:
    from engine.clients.connect import open_client

    if args.remote is not None:
        client = open_client(args.launch, remote=args.remote, client_name="infill-complete")
    else:
        socket = Path(args.socket) if args.socket else None
        client = open_client(args.launch.spawned(), socket=socket, inproc=socket is None)
    welcome = await client.start()
    try:
        if not welcome.trained:
            print(
                f"NOTE: model {welcome.model_name!r} is UNTRAINED (random weights): its fills are noise, "
                "not the product's output.",
                file=sys.stderr,
            )
        workspace = getattr(args, "index", None)
        filled = await fill_holes(client, text, language, args.marker, args.steps, report, path=args.file,
                                  workspace=workspace, welcome=welcome)
        return filled, welcome
    finally:
        await client.close()


def _add_common(parser: argparse.ArgumentParser) -> None:
    EngineLaunch.add_arguments(parser)
    parser.add_argument("--socket", default=None, help="use (or spawn) an engine process on this socket")
    RemoteEngine.add_arguments(parser)
    parser.add_argument("--marker", default=MARKER, help=f"the text that marks a hole (default {MARKER})")
    parser.add_argument("--steps", type=int, default=0, help="denoising step budget (0: engine default)")


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, str | None]:
    """The arguments, and the file's text (None, after saying why, when it cannot be read)."""
    args = parser.parse_args(argv)
    args.launch = EngineLaunch.from_args(args, parser)
    args.remote = RemoteEngine.from_args(args, parser)
    if args.remote is not None and args.socket:
        parser.error("--engine-url and --socket name two engines: give one")
    try:
        return args, args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{parser.prog}: cannot read {args.file}: {exc}", file=sys.stderr)
        return args, None


def left_note(filled: Filled, marker: str) -> str:
    """One line on the holes left unfilled ("" when every hole was filled)."""
    if not filled.left:
        return ""
    which = ", ".join(map(str, filled.left))
    return (f"{len(filled.left)} of {filled.holes} holes left unfilled (hole {which}): "
            f"they keep their {marker} marker")


def workspace_index(path: Path, workspace: Path | None):
    """The index of ``workspace`` (default: the git work tree holding ``path``), built now; None without one."""
    from infill_lsp.config import Settings
    from infill_lsp.context_command import workspace_of
    from infill_lsp.workspace import WorkspaceIndex
    from infill_lsp.workspace.cache import cache_if

    root = workspace if workspace is not None else workspace_of(path)
    if workspace is None and not (root / ".git").exists():
        return None
    index = WorkspaceIndex([root], cache=cache_if(Settings().index_cache))
    index.build_now()
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="infill complete", description=__doc__, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--language", default=None,
                        help="the file's language, e.g. python (default: from its extension)")
    parser.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                        help="index this folder for repository context (default: the git work tree holding FILE)")
    parser.add_argument("--no-workspace", action="store_true", help="no repository context: the file alone")
    _add_common(parser)
    args, text = _parse(parser, argv)
    if text is None:
        return EXIT_USAGE
    args.index = None if args.no_workspace else workspace_index(args.file, args.workspace)
    if args.marker not in text:
        print(f"infill complete: no {args.marker} marker in {args.file}", file=sys.stderr)
        return EXIT_USAGE
    language = args.language or language_of(args.file)

    def report(index, fill, reason, elapsed, result):
        shown = f"filled {fill!r}" if fill is not None else f"left unfilled ({reason})"
        print(f"hole {index}: {elapsed:.0f} ms, {result.forward_passes} steps: {shown}", file=sys.stderr)

    try:
        filled, _ = asyncio.run(_run(args, text, language, report))
    except EngineUnavailable as exc:  # no engine, or a remote one that refused us
        print(f"infill complete: {exc}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(filled.text)
    if filled.left:
        print(f"infill complete: {left_note(filled, args.marker)}", file=sys.stderr)
        return EXIT_HOLES_LEFT
    return EXIT_FILLED


EMBEDDED_MODEL_NAME = "infill-small"


def model_note(welcome: Welcome) -> str | None:
    """What the fills of the model ``welcome`` names are worth, when that needs saying (an untrained model,
    or the small embedded one); None for any other model."""
    if not welcome.trained:
        return "NOTE: this model is UNTRAINED; the fills above are noise, not the product's output."
    if welcome.model_name != EMBEDDED_MODEL_NAME:
        return None
    return (
        f"NOTE: these fills come from {EMBEDDED_MODEL_NAME}, the small model embedded for demos and tests (25M\n"
        "parameters, 106M training tokens). It runs the whole product path, but its fills are rarely right\n"
        "(HumanEval single-line pass@1 about 2%): judge the plumbing and the timings here, not the fills.\n"
        "Useful fills need a real checkpoint on a GPU: infill demo --model DIR --device cuda\n"
        "(README: 'Running on a GPU'; `infill doctor` checks the setup)."
    )


def hole_lines(text: str, marker: str = MARKER) -> list[tuple[int, str]]:
    """The line number (1-based) and text of the line of each marker, in order."""
    lines = text.split("\n")
    pieces = split_holes(text, marker)
    out = []
    offset = 0
    for piece in pieces[:-1]:
        offset += len(piece)
        number = text.count("\n", 0, offset) + 1
        out.append((number, lines[number - 1]))
        offset += len(marker)
    return out


def _shorten(text: str, width: int = SHOWN_FILL_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="infill demo", description="Fill the holes of a sample file.",
        epilog="A hole left unfilled keeps its marker in the result. Exit status: 0 once the demo ran "
        "(whatever was filled), 2 for bad arguments or a file that cannot be read.",
    )
    parser.add_argument("file", type=Path, nargs="?", default=SAMPLE)
    _add_common(parser)
    args, text = _parse(parser, argv)
    if text is None:
        return EXIT_USAGE
    # No "Loading weights" progress bar: transformers reads this when it is imported, below.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    holes = hole_lines(text, args.marker)
    print(f"== {args.file.name}: {len(holes)} holes marked {args.marker}, filled through the diffusion engine ==")
    started = time.perf_counter()
    fills = []

    def report(index, fill, reason, elapsed, result):
        fills.append(elapsed)
        finish = ["converged", "step cap", "cancelled", "error"][result.finish_reason]
        shown = f"filled {_shorten(repr(fill))}" if fill is not None else f"left unfilled ({reason})"
        number, line = holes[index - 1]
        print(f"  {number:4d} | {line.rstrip()}")
        steps = f"{result.forward_passes:3d} denoising steps"
        print(f"       hole {index}: {elapsed:6.1f} ms {steps} ({finish})  -> {shown}")

    filled, welcome = asyncio.run(_run(args, text, language_of(args.file), report))
    total = time.perf_counter() - started
    print(
        f"\n== result: {welcome.model_name} on {welcome.device}, {welcome.backend}; "
        f"{len(fills)} holes, {sum(fills):.0f} ms filling, {total:.1f} s with model load ==\n"
        f"  the whole file filled: {shlex.quote(server_command())} complete {shlex.quote(str(args.file.absolute()))}"
    )
    if filled.left:
        print(f"({left_note(filled, args.marker)})")
    if (note := model_note(welcome)) is not None:
        print(note)
    print("\n== connect an editor ==")
    print("\n".join(connect_lines(clone_root(), server_command())))
    return 0
