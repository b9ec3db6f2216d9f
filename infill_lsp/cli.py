"""The ``infill`` command: one entry point, a subcommand per way of using the product.

Each subcommand imports its module only when chosen, so ``infill serve`` never loads torch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = """usage: infill COMMAND [ARGS...]

commands:
  serve      run the language server (stdio; --tcp HOST:PORT for debugging)
  engine     run the diffusion engine process on a Unix socket
             (engine status | stop | restart: look after the running one)
  serve-ray  serve the engine's HTTP API from several engine replicas on Ray Serve (a team, GPUs, machines)
  complete   fill the hole(s) of a file through the engine and print the result
  context    show what the model would be given at a position of a file (windows and repository context)
  demo       fill the holes of a sample file and show how to connect an editor
  eval       evaluate on a benchmark (humaneval-infilling, next-edit, repo)
  bench      measure the engine (latency, cache reuse, tokens per forward, backends)
  batch      fill many holes across a repository (dry-run diff by default)
  train      build the corpus, the tokenizer, and train models (corpus | tokenizer | run)
  doctor     check the installation (Python, torch and GPUs, model, socket, engine, grammars) and say how to fix it

Run 'infill COMMAND --help' for a command's options; 'infill --version' prints the version.
"""


def _serve(argv: list[str]) -> int:
    from infill_lsp.server import main

    return main(argv)


def _engine(argv: list[str]) -> int:
    if argv and argv[0] in ("status", "stop", "restart"):
        from engine.host.control import main as control

        return control(argv)
    from infill_http.command import main

    return main(argv)


def _serve_ray(argv: list[str]) -> int:
    from infill_http.ray.command import parse_args

    parse_args(argv)  # --help and bad flags are answered without Ray
    try:
        from infill_http.ray.serve import main
    except ImportError as exc:
        print(f"infill serve-ray needs Ray Serve ({exc}): pip install 'infill-diffusion[serve]'", file=sys.stderr)
        return 1
    return main(argv)


def _doctor(argv: list[str]) -> int:
    from infill_lsp.doctor import main

    return main(argv)


def _complete(argv: list[str]) -> int:
    from infill_lsp.complete import main

    return main(argv)


def _context(argv: list[str]) -> int:
    from infill_lsp.context_command import main

    return main(argv)


def _demo(argv: list[str]) -> int:
    from infill_lsp.complete import demo

    return demo(argv)


EVAL_USAGE = """usage: infill eval BENCHMARK [ARGS...]

benchmarks:
  humaneval-infilling  fill HumanEval's holes through the engine and score the fills by execution
  next-edit            score next-edit predictors on edits taken from real commit histories
  repo                 fill lines that need another file's definitions, per source of repository context

Run 'infill eval BENCHMARK --help' for its options; humaneval-infilling's are:

"""
EVAL_BENCHMARKS = {
    "humaneval-infilling": "infill_tools.humaneval",
    "next-edit": "infill_tools.next_edit_eval",
    "repo": "infill_tools.repo_eval",
}


def _eval(argv: list[str]) -> int:
    import importlib

    if argv and argv[0] in EVAL_BENCHMARKS:
        return importlib.import_module(EVAL_BENCHMARKS[argv[0]]).main(argv[1:])
    from infill_tools.humaneval import build_parser

    helping = argv[:1] in (["-h"], ["--help"])
    print(EVAL_USAGE + build_parser().format_help(), file=sys.stdout if helping else sys.stderr)
    return 0 if helping else 2


def _bench(argv: list[str]) -> int:
    from infill_tools.bench import main

    return main(argv)


def _batch(argv: list[str]) -> int:
    from infill_lsp.batch import main

    return main(argv)


TRAIN_COMMANDS = {
    "corpus": "training.corpus",
    "tokenizer": "training.tokenizer_train",
    "run": "training.train",
}
TRAIN_USAGE = """usage: infill train {corpus|tokenizer|run} [ARGS...]

  corpus     fetch sources and build the training corpus (corpus fetch | corpus build)
  tokenizer  train the byte-level BPE tokenizer on a corpus
  run        train a model on a corpus and write its model directory

Run 'infill train COMMAND --help' for a command's options (training/TRAINING.md, training/CORPUS.md).
"""


def _train(argv: list[str]) -> int:
    if not argv or argv[0] not in TRAIN_COMMANDS:
        helping = argv[:1] in (["-h"], ["--help"])
        print(TRAIN_USAGE, file=sys.stdout if helping else sys.stderr)
        return 0 if helping else 2
    import importlib

    return importlib.import_module(TRAIN_COMMANDS[argv[0]]).main(argv[1:])


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "serve": _serve,
    "engine": _engine,
    "serve-ray": _serve_ray,
    "complete": _complete,
    "context": _context,
    "demo": _demo,
    "eval": _eval,
    "bench": _bench,
    "batch": _batch,
    "train": _train,
    "doctor": _doctor,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from infill_lsp.version import package_version

        print(f"infill {package_version()}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"infill: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return int(command(args[1:]) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
