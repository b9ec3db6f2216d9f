"""How many HTTP fills the editors' fill layer lets through: the engine's raw fills of HumanEval holes, and what
an HTTP client is shown of them now that ``/infill`` and ``/v1/completions`` answer through the fill layer; and,
per language, the same on holes cut in real files.

    python -m infill_tools.http_shown [--limit 40] [--model DIR] [--language python|'']
    python -m infill_tools.http_shown --real-files [--holes 10] [--languages go,rust] [--json]

For each hole the request is planned as the HTTP API plans it (infill_http.fills.HttpHole) and denoised by the
engine core in this process; "raw" counts the holes whose first candidate has text (what an HTTP client got
before the fill layer applied to HTTP), "shown" those the fill layer lets through (what it gets now), and the
reasons for the rest.

``--real-files`` cuts ``--holes`` holes in the vendored real file of each language (infill_tools.lsp_footprint's
files: one per language of the table): the rest of a line after its first third, on lines spread evenly over the
file. Per language it prints the share of holes whose raw fill has text, whose raw fill leaves a file that parses
(no more syntax errors than the file had), that are shown a fill, and whose shown fill is the text that was cut.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path

import tree_sitter

from engine.protocol import InfillResult, RequestIds
from grammars import default_table
from infill_http.fills import HttpHole, Skip, checked_result, language_of
from infill_lsp.documents import encode_source
from infill_tools.humaneval import DEFAULT_DATA, load_problems
from infill_tools.lsp_footprint import RealFile, real_files


def count_shown(core, problems, language: str) -> dict:
    ids = RequestIds("shown")
    raw = shown = 0
    reasons: collections.Counter[str] = collections.Counter()
    for problem in problems:
        try:
            hole = HttpHole.plan_for(problem.prompt, problem.suffix, language=language, filename="", context="",
                                     welcome=core.welcome)
        except Skip as why:
            reasons[str(why)] += 1
            continue
        request = hole.request(request_id=ids(), max_steps=0, num_candidates=1)
        core.add(request)
        result = None
        while result is None:
            result = next((m for m in core.step() if isinstance(m, InfillResult)), None)
        raw += bool(result.candidates and result.candidates[0].text.strip())
        checked, why = checked_result(result, hole, "", 1)
        if checked.candidates and checked.candidates[0].text.strip():
            shown += 1
        else:
            reasons[why.split(":")[0]] += 1
    return {"holes": len(problems), "language": language or "(none)", "raw": raw, "shown": shown,
            "refused": dict(reasons.most_common())}


def line_holes(text: str, count: int) -> list[tuple[str, str, str]]:
    """``count`` holes of ``text`` as (prefix, the text cut, suffix): the rest of a line after the first third of
    its content, on lines of at least 12 characters of content spread evenly over the file."""
    offsets, at = [], 0
    for line in text.splitlines(keepends=True):
        content = line.strip()
        if len(content) >= 12:
            cut = len(content) // 3
            while cut < len(content) and _word(content[cut - 1]) and _word(content[cut]):
                cut += 1  # not inside a word
            start = at + len(line) - len(line.lstrip())
            offsets.append((start + cut, start + len(content)))
        at += len(line)
    if not offsets or count < 1:
        return []
    chosen = [offsets[i * len(offsets) // min(count, len(offsets))] for i in range(min(count, len(offsets)))]
    return [(text[:cut], text[cut:end], text[end:]) for cut, end in chosen if cut < end]


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def syntax_errors(tree: tree_sitter.Tree) -> int:
    """The error and missing nodes of ``tree``."""
    if not tree.root_node.has_error:
        return 0
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        count += node.is_error or node.is_missing
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def count_real(core, real: RealFile, holes: int) -> dict:
    """The shares of ``holes`` holes of ``real``'s file with a raw fill, one that parses, a shown one, the right one."""
    text = real.path.read_text(encoding="utf-8")
    support = language_of(real.language, real.path.name)
    if support is None:
        raise RuntimeError(f"no grammar for {real.language}")
    baseline = syntax_errors(support.parse(encode_source(text)))
    ids = RequestIds(f"real-{real.language}")
    counts: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    cut_holes = line_holes(text, holes)
    for prefix, removed, suffix in cut_holes:
        try:
            hole = HttpHole.plan_for(prefix, suffix, language=real.language, filename=real.path.name, context="",
                                     welcome=core.welcome)
        except Skip as why:
            reasons[str(why)] += 1
            continue
        core.add(hole.request(request_id=ids(), max_steps=0, num_candidates=1))
        result = None
        while result is None:
            result = next((m for m in core.step() if isinstance(m, InfillResult)), None)
        raw = result.candidates[0].text if result.candidates else ""
        if raw.strip():
            counts["raw"] += 1
            counts["raw_parses"] += syntax_errors(support.parse(encode_source(prefix + raw + suffix))) <= baseline
        checked, why = checked_result(result, hole, "", 1)
        shown = checked.candidates[0].text if checked.candidates else ""
        if shown.strip():
            counts["shown"] += 1
            counts["exact"] += shown.strip() == removed.strip()
        else:
            reasons[re.sub(r" into '.*'$", "", why.split(":")[0])] += 1  # not the word, so that reasons add up
    return {"language": real.language, "file": real.path.name, "model_tag": default_table()[real.language].model_tag,
            "holes": len(cut_holes), **{k: counts[k] for k in ("raw", "raw_parses", "shown", "exact")},
            "refused": dict(reasons.most_common())}


def real_table(rows: list[dict]) -> str:
    lines = ["| language (model tag) | holes | raw fill | raw fill parses | shown | shown = the cut text |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        share = {k: f"{row[k] / row['holes']:.0%}" if row["holes"] else "-"
                 for k in ("raw", "raw_parses", "shown", "exact")}
        title = default_table()[row["language"]].title
        lines.append(f"| {title} (`{row['model_tag']}`) | {row['holes']} | {share['raw']} | {share['raw_parses']} | "
                     f"{share['shown']} | {share['exact']} |")
    total = {k: sum(row[k] for row in rows) for k in ("holes", "raw", "raw_parses", "shown", "exact")}
    if total["holes"]:
        lines.append(f"| all | {total['holes']} | " + " | ".join(
            f"{total[k] / total['holes']:.0%}" for k in ("raw", "raw_parses", "shown", "exact")) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.http_shown", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="holes of the single-line split (default 40)")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the embedded model)")
    parser.add_argument("--language", default="python", help="the language the requests name ('' for none)")
    parser.add_argument("--real-files", action="store_true", help="holes cut in the real file of each language")
    parser.add_argument("--holes", type=int, default=10, help="--real-files: holes per language (default 10)")
    parser.add_argument("--languages", default="", help="--real-files: only these languages (comma-separated)")
    parser.add_argument("--json", action="store_true", help="--real-files: JSON instead of a table")
    args = parser.parse_args(argv)
    files = real_files()
    if args.languages:
        wanted = set(args.languages.split(","))
        unknown = wanted - {real.language for real in files}
        if unknown:
            parser.error(f"--languages: no real file for {', '.join(sorted(unknown))}")
        files = [real for real in files if real.language in wanted]
    from engine.core.loading import load_core

    core = load_core(args.model)
    if args.real_files:
        rows = [count_real(core, real, args.holes) for real in files]
        print(json.dumps(rows, indent=1) if args.json else real_table(rows))
        return 0
    problems = load_problems(DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz", limit=args.limit)
    print(json.dumps(count_shown(core, problems, args.language), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
