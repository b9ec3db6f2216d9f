"""``infill eval repo``: fill lines that need another file's definitions, per source of repository context.

A context source implements::

    ContextProvider = Callable[[Path, str, str, str], str]   # (workspace_dir, path, prefix, suffix) -> block

It is called for each case with the case's repository written under ``workspace_dir`` (its file ``path``,
relative to it, holds ``prefix + suffix``: the line is blanked) and answers the block of code put before
the prefix, as the language server's cross-file block is (``# file: models.py`` headers, comment syntax
of the file's language). The runner cuts a block longer than the cross-file budget the editor would give
the model (the language server's own sources pack to that budget) at a line boundary, and the fill goes
through the editor's path (``plan_completion``, the engine in-process,
the fill layer's checks). Register a source by name with a factory, called once per run (build an index
there, or lazily per workspace)::

    from infill_tools.repo_eval import CONTEXT_PROVIDERS
    CONTEXT_PROVIDERS["index"] = lambda: WorkspaceIndexSource().context

Reported per configuration, rates with their 95% Wilson intervals: *exact match* (the shown fill's line
equals the blanked one, surrounding blanks aside), *context recall* (of the definitions the lines need,
those whose name and first line are in the block given to the model; and the cases with all of them),
how often a fill was shown, the retrieval time (for the language server's sources, what they took, the
document already parsed) and the fill's latency (p50, p95).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.host.launch import EngineLaunch
from infill_lsp.json_stdout import stdout_to_stderr
from infill_tools.eval_stats import latency, rate, shown_rate
from infill_tools.repo_data import DEFAULT_DATA, RepoCase, Workspace, load_benchmark

ContextProvider = Callable[[Path, str, str, str], str]


def no_context(workspace_dir: Path, path: str, prefix: str, suffix: str) -> str:
    """No repository context: the model sees the file alone."""
    return ""


class RepositoryContext:
    """The language server's repository context (infill_lsp.retrieval) for a file of the workspace, from the
    sources a configuration names: ``definitions`` (the names near the cursor resolved through the workspace
    index), ``imports`` (what the file imports from the files open beside it), ``similar`` (the most similar
    windows of the files open beside it). "Open" here is every file of the target's folder, as if its tabs were
    open; the case's own file is the target, with its line blanked (the index re-reads it before each case)."""

    def __init__(self, sources: tuple[str, ...], budget: int = 0) -> None:
        from infill_lsp.config import Settings
        from infill_lsp.languages import LanguageRegistry

        definitions, similar = "definitions" in sources or "imports" in sources, "similar" in sources
        self.settings = Settings(context_definitions=definitions, context_similar=similar, context_recent=False)
        self.use_index, self.open_folder = "definitions" in sources, "imports" in sources or similar
        self.budget = budget or self.settings.cross_file_chars
        self.registry = LanguageRegistry()
        self._indexes: dict[Path, Any] = {}
        # Open documents persist between cases, as in an editor, so what the sources derive from them is kept.
        self._open: dict[Path, tuple[tuple[int, int], Any]] = {}
        from infill_lsp.retrieval.gather import SourceCache

        self.cache = SourceCache()
        self.sources_ms: float | None = None  # what the sources took for the last case

    def _index(self, root: Path):
        from infill_lsp.workspace import WorkspaceIndex

        if root not in self._indexes:
            index = self._indexes[root] = WorkspaceIndex([root])
            index.build_now()
        return self._indexes[root]

    def _document(self, file: Path, uri: str):
        """The open document of ``file``, read again only when the file changed."""
        from grammars import entry_for_path
        from infill_lsp.documents import Document

        entry = entry_for_path(file.name)
        support = self.registry.get(entry.name) if entry is not None else None
        if support is None:
            return None
        stat = file.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        known = self._open.get(file)
        if known is None or known[0] != key:
            known = self._open[file] = (key, Document(uri, file.read_text(encoding="utf-8", errors="replace"),
                                                      language=support))
        return known[1]

    def __call__(self, workspace_dir: Path, path: str, prefix: str, suffix: str) -> str:
        from grammars import entry_for_path
        from infill_lsp.documents import Document
        from infill_lsp.retrieval.gather import context_block

        self.sources_ms = None
        entry = entry_for_path(path)
        support = self.registry.get(entry.name) if entry is not None else None
        if support is None or not support.entry.line_comment:
            return ""
        root = workspace_dir.resolve()
        target_path = root / path
        index = None
        if self.use_index:
            index = self._index(root)
            index.refresh_now(target_path)  # the file on disk holds the blanked line now
        target = Document(target_path.as_uri(), prefix + suffix, language=support)
        others = []
        if self.open_folder:
            for file in sorted(target_path.parent.iterdir()):
                if file != target_path and file.is_file() and (d := self._document(file, file.as_uri())):
                    others.append(d)
        packed, gathered = context_block(target, len(prefix), others, self.settings, budget=self.budget,
                                  prefix_chars=self.settings.prefix_chars, suffix_chars=self.settings.suffix_chars,
                                  index=index, display=lambda p: Path(p).resolve().relative_to(root).as_posix(),
                                  cache=self.cache)
        self.sources_ms = sum(gathered.timings_ms.values())
        return packed.block


