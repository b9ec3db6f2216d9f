"""``infill batch``: fill many holes across a repository through the engine (dry-run diff by default).

Holes come from recipes (tree-sitter queries in grammars/<language>/batch_*.scm, listed in
grammars/batch_recipes.toml), a query of your own (--query FILE.scm capturing @hole to replace a node,
or @hole.before to insert before one), or markers in the files (--marker TEXT). Every fill is checked
to parse (tree-sitter error nodes before and after); those that do not are reported and left out.

Finished holes are journaled (JSON lines, fsynced per hole), so an interrupted run (Ctrl-C) resumes
where it stopped when rerun with the same arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from engine.clients.interface import EngineUnavailable
from engine.clients.remote import RemoteEngine
from engine.host.launch import EngineLaunch
from infill_lsp.batch.holes import RecipeError, load_recipes
from infill_lsp.batch.journal import default_journal_path
from infill_lsp.batch.planning import FillSettings
from infill_lsp.batch.report import summary, to_json
from infill_lsp.batch.run import DEFAULT_RECIPES, BatchConfig, HoleFinder, collect_plans, fitted_to, run_batch
from infill_lsp.json_stdout import stdout_to_stderr

# 1: not everything asked for was done: a write refused, a hole the engine failed on, or a file named on
# the command line that could not be processed (files skipped inside a named folder are reported only).
EXIT_NOT_ALL_DONE = 1
EXIT_WRITE_REFUSED = EXIT_NOT_ALL_DONE
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infill batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "paths", nargs="*", help="files and folders to process (nothing outside them is touched)"
    )
    holes = parser.add_argument_group("which holes")
    holes.add_argument(
        "--recipe",
        action="append",
        dest="recipes",
        metavar="NAME",
        help=f"a recipe to apply (repeatable; 'all' for every one; default: {', '.join(DEFAULT_RECIPES)} "
        "unless --query or --marker is given)",
    )
    holes.add_argument(
        "--query", type=Path, metavar="FILE.scm", help="a tree-sitter query capturing @hole or @hole.before"
    )
    holes.add_argument(
        "--marker",
        default="",
        metavar="TEXT",
        help="fill every occurrence of TEXT, e.g. '<FILL>' (default: off)",
    )
    holes.add_argument("--list-recipes", action="store_true", help="list the recipes and exit")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--write", action="store_true", help="apply the changes (atomic replace); default: print a diff"
    )
    output.add_argument(
        "--json", action="store_true", help="print a machine-readable report on stdout instead of the diff"
    )
    output.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    output.add_argument(
        "--journal",
        type=Path,
        help="journal file of finished holes (default: one per set of arguments "
        "under $XDG_STATE_HOME/infill/batch)",
    )
    output.add_argument("--no-journal", action="store_true", help="do not read or write a journal")
    engine = parser.add_argument_group("engine")
    EngineLaunch.add_arguments(engine)
    engine.add_argument("--socket", default=None, help="use (or spawn) an engine process on this socket")
    RemoteEngine.add_arguments(engine)
    engine.add_argument(
        "--steps", type=int, default=0, help="denoising step budget per hole (0: engine default)"
    )
    engine.add_argument("--seed", type=int, default=0, help="run seed (fills are deterministic for a seed)")
    engine.add_argument(
        "--wave-size", type=int, default=64, help="holes sent to the engine at once (default 64)"
    )
    engine.add_argument(
        "--min-confidence", type=_fraction, default=None, metavar="C",
        help="the gate: write a fill only when the engine's confidence reaches C (default: the editors' default)",
    )
    engine.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for one hole (default 600)"
    )
    engine.add_argument(
        "--max-file-bytes", type=int, default=1024 * 1024, help="skip larger files (default 1 MiB)"
    )
    engine.add_argument(
        "--limit", type=int, default=0, help="stop after N holes this run (0: all); rerun to go on"
    )
    engine.add_argument(
        "--no-context", action="store_true",
        help="no repository context: each hole sees its own file only (default: definitions and code from the "
             "repository's other files, as in an editor)",
    )
    engine.add_argument(
        "--bench",
        action="store_true",
        help="time the holes in batch mode and one at a time through the same engine; print both",
    )
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="spread waves over Ray engine actors: a cluster address, 'auto', or 'local' to start one",
    )
    cluster.add_argument(
        "--ray-actors", type=int, default=1, help="engine actors where the cluster has no GPU (default 1)"
    )
    return parser


def _config(args: argparse.Namespace) -> BatchConfig:
    table = load_recipes()
    names = args.recipes or ([] if (args.query or args.marker) else list(DEFAULT_RECIPES))
    if "all" in names:
        names = sorted(table)
    journal = None
    if not args.no_journal and not args.bench:
        fingerprint = repr(
            (
                sorted(str(Path(p).resolve()) for p in args.paths),
                names,
                str(args.query),
                args.marker,
                str(args.model) if args.model else None,
                args.steps,
                args.seed,
                args.wave_size,
                _min_confidence(args),
                *(["no-context"] if args.no_context else []),
                *([args.remote.address] if args.remote is not None else []),
            )
        )
        journal = args.journal or default_journal_path(fingerprint)
    return BatchConfig(
        paths=tuple(args.paths),
        recipes=tuple(names),
        query_file=args.query,
        fill=FillSettings(steps=args.steps, seed=args.seed, wave_size=args.wave_size, marker=args.marker,
                          min_confidence=_min_confidence(args), context=not args.no_context),
        write=args.write,
        journal=journal,
        max_file_bytes=args.max_file_bytes,
        limit=args.limit,
    )


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}")
    return number


def _min_confidence(args: argparse.Namespace) -> float:
    """The gate of this run: ``--min-confidence``, else the editors' default (``Settings.min_confidence``)."""
    if args.min_confidence is not None:
        return args.min_confidence
    from infill_lsp.config import Settings

    return Settings().min_confidence


