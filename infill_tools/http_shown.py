"""How many HTTP fills the editors' fill layer lets through: the engine's raw fills of HumanEval holes, and what
an HTTP client is shown of them now that ``/infill`` and ``/v1/completions`` answer through the fill layer.

    python -m infill_tools.http_shown [--limit 40] [--model DIR] [--language python|'']

For each hole the request is planned as the HTTP API plans it (infill_http.fills.HttpHole) and denoised by the
engine core in this process; "raw" counts the holes whose first candidate has text (what an HTTP client got
before the fill layer applied to HTTP), "shown" those the fill layer lets through (what it gets now), and the
reasons for the rest.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from engine.protocol import InfillResult, RequestIds
from infill_http.fills import HttpHole, Skip, checked_result
from infill_tools.humaneval import DEFAULT_DATA, load_problems


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.http_shown", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="holes of the single-line split (default 40)")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the embedded model)")
    parser.add_argument("--language", default="python", help="the language the requests name ('' for none)")
    args = parser.parse_args(argv)
    from engine.core.engine_core import load_core

    core = load_core(args.model)
    problems = load_problems(DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz", limit=args.limit)
    print(json.dumps(count_shown(core, problems, args.language), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
