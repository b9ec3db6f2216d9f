"""``infill batch``: fill holes across many files through the engine, in large batches.

Modules: ``holes`` (recipes, queries, markers), ``sources`` (which files, read safely), ``planning``
(requests and waves, the parse check), ``driving`` (engine waves, the benchmark), ``journal`` (resume),
``patches`` (diffs, atomic writes), ``report``, ``progress``, ``ray_pool`` (Ray actors), ``run`` (one run),
``cli`` (the command).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from infill_lsp.batch.cli import main as cli_main

    return cli_main(argv)


__all__ = ["main"]