CONTEXT_PROVIDERS: dict[str, Callable[[], ContextProvider]] = {
    "none": lambda: no_context,
    "imports": lambda: RepositoryContext(("imports",)),
    "definitions": lambda: RepositoryContext(("definitions",)),
    "similar": lambda: RepositoryContext(("similar",)),
    "all": lambda: RepositoryContext(("definitions", "imports", "similar")),
}


# ---- metrics --------------------------------------------------------------------------------------------


def definitions_in(case: RepoCase, context: str) -> list[bool]:
    """For each definition ``case`` needs: whether its name and its first line are in ``context``."""
    return [need.name in context and need.signature in context for need in case.needed]


def fill_line(fill: str) -> str:
    """The line a fill shows at the blanked place: its text up to the first newline, blanks trimmed."""
    return fill.split("\n", 1)[0].strip()


def exact_match(case: RepoCase, fill: str) -> bool:
    return bool(fill) and fill_line(fill) == case.expected_line.strip()


def cut_to(block: str, budget: int) -> str:
    """``block`` within ``budget`` characters, cut after its last whole line that fits."""
    if len(block) <= budget:
        return block
    cut = block[: max(0, budget)]
    return cut[: cut.rfind("\n") + 1]


# ---- the run --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    id: str
    fill: str
    exact: bool
    found: list[bool]
    context_chars: int
    retrieval_ms: float
    fill_ms: float
    error: str = ""


class Filler:
    """Fills one case as the editor's inline completion would, through an engine client."""

    def __init__(self, client, welcome, steps: int) -> None:
        from infill_lsp.completion import context_budgets
        from infill_lsp.config import Settings
        from infill_lsp.languages import LanguageRegistry

        self.client = client
        self.settings = Settings(max_steps=steps) if steps else Settings()
        self.budgets, self.cross_file_budget = context_budgets(self.settings, welcome)
        self.registry = LanguageRegistry()
        self._next = 0

    async def fill(self, case: RepoCase, context: str) -> str:
        from infill_lsp.completion import Skip, fills_from_result, plan_completion
        from infill_lsp.documents import Document

        self._next += 1
        document = Document(f"file:///{case.repo}/{case.path}", case.prefix + case.suffix,
                            language=self.registry.get(case.language))  # fmt: skip
        try:
            plan = plan_completion(document, document.index.position(len(case.prefix)), self.settings,
                                   request_id=f"repo-{self._next}", cross_file=context, budgets=self.budgets)
        except Skip:
            return ""
        result = await self.client.infill(plan.request, timeout=300)
        fills = fills_from_result(result, plan, document, self.settings)
        return fills[0].text if fills else ""


async def run_config(provider: ContextProvider, cases: list[RepoCase], roots: dict[str, Path], filler,
                     name: str = "") -> list[Outcome]:
    outcomes = []
    for number, case in enumerate(cases, 1):
        if sys.stderr.isatty() or number % 25 == 0:
            print(f"\r{name}: {number}/{len(cases)} cases", end="", file=sys.stderr, flush=True)
        root = roots[case.repo]
        file = root / case.path
        original = file.read_text(encoding="utf-8")
        file.write_text(case.prefix + case.suffix, encoding="utf-8")  # the workspace as the editor has it
        error = ""
        started = time.perf_counter()
        try:
            context = provider(root, case.path, case.prefix, case.suffix)
        except Exception as exc:  # one bad case fails alone
            context, error = "", f"{type(exc).__name__}: {exc}"
        finally:
            file.write_text(original, encoding="utf-8")
        # What the sources took (a request's cost in the server, its document already parsed), else the whole call.
        sources_ms = getattr(provider, "sources_ms", None)
        retrieval = (time.perf_counter() - started) * 1000 if sources_ms is None else sources_ms
        context = cut_to(context, filler.cross_file_budget)
        started = time.perf_counter()
        fill = await filler.fill(case, context)
        outcomes.append(Outcome(case.id, fill, exact_match(case, fill), definitions_in(case, context), len(context),
                                retrieval, (time.perf_counter() - started) * 1000, error))  # fmt: skip
    return outcomes


def summarize(outcomes: list[Outcome]) -> dict:
    found = [hit for o in outcomes for hit in o.found]
    return {
        "cases": len(outcomes),
        "exact": rate(sum(o.exact for o in outcomes), len(outcomes)),
        "filled": rate(sum(bool(o.fill) for o in outcomes), len(outcomes)),
        "context_recall": rate(sum(found), len(found)),
        "cases_with_all_needed": rate(sum(all(o.found) for o in outcomes), len(outcomes)),
        "mean_context_chars": round(sum(o.context_chars for o in outcomes) / max(1, len(outcomes)), 1),
        "retrieval": latency([o.retrieval_ms for o in outcomes]),
        "fill": latency([o.fill_ms for o in outcomes]),
        "errors": sum(bool(o.error) for o in outcomes),
    }


