"""``infill bench --only carry``: typed text carried on the canvas vs encoded into the prompt, paired.

After a fill at the start of a line, the user types the first characters of what the line really holds. The
engine either carries that text on the canvas (``EngineConfig.carry_chars``: the document's encoded prompt
is reused whole, the typed text starts the canvas, fixed) or encodes the few new prompt tokens first (carry
off). Both run on the same engine core and the same holes, one after the other, each mode on its own
document keys so neither finds the other's cache.

Holes: HumanEval's single-line infilling problems (vendored, MIT), the cursor after the line's indentation.
Per number of typed characters: exact match of ``typed + fill`` against the line, how often both modes
gave the same fill, denoising steps, tokens encoded, and the engine's time for the request, against the
cold request at the hole.
"""

from __future__ import annotations

import difflib
import statistics
from dataclasses import dataclass, field
from typing import Any

from engine.protocol import InfillRequest, InfillResult
from infill_tools.eval_stats import wilson
from infill_tools.humaneval import DEFAULT_DATA, load_problems

TYPED = (1, 2, 3)
MIN_LINE = 6  # lines whose text after the indentation is shorter than this are left out


@dataclass(slots=True)
class _Tally:
    exact: int = 0
    count: int = 0
    similarity: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    encoded: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    fills: list[str] = field(default_factory=list)

    def add(self, result: InfillResult, typed: str, line: str) -> None:
        fill = result.candidates[0].text.split("\n", 1)[0] if result.candidates else ""
        self.fills.append(fill)
        self.exact += (typed + fill).rstrip() == line.rstrip()
        self.similarity.append(difflib.SequenceMatcher(None, (typed + fill).rstrip(), line.rstrip()).ratio())
        self.count += 1
        self.steps.append(result.forward_passes)
        self.encoded.append(result.prompt_tokens - result.cached_tokens)
        self.ms.append(result.elapsed_ms)

    def report(self) -> dict[str, Any]:
        low, high = wilson(self.exact, self.count)
        return {"exact_match": round(self.exact / max(1, self.count), 4), "exact": self.exact, "holes": self.count,
                "interval_95": [round(low, 4), round(high, 4)],
                "edit_similarity_mean": round(statistics.fmean(self.similarity), 4),
                "steps_mean": round(statistics.fmean(self.steps), 2),
                "encoded_tokens_mean": round(statistics.fmean(self.encoded), 1),
                "engine_ms_p50": round(statistics.median(self.ms), 1)}


def _run(core, request: InfillRequest) -> InfillResult:
    core.add(request)
    result = None
    while core.has_work():
        for message in core.step():
            if isinstance(message, InfillResult) and message.request_id == request.request_id:
                result = message
    if result is None:
        raise RuntimeError(f"request {request.request_id} got no result")
    return result


def bench_carry(core, *, limit: int = 100, stride: int = 1, typed: tuple[int, ...] = TYPED) -> dict[str, Any]:
    """Carry on vs off on ``limit`` single-line holes, ``typed`` characters of each line typed in turn."""
    problems = [p for p in load_problems(DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz", stride=stride)
                if len(p.solution.strip()) >= MIN_LINE][:limit]
    default = core.config.carry_chars or 16
    tallies = {(mode, k): _Tally() for mode in ("carried", "encoded") for k in typed}
    cold: list[float] = []
    number = 0
    try:
        for index, problem in enumerate(problems):
            line = problem.solution.rstrip("\n")
            indent = line[: len(line) - len(line.lstrip())]
            text = line[len(indent) :]
            prefix = problem.prompt + indent
            for mode in ("carried", "encoded"):
                core.config.carry_chars = default if mode == "carried" else 0
                key = f"carry-bench-{mode}-{index}"

                def request(head: str, key: str = key, suffix: str = problem.suffix) -> InfillRequest:
                    nonlocal number
                    number += 1
                    return InfillRequest(f"carry-{number}", head, suffix, language="python", document_key=key,
                                         single_line=True)

                first = _run(core, request(prefix))
                if mode == "carried":
                    cold.append(first.elapsed_ms)
                for k in typed:
                    tallies[mode, k].add(_run(core, request(prefix + text[:k])), text[:k], text)
    finally:
        core.config.carry_chars = default
    out: dict[str, Any] = {"holes": len(problems), "cold_engine_ms_p50": round(statistics.median(cold), 1)}
    for k in typed:
        carried, encoded = tallies["carried", k], tallies["encoded", k]
        same = sum(a == b for a, b in zip(carried.fills, encoded.fills, strict=True))
        pairs = list(zip(carried.similarity, encoded.similarity, strict=True))
        out[f"typed_{k}"] = {"carried": carried.report(), "encoded": encoded.report(),
                             "same_fill": round(same / max(1, carried.count), 4),
                             # holes where the carried fill is closer to the line than the encoded one, and farther
                             "carried_closer": sum(a > b for a, b in pairs),
                             "carried_farther": sum(a < b for a, b in pairs)}
    return out
