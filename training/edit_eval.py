"""Measure how a model rewrites drafts: does it fix a stale region, and does it keep a region that is right?

Held-out edit cases are cut from the files a training run holds out (``train.split_corpus``, same corpus and
seed): renames and missing arguments (the region as a user leaves it just before the follow-up edit) and
no-edit regions, plus, with ``--edit-data``, real edits from git histories of repositories the run did not
train on. Each is sent to the real engine in-process as ``InfillRequest(prefix, suffix, draft=before)``, the
way the next-edit predictor asks; the figures are the share of edit cases whose answer is exactly ``after``
(fixed), the share left as they were (kept), and the share of no-edit cases kept unchanged, with Wilson 95%
intervals.

``python -m training.edit_eval --model DIR [--model DIR...] --corpus DIR --cases N``
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from training.edit_examples import EditCase, cut_edit_case, draft_room

EVAL_KINDS = ("rename", "missing_arg", "none")
MAX_DRAFT_TOKENS = 40  # regions of about a line or three, as the next-edit predictor drafts them


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) for no trials."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def held_out_cases(texts: list[tuple[str, str]], per_kind: int, seed: int, fits) -> list[tuple[EditCase, str]]:
    """Up to ``per_kind`` cases of each of ``EVAL_KINDS`` cut from ``texts`` ((text, language) pairs), each
    accepted by ``fits(case)``; files are visited in turn so no file dominates."""
    rng = random.Random(seed)
    out = []
    for kind in EVAL_KINDS:
        found, attempts = 0, 0
        while found < per_kind and attempts < per_kind * 200:
            text, language = texts[attempts % len(texts)]
            attempts += 1
            case = cut_edit_case(text, kind, rng, max_chars=120, context_chars=3000)
            if case is not None and fits(case):
                out.append((case, language))
                found += 1
    return out


def git_cases(path: Path, count: int, seed: int, fits) -> list[tuple[EditCase, str]]:
    """``count`` real edits of an edits file (``training.git_edits``), drawn at random, that ``fits`` accepts."""
    from training.git_edits import load_edit_cases

    cases = [pair for pair in load_edit_cases(path) if fits(pair[0])]
    random.Random(seed).shuffle(cases)
    return cases[:count]


def answer(core, case: EditCase, language: str, request_id: str) -> str | None:
    """The engine's rewrite of ``case.before`` in place; None when it refused or answered nothing."""
    from engine.protocol import InfillRequest, InfillResult

    try:
        core.add(InfillRequest(request_id, case.prefix, case.suffix, language=language, draft=case.before, seed=1))
    except ValueError:
        return None
    result = None
    while core.has_work():
        for message in core.step():
            if isinstance(message, InfillResult):
                result = message
    if result is None or not result.candidates:
        return None
    return result.candidates[0].text


def measure(model_dir: str, cases: list[tuple[EditCase, str]]) -> dict:
    """Per kind: cases, exactly fixed (answer == after), kept (answer == before), with 95% intervals."""
    from engine.core.loading import load_core

    core = load_core(model_dir, device="cpu")
    tallies: dict[str, list[int]] = {}
    started = time.perf_counter()
    for index, (case, language) in enumerate(cases):
        text = answer(core, case, language, f"edit-eval-{index}")
        tally = tallies.setdefault(case.kind, [0, 0, 0])
        tally[0] += 1
        tally[1] += text == case.after
        tally[2] += text == case.before
    out = {"model": model_dir, "seconds": round(time.perf_counter() - started, 1), "kinds": {}}
    for kind, (total, fixed, kept) in tallies.items():
        out["kinds"][kind] = {"cases": total, "fixed": fixed / total, "fixed_95": wilson(fixed, total),
                              "kept": kept / total, "kept_95": wilson(kept, total)}
    edits = [(t, f) for k, (t, f, _) in tallies.items() if k != "none"]
    total, fixed = sum(t for t, _ in edits), sum(f for _, f in edits)
    if total:
        out["edit_cases_fixed"] = {"cases": total, "fixed": fixed / total, "fixed_95": wilson(fixed, total)}
    return out


def _row(kind: str, figures: dict) -> str:
    lo, hi = figures["fixed_95"]
    klo, khi = figures["kept_95"]
    return (f"  {kind:12s} n={figures['cases']:4d}  fixed {figures['fixed']:6.1%} [{lo:.1%}, {hi:.1%}]  "
            f"kept {figures['kept']:6.1%} [{klo:.1%}, {khi:.1%}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.edit_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="a model directory (repeatable)")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus the run trained on")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (it picks the held-out files)")
    parser.add_argument("--cases", type=int, default=100, help="cases per kind")
    parser.add_argument("--edit-data", type=Path, help="real edits (training.git_edits) of repositories not trained on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")

    from engine.prompt.tokenizer import InfillTokenizer
    from training.train import load_corpus_texts, split_corpus

    tokenizer = InfillTokenizer.from_file(Path(args.model[0]))

    def fits(case: EditCase) -> bool:
        tokens = len(tokenizer.encode(case.before))
        return 0 < tokens <= MAX_DRAFT_TOKENS and draft_room(tokens) <= 64 and bool(case.after.strip())

    held_out, _ = split_corpus(load_corpus_texts(args.corpus), args.seed)
    cases = held_out_cases(held_out, args.cases, seed=12345, fits=fits)
    if args.edit_data:
        cases += git_cases(args.edit_data, args.cases, seed=12345, fits=fits)
    print(f"{len(cases)} cases from {len(held_out)} held-out files", file=sys.stderr)
    results = []
    for model in args.model:
        figures = measure(model, cases)
        results.append(figures)
        print(f"{model} ({figures['seconds']} s)")
        for kind, row in figures["kinds"].items():
            print(_row(kind, row))
        if "edit_cases_fixed" in figures:
            row = figures["edit_cases_fixed"]
            print(f"  all edits    n={row['cases']:4d}  fixed {row['fixed']:6.1%} "
                  f"[{row['fixed_95'][0]:.1%}, {row['fixed_95'][1]:.1%}]")
    if args.json:
        args.json.write_text(json.dumps({"cases": len(cases), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
