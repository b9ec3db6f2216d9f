"""``infill eval humaneval-infilling``: fill the benchmark's holes through the engine and score by execution.

Each completion runs as ``prompt + fill + suffix + test + check(entry_point)`` in its own Python
subprocess: isolated mode, a fresh temporary directory, a stripped environment, a timeout. Model output
is executed nowhere else in the project. Each hole is planned and each fill finished by the fill layer
(``infill_lsp.fill``), as in an editor, so a fill the editor would refuse scores as no fill. The diffusion
model is served by the EngineCore (the product's path); the autoregressive baseline decodes greedily with
the same model class's causal encoder.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engine.host.launch import EngineLaunch
from infill_lsp.json_stdout import stdout_to_stderr

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "humaneval-infilling"  # vendored (MIT, see its LICENSE)


@dataclass(frozen=True, slots=True)
class Problem:
    task_id: str
    prompt: str
    suffix: str
    solution: str
    test: str
    entry_point: str


def load_problems(path: Path, limit: int = 0, stride: int = 1) -> list[Problem]:
    opener = gzip.open if str(path).endswith(".gz") else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if not line.strip() or number % stride:
                continue
            row = json.loads(line)
            problems.append(
                Problem(row["task_id"], row["prompt"], row["suffix"], row["canonical_solution"], row["test"],
                        row["entry_point"])
            )
            if limit and len(problems) >= limit:
                break
    return problems


def run_program(source: str, timeout: float = 10.0) -> bool:
    """Run ``source`` in a sandboxed subprocess; True when it exits 0 within ``timeout`` seconds."""
    with tempfile.TemporaryDirectory(prefix="infill-eval-") as tmp:
        script = Path(tmp) / "program.py"
        script.write_text(source, encoding="utf-8")
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "HOME": tmp, "no_proxy": "*"}
        try:
            result = subprocess.run(
                [sys.executable, "-I", "-S", str(script)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0


def program_for(problem: Problem, fill: str) -> str:
    return f"{problem.prompt}{fill}{problem.suffix}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def problem_plan(problem: Problem, single_line: bool):
    """The fill layer's plan for a benchmark hole: the whole prompt and suffix as context.

    Single-line holes are whole lines, newline included, so the plan writes the newline after the fill.
    """
    from infill_lsp.checks import names_in_code
    from infill_lsp.context import Budgets, build_context
    from infill_lsp.fill import plan_from_context

    language = _python()
    text = problem.prompt + problem.suffix
    cursor = len(problem.prompt)
    tree = language.parse(text.encode("utf-8", "surrogatepass"))
    budgets = Budgets(prefix_chars=len(problem.prompt), suffix_chars=len(problem.suffix))
    context = build_context(text, cursor, language=language, tree=tree, budgets=budgets)
    return plan_from_context(context, cursor=cursor, language="python", single_line=single_line,
                             trail="\n" if single_line else "", known_names=names_in_code(language, tree, text))


def _python():
    from infill_lsp.languages import LanguageRegistry

    return LanguageRegistry().get("python")


@dataclass(slots=True)
class Outcome:
    task_id: str
    raw_fill: str  # the most confident candidate, shaped to the hole but not checked
    fill: str  # the product's fill: candidates by confidence, the first that passes the fill layer's checks
    confidence: float  # the engine's confidence in ``fill``
    likely_fill: str  # the same, candidates ordered by the encoder's likelihood
    latency_ms: float
    steps: int
    tokens: int
    raw_passed: bool = False
    passed: bool = False
    likely_passed: bool = False


class DiffusionFiller:
    """Fills holes one request at a time through an EngineCore (the product's path)."""

    def __init__(self, core, steps: int, canvas: tuple[int, ...], candidates: int = 1) -> None:
        self.core = core
        self.steps = steps
        self.canvas = canvas
        self.candidates = candidates
        self._next = 0

    def fill(self, plan) -> tuple[tuple, int, int]:
        """The engine's candidates for ``plan`` (scored by the encoder too), its steps, and the best's tokens."""
        from engine.protocol import InfillResult

        self._next += 1
        self.core.add(plan.request(self._next, max_steps=self.steps, canvas_lengths=self.canvas, seed=1,
                                   num_candidates=self.candidates, score=True))
        result = None
        while self.core.has_work():
            for message in self.core.step():
                if isinstance(message, InfillResult):
                    result = message
        if result is None or not result.candidates:
            return (), 0, 0
        return result.candidates, result.forward_passes, result.candidates[0].tokens


class AutoregressiveFiller:
    """Greedy decoding with the causal encoder of a model trained with the AR objective."""

    def __init__(self, model_dir: Path, device: str, max_tokens: int, dtype: str = "auto") -> None:
        from engine.core.config import EngineConfig
        from engine.core.engine_core import EngineCore
        from engine.model.checkpoint import load_model, resolve_device
        from engine.model.torch_runner import TorchRunner
        from engine.prompt.tokenizer import InfillTokenizer

        loaded = load_model(model_dir, device=resolve_device(device), dtype=dtype)
        self.model = loaded.model
        self.device = loaded.device
        self.tokenizer = InfillTokenizer.from_file(model_dir)
        # Borrow the engine's prompt building so both models see identical prompts.
        self._prompter = EngineCore(TorchRunner(loaded), self.tokenizer, EngineConfig())
        self.max_tokens = max_tokens

    def fill(self, plan) -> tuple[tuple, int, int]:
        import torch
        from transformers.cache_utils import DynamicCache

        from engine.protocol import Candidate
        from training.objectives import softcapped_logits

        ids = self._prompter._prompt(plan.request(0))
        special = self.tokenizer.special
        banned = torch.tensor(special.never_generated, device=self.device)
        cache = DynamicCache(config=self.model.config.text_config)
        out: list[int] = []
        step_input = torch.tensor([ids], device=self.device)
        position = 0
        passes = 0
        with torch.inference_mode():
            for _ in range(self.max_tokens):
                positions = torch.arange(position, position + step_input.shape[1], device=self.device)[None]
                hidden = self.model.model.encoder(
                    input_ids=step_input, past_key_values=cache, position_ids=positions
                ).last_hidden_state[:, -1:]
                passes += 1
                position += step_input.shape[1]
                logits = softcapped_logits(self.model, hidden)[0, -1]
                logits[banned] = float("-inf")
                token = int(logits.argmax())
                if token == special.eom:
                    break
                out.append(token)
                if plan.single_line and "\n" in self.tokenizer.decode(out[-1:]):
                    break
                step_input = torch.tensor([[token]], device=self.device)
        return (Candidate(self.tokenizer.decode(out), confidence=1.0),), passes, len(out)


GATE_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _first_kept(candidates, plan, language, pick: str) -> tuple[str, float]:
    """The first candidate (in ``pick`` order) that the fill layer keeps: its text and confidence."""
    from infill_lsp.fill import Fill, finish_fill, ranked

    for candidate in ranked(candidates, pick):
        finished = finish_fill(candidate.text, plan, language)
        if isinstance(finished, Fill):
            return finished.text, candidate.confidence
    return "", 0.0


def evaluate(problems: list[Problem], filler, single_line: bool, workers: int = 2) -> dict:
    """Fill every problem and run the programs; the report compares the raw fill, the product's pick
    (checks, candidates by confidence) and the pick by likelihood, and gives the gate's curve."""
    from infill_lsp.fill import Fill, finish_fill

    language = _python()
    outcomes: list[Outcome] = []
    runs: dict[tuple[str, str], object] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, problem in enumerate(problems):
            plan = problem_plan(problem, single_line)
            started = time.perf_counter()
            candidates, steps, tokens = filler.fill(plan)
            raw = finish_fill(candidates[0].text, plan) if candidates else None  # shaped, not checked
            fill, confidence = _first_kept(candidates, plan, language, "confidence")
            likely, _ = _first_kept(candidates, plan, language, "likelihood")
            latency = (time.perf_counter() - started) * 1000
            raw_fill = raw.text if isinstance(raw, Fill) else ""
            for text in {raw_fill, fill, likely}:
                if text and (problem.task_id, text) not in runs:
                    runs[(problem.task_id, text)] = pool.submit(run_program, program_for(problem, text))
            outcomes.append(Outcome(problem.task_id, raw_fill, fill, confidence, likely, latency, steps, tokens))
            if sys.stderr.isatty() or (index + 1) % 25 == 0:
                print(f"\r{index + 1}/{len(problems)} filled", end="", file=sys.stderr, flush=True)
        for o in outcomes:
            o.raw_passed, o.passed, o.likely_passed = (
                bool(text) and runs[(o.task_id, text)].result() for text in (o.raw_fill, o.fill, o.likely_fill)
            )
    print(file=sys.stderr)
    total = max(1, len(outcomes))
    latencies = sorted(o.latency_ms for o in outcomes)
    p95_latency = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0
    total_steps = sum(o.steps for o in outcomes)
    gate = []
    for threshold in GATE_THRESHOLDS:
        shown = [o for o in outcomes if o.fill and o.confidence >= threshold]
        gate.append({"min_confidence": threshold, "coverage": round(len(shown) / total, 4),
                     "precision": round(sum(o.passed for o in shown) / max(1, len(shown)), 4)})
    return {
        "problems": len(outcomes),
        "pass@1": round(sum(o.passed for o in outcomes) / total, 4),
        "raw_pass@1": round(sum(o.raw_passed for o in outcomes) / total, 4),
        "pass@1_by_likelihood": round(sum(o.likely_passed for o in outcomes) / total, 4),
        "filled": round(sum(bool(o.fill) for o in outcomes) / total, 4),
        "gate": gate,
        "mean_latency_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
        "p95_latency_ms": round(p95_latency, 2),
        "mean_forward_passes": round(total_steps / total, 2),
        "tokens_per_forward": round(sum(o.tokens for o in outcomes) / max(1, total_steps), 3),
        "outcomes": [
            {"task_id": o.task_id, "passed": o.passed, "raw_passed": o.raw_passed, "confidence": o.confidence,
             "latency_ms": round(o.latency_ms, 2), "fill": o.fill, "raw_fill": o.raw_fill}
            for o in outcomes
        ],
    }


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``infill eval humaneval-infilling``."""
    parser = argparse.ArgumentParser(prog="infill eval humaneval-infilling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz",
                        metavar="FILE",
                        help="problems, JSON lines (.gz or not; default: the vendored single-line split)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="evaluate the first N problems (0: all)")
    parser.add_argument("--stride", type=int, default=1, help="take every STRIDE-th problem (an even subset)")
    parser.add_argument("--json", action="store_true",
                        help="print the full JSON report (every problem's outcome) instead of the summary")
    EngineLaunch.add_arguments(parser)
    parser.add_argument("--objective", choices=("diffusion", "ar"), default=None,
                        help="how to decode (default: from the model card)")
    parser.add_argument("--steps", type=int, default=0, help="denoising step cap (0: engine default)")
    parser.add_argument("--canvas", default="", help="canvas lengths, e.g. 16 or 16,32 (default: engine's)")
    parser.add_argument("--candidates", type=int, default=1,
                        help="canvases denoised per hole, in one batch; the fill layer picks (default 1)")
    parser.add_argument("--single-line", choices=("auto", "yes", "no"), default="auto",
                        help="fill one line per hole (default auto: yes for the single-line split)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the full JSON report here")
    return parser


def summary_lines(report: dict) -> list[str]:
    """The report in a few lines for a person: pass@1, how often a fill was shown, latency, steps."""
    gate = "; ".join(f"at {g['min_confidence']:g}, {g['coverage']:.0%} shown and {g['precision']:.0%} of them right"
                     for g in report["gate"] if g["min_confidence"] in (0.0, 0.5, 0.9))
    return [
        f"{report['data']}: {report['problems']} problems, model {report['model']} ({report['objective']})",
        f"pass@1 {report['pass@1']:.1%} (raw {report['raw_pass@1']:.1%}, by likelihood "
        f"{report['pass@1_by_likelihood']:.1%}); filled {report['filled']:.0%}",
        f"latency mean {report['mean_latency_ms']:.0f} ms, p95 {report['p95_latency_ms']:.0f} ms; "
        f"{report['mean_forward_passes']:g} forward passes a fill, {report['tokens_per_forward']:g} tokens each",
        f"the gate (min confidence): {gate}",
        "the full report: --json (or --out FILE)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit < 0 or args.stride < 1 or not 1 <= args.candidates <= 8 or args.steps < 0:
        parser.error("--limit must be >= 0, --stride >= 1, --steps >= 0 and --candidates in [1, 8]")
    launch = EngineLaunch.from_args(args, parser)
    if not args.data.is_file():
        print(f"error: benchmark data not found at {args.data}", file=sys.stderr)
        return 2
    from engine.model.checkpoint import default_model_dir, read_model_card

    model_dir = launch.model_dir or default_model_dir()
    card = read_model_card(model_dir)
    objective = args.objective or card.get("objective", "diffusion")
    single_line = "SingleLine" in args.data.name if args.single_line == "auto" else args.single_line == "yes"
    problems = load_problems(args.data, args.limit, max(1, args.stride))
    canvas = tuple(int(x) for x in args.canvas.split(",") if x.strip())
    with stdout_to_stderr(args.json):  # stdout holds the report alone
        if objective == "ar":
            filler = AutoregressiveFiller(model_dir, launch.device, max_tokens=max(canvas or (64,)), dtype=launch.dtype)
        else:
            filler = DiffusionFiller(launch.load_core(), args.steps, canvas, max(1, args.candidates))
        if not card.get("trained", True):
            print("note: this model is UNTRAINED (random weights); its scores mean nothing", file=sys.stderr)
        report = {"data": args.data.name, "model": str(model_dir), "objective": objective,
                  "trained": card.get("trained", True), **evaluate(problems, filler, single_line)}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2) if args.json else "\n".join(summary_lines(report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