def local_runner_factory(args: argparse.Namespace):
    """A factory of (runner, model name, close) over an in-process or socket engine."""

    async def make():
        from infill_lsp.batch.driving import LocalWaveRunner

        client = _client(args)
        welcome = await client.start()
        note = "" if welcome.trained else " (UNTRAINED: fills are noise)"
        return (
            LocalWaveRunner(client, args.timeout, welcome=welcome),
            f"{welcome.model_name} on {welcome.device}{note}",
            client.close,
        )

    return make


def _client(args: argparse.Namespace):
    """An unstarted client: an engine in this process, the one on ``--socket`` (started if none listens), or
    the remote one at ``--engine-url``."""
    from engine.clients.connect import open_client

    if args.remote is not None:
        return open_client(args.launch, remote=args.remote, request_timeout=args.timeout, client_name="infill-batch")
    socket = Path(args.socket) if args.socket else None
    return open_client(args.launch.spawned(), socket=socket, inproc=socket is None, request_timeout=args.timeout)


def ray_runner_factory(args: argparse.Namespace):
    async def make():
        from infill_lsp.batch.ray_pool import RayWaveRunner, connect

        ray, started = connect(args.ray, args.ray_actors)
        runner = RayWaveRunner.start(ray, launch=args.launch, actors=args.ray_actors, timeout=args.timeout)
        model = await runner.model()

        async def close() -> None:
            runner.close()
            if started:
                ray.shutdown()

        return runner, model, close

    return make


async def _bench(args: argparse.Namespace, config: BatchConfig) -> int:
    from infill_lsp.batch.driving import bench
    from infill_lsp.batch.planning import waves

    registry = _registry()
    roots, plans, skipped = collect_plans(config, registry, HoleFinder(config))
    holes = [p for plan in plans for p in plan.holes][: config.limit or None]
    client = _client(args)
    welcome = await client.start()
    try:
        holes = fitted_to(welcome, config, roots, holes, registry)
        figures = await bench(client, waves(holes, config.fill.wave_size), args.timeout)
    finally:
        await client.close()
    print(
        f"infill batch --bench: {welcome.model_name} on {welcome.device}, {figures.holes} holes, "
        f"{len(skipped)} files skipped"
    )
    print(figures.describe())
    return 0


def _registry():
    from infill_lsp.languages import LanguageRegistry

    return LanguageRegistry()


async def _run(args: argparse.Namespace, config: BatchConfig) -> int:
    from infill_lsp.batch.progress import progress_for

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, _on_interrupt, loop, stop)
    make = ray_runner_factory(args) if args.ray else local_runner_factory(args)
    try:
        with stdout_to_stderr(args.json):  # stdout holds the report alone (Ray's workers print too)
            report = await run_batch(config, make, progress=progress_for(args.progress), stop=stop)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    if args.json:
        sys.stdout.write(to_json(report) + "\n")
    elif not args.write:
        sys.stdout.write("".join(f.diff for f in report.files))
    print(summary(report), file=sys.stderr)
    if report.interrupted:
        return EXIT_INTERRUPTED
    named = {os.path.realpath(p) for p in args.paths if not os.path.isdir(p)}
    skipped_named = [s for s in report.skipped if os.path.realpath(s.path) in named]
    failed = (report.refused and args.write) or report.errors or skipped_named
    return EXIT_NOT_ALL_DONE if failed else 0


def _on_interrupt(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """First Ctrl-C: finish cleanly (journal flushed); a second one: the default (KeyboardInterrupt)."""
    print("\ninterrupting: stopping after the holes in flight are cancelled...", file=sys.stderr)
    stop.set()
    loop.remove_signal_handler(signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.launch = EngineLaunch.from_args(args, parser)
    args.remote = RemoteEngine.from_args(args, parser)
    if args.remote is not None and (args.socket or args.ray):
        parser.error("--engine-url goes with neither --socket nor --ray")
    if args.list_recipes:
        for name, recipe in sorted(load_recipes().items()):
            print(f"{name:20} {recipe.description}")
        return 0
    if not args.paths:
        parser.print_usage(sys.stderr)
        print("infill batch: name at least one file or folder", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if not os.path.lexists(p)]
    if missing:
        print(f"infill batch: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _config(args)
        if args.query is not None and not args.query.is_file():
            raise ValueError(f"--query: {args.query} is not a file")
        if args.bench:
            return asyncio.run(_bench(args, config))
        HoleFinder(config)  # unknown recipes fail here, before an engine is loaded
        return asyncio.run(_run(args, config))
    except (ValueError, RecipeError) as exc:
        print(f"infill batch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineUnavailable as exc:  # no engine, or a remote one that refused us: said, not a traceback
        print(f"infill batch: {exc}", file=sys.stderr)
        return EXIT_NOT_ALL_DONE
