"""``infill complete`` and ``infill demo``: fill marked holes of a file through the engine, from a shell.

Holes are marked with ``<FILL>`` (or ``--marker``). They are filled in order, each seeing the fills
before it. By default the engine runs in this process; ``--socket`` uses (or spawns) an engine process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from engine.launch import EngineLaunch
from engine.protocol import InfillRequest

MARKER = "<FILL>"
SAMPLE = Path(__file__).parent / "samples" / "sample.py"


def split_holes(text: str, marker: str = MARKER) -> list[str]:
    """Return the text between markers: n holes give n + 1 pieces."""
    return text.split(marker)


def language_of(path: Path) -> str:
    from engine.fim import EXTENSION_LANGUAGES

    return EXTENSION_LANGUAGES.get(path.suffix.lower(), "text")


async def fill_holes(client, text: str, language: str, marker: str, steps: int, on_fill=None) -> str:
    """Fill every marker in ``text`` in order and return the result."""
    pieces = split_holes(text, marker)
    done = pieces[0]
    for index, piece in enumerate(pieces[1:], start=1):
        suffix = piece + "".join(pieces[index + 1 :])
        request = InfillRequest(
            request_id=index,
            prefix=done,
            suffix=suffix.replace(marker, ""),
            language=language,
            document_key="complete",
            max_steps=steps,
            # A hole inside a line is filled to the end of that line; one at a line start may span lines.
            single_line=bool(done) and not done.endswith("\n"),
        )
        started = time.perf_counter()
        result = await client.infill(request, timeout=300)
        elapsed = (time.perf_counter() - started) * 1000
        fill = result.candidates[0].text if result.candidates else ""
        if on_fill is not None:
            on_fill(index, fill, elapsed, result)
        done += fill + piece
    return done


async def _run(args, text: str, language: str, report) -> tuple[str, object]:
    from engine.connect import open_client

    socket = Path(args.socket) if args.socket else None
    client = open_client(args.launch, socket=socket, inproc=socket is None)
    welcome = await client.start()
    try:
        if not welcome.trained:
            print(
                f"NOTE: model {welcome.model_name!r} is UNTRAINED (random weights): its fills are noise, "
                "not the product's output.",
                file=sys.stderr,
            )
        filled = await fill_holes(client, text, language, args.marker, args.steps, report)
        return filled, welcome
    finally:
        await client.close()


def _add_common(parser: argparse.ArgumentParser) -> None:
    EngineLaunch.add_arguments(parser)
    parser.add_argument("--socket", default=None, help="use (or spawn) an engine process on this socket")
    parser.add_argument("--marker", default=MARKER)
    parser.add_argument("--steps", type=int, default=0, help="denoising step budget (0: engine default)")


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    args.launch = EngineLaunch.from_args(args, parser)
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infill complete", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--language", default=None)
    _add_common(parser)
    args = _parse(parser, argv)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"infill complete: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.marker not in text:
        print(f"infill complete: no {args.marker} marker in {args.file}", file=sys.stderr)
        return 2
    language = args.language or language_of(args.file)

    def report(index, fill, elapsed, result):
        print(f"hole {index}: {elapsed:.0f} ms, {result.forward_passes} steps: {fill!r}", file=sys.stderr)

    filled, _ = asyncio.run(_run(args, text, language, report))
    sys.stdout.write(filled)
    return 0


def demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infill demo", description="Fill the holes of a sample file.")
    parser.add_argument("file", type=Path, nargs="?", default=SAMPLE)
    _add_common(parser)
    args = _parse(parser, argv)
    text = args.file.read_text(encoding="utf-8")
    print(f"== {args.file.name}, holes marked {args.marker} ==\n{text}")
    started = time.perf_counter()
    fills = []

    def report(index, fill, elapsed, result):
        fills.append(elapsed)
        reason = ["converged", "step cap", "cancelled", "error"][result.finish_reason]
        print(
            f"  hole {index}: {elapsed:7.1f} ms  {result.forward_passes:3d} denoising steps ({reason})  "
            f"-> {fill!r}"
        )

    print("== filling through the diffusion engine ==")
    filled, welcome = asyncio.run(_run(args, text, language_of(args.file), report))
    total = time.perf_counter() - started
    print(
        f"\n== result ({welcome.model_name} on {welcome.device}, {welcome.backend}; "
        f"{len(fills)} holes, {sum(fills):.0f} ms filling, {total:.1f} s with model load) ==\n{filled}"
    )
    if not welcome.trained:
        print("NOTE: this model is UNTRAINED; the fills above are noise, not the product's output.")
    print(
        "\n== connect an editor ==\n"
        "  VS Code: build the extension in editors/vscode (npm run package) and install the .vsix\n"
        "  Neovim:  add editors/neovim to your runtimepath and call require('infill').setup{}\n"
        "  Any LSP client: run `.venv/bin/infill serve` (stdio) for the language ids python, javascript,\n"
        "  typescript, typescriptreact, go, rust; see README.md for Helix and Emacs snippets."
    )
    return 0