async def evaluate(workspaces: dict[str, Workspace], cases: list[RepoCase], configs: list[str], client,
                   steps: int = 0) -> dict:
    """Each configuration's report over ``cases``, all filled by one engine ``client`` (``steps``: the
    denoising step budget, 0 for the settings' default)."""
    welcome = await client.start()
    try:
        filler = Filler(client, welcome, steps)
        with tempfile.TemporaryDirectory(prefix="infill-eval-repo-") as tmp:
            roots = {}
            for number, (repo, workspace) in enumerate(sorted(workspaces.items())):
                roots[repo] = Path(tmp) / f"workspace-{number}"
                workspace.write(roots[repo])
            reports = {}
            for config in configs:
                provider = CONTEXT_PROVIDERS[config]()
                if isinstance(provider, RepositoryContext):
                    provider.budget = filler.cross_file_budget  # packed to the budget the editor would give it
                outcomes = await run_config(provider, cases, roots, filler, config)
                print(file=sys.stderr)
                reports[config] = {**summarize(outcomes), "outcomes": [asdict(o) for o in outcomes]}
        return {"model": welcome.model_name, "trained": welcome.trained, "configs": reports}
    finally:
        await client.close()


TABLE_ROWS = (("exact match", "exact"), ("fill shown", "filled"), ("context recall", "context_recall"),
              ("cases with all needed", "cases_with_all_needed"))  # fmt: skip


def table_lines(report: dict, data: str) -> list[str]:
    configs = report["configs"]
    names = list(configs)
    rows = [(label, [shown_rate(configs[n][key]) for n in names]) for label, key in TABLE_ROWS]
    for label, key in (("retrieval p50 / p95", "retrieval"), ("fill p50 / p95", "fill")):
        rows.append((label, [f"{configs[n][key]['p50_ms']:.1f} / {configs[n][key]['p95_ms']:.1f} ms" for n in names]))
    rows.append(("context chars (mean)", [f"{configs[n]['mean_context_chars']:g}" for n in names]))
    widths = [max(len(names[i]), *(len(r[1][i]) for r in rows)) for i in range(len(names))]
    label_width = max(len(r[0]) for r in rows)
    head = " | ".join(name.ljust(w) for name, w in zip(names, widths, strict=True))
    untrained = "" if report["trained"] else " (UNTRAINED: its fills mean nothing)"
    lines = [f"{data}: {configs[names[0]]['cases']} cases, model {report['model']}{untrained} (95% intervals)",
             f"{'':{label_width}} | {head}", "-" * (label_width + 3 + len(head))]  # fmt: skip
    lines += [f"{label:{label_width}} | " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
              for label, values in rows]  # fmt: skip
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``infill eval repo``."""
    parser = argparse.ArgumentParser(prog="infill eval repo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="FILE",
                        help="workspaces and cases, JSON lines (.xz, .gz or plain; default: the vendored data)")
    parser.add_argument("--config", action="append", default=None, metavar="NAME",
                        help=f"a context source, repeatable or comma-separated: {', '.join(CONTEXT_PROVIDERS)} "
                             "(default: none)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="evaluate the first N cases (0: all)")
    parser.add_argument("--steps", type=int, default=0, help="denoising step budget (0: the settings' default)")
    parser.add_argument("--json", action="store_true", help="print the JSON report (every case's outcome)")
    EngineLaunch.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configs = [n.strip() for given in args.config or ["none"] for n in given.split(",") if n.strip()]
    unknown = [n for n in configs if n not in CONTEXT_PROVIDERS]
    if unknown or not configs:
        parser.error(f"unknown config {', '.join(unknown) or '(none)'}; known: {', '.join(CONTEXT_PROVIDERS)}")
    if args.limit < 0 or args.steps < 0:
        parser.error("--limit and --steps must be >= 0")
    launch = EngineLaunch.from_args(args, parser)
    if not args.data.is_file():
        print(f"error: benchmark data not found at {args.data}", file=sys.stderr)
        return 2
    try:
        workspaces, cases = load_benchmark(args.data, args.limit)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read the benchmark in {args.data}: {exc}", file=sys.stderr)
        return 2
    from engine.clients.connect import open_client

    with stdout_to_stderr(args.json):  # stdout holds the report alone
        client = open_client(launch, inproc=True, client_name="infill-eval-repo")
        report = asyncio.run(evaluate(workspaces, cases, list(dict.fromkeys(configs)), client, args.steps))
    report = {"data": args.data.name, **report}
    print(json.dumps(report, indent=2) if args.json else "\n".join(table_lines(report, args.data.name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
