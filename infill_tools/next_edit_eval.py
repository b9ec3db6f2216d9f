"""``infill eval next-edit``: score next-edit predictors on cases built from real commit histories.

The interface a predictor implements::

    Predictor = Callable[[Case], list[Edit]]

It gets a ``Case`` (``infill_tools.next_edit_data``): the file's current ``text`` (the recent edits
applied), the ``cursor`` (a ``str`` offset at the end of the last edit), the ``history`` (oldest first;
each edit's ``old`` and ``new`` lines, its ``start_line`` and a unified ``diff``), the ``path`` and
``language``. It must not read ``case.expected``. It answers the edits it proposes, each an ``Edit(start,
end, new_text)`` replacing ``text[start:end]`` (offsets into ``text``); ``[]`` is "no edit". Edits that
change nothing are dropped; of overlapping edits the first (by start) is kept. A predictor that raises
scores as no edit for that case (counted under ``errors``).

Register a predictor by name with a factory, called once per run (load a model there)::

    from infill_tools.next_edit_eval import PREDICTORS
    PREDICTORS["my-model"] = lambda: MyModel().predict

Metrics, each rate with its 95% Wilson interval:
- *exact*: on edit cases, the predicted edits applied give, within the region around the cursor and the
  expected edit (``REGION_LINES`` either side), the text the expected edit gives;
- *location*: on edit cases, a predicted edit overlaps the expected edit's lines;
- *quiet on noise*: on noise cases (nothing more is expected), no edit proposed;
- *parse validity*: of the proposals on a text that parses, how many leave it parsing (tree-sitter);
- latency of the predictor, p50 and p95.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from infill_tools.eval_stats import latency, rate, shown_rate
from infill_tools.next_edit_data import DEFAULT_DATA, NEAR_LINES, Case, Edit, line_start, load_cases

Predictor = Callable[[Case], list[Edit]]
REGION_LINES = 30


# ---- baselines ------------------------------------------------------------------------------------------


def no_edit(case: Case) -> list[Edit]:
    """The baseline that never edits: all of quiet-on-noise, none of the edits."""
    return []


TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
ANCHOR_TOKENS = 3  # an insertion is repeated after the same few tokens that preceded it


def token_changes(old: str, new: str) -> list[tuple[str, str, str]]:
    """The changed token runs of ``old`` → ``new``: (text before, text after, the old text just before it)."""
    a, b = TOKEN.findall(old), TOKEN.findall(new)
    changes = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            changes.append(("".join(a[i1:i2]), "".join(b[j1:j2]), "".join(a[max(0, i1 - ANCHOR_TOKENS) : i1])))
    return changes


def repeat_last_edit(case: Case) -> list[Edit]:
    """The rule: the last edit replaced a word A by B (or inserted text T after some tokens), so do the same
    at the next place after the cursor, within ``NEAR_LINES`` lines, where A (or those tokens) recur."""
    if not case.history:
        return []
    changes = token_changes(case.history[-1].old, case.history[-1].new)
    if not changes or len({(old, new) for old, new, _ in changes}) != 1:
        return []
    old, new, anchor = changes[0]
    if "\n" in old + new:
        return []
    window_end = len(case.text)
    newlines = [m.start() for m in re.finditer("\n", case.text[case.cursor :])]
    if len(newlines) > NEAR_LINES:
        window_end = case.cursor + newlines[NEAR_LINES]
    window = case.text[case.cursor : window_end]
    if old and re.search(r"\w", old):  # a replacement (or deletion) of a word: repeat it at its next use
        found = re.search(rf"(?<!\w){re.escape(old)}(?!\w)", window)
        return [Edit(case.cursor + found.start(), case.cursor + found.end(), new)] if found else []
    if not old and new and re.search(r"\w", anchor):  # an insertion after an anchor: repeat it after the next one
        for found in re.finditer(rf"(?<!\w){re.escape(anchor)}", window):
            at = case.cursor + found.end()
            if not case.text.startswith(new, at):
                return [Edit(at, at, new)]
    return []


def _model() -> Predictor:
    from infill_tools.next_edit_model import ModelPredictor

    return ModelPredictor().predict


PREDICTORS: dict[str, Callable[[], Predictor]] = {
    "no-edit": lambda: no_edit,
    "repeat-last-edit": lambda: repeat_last_edit,
    "model": _model,  # the editors' predictor (infill_lsp.next_edit) on the engine in this process
}


# ---- metrics --------------------------------------------------------------------------------------------


def effective_edits(text: str, edits: list[Edit]) -> list[Edit]:
    """``edits`` clipped to the text, without no-ops and overlaps (the first by start wins), by start."""
    kept: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        start, end = max(0, min(edit.start, len(text))), max(0, min(edit.end, len(text)))
        if end < start or text[start:end] == edit.new_text:
            continue
        if kept and start < kept[-1].end or kept and start == kept[-1].start:
            continue
        kept.append(Edit(start, end, edit.new_text))
    return kept


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with non-overlapping ``edits`` (sorted by start) applied."""
    out, at = [], 0
    for edit in edits:
        out += [text[at : edit.start], edit.new_text]
        at = edit.end
    return "".join(out) + text[at:]


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def region(case: Case) -> tuple[int, int]:
    """The span of ``case.text`` the exact match compares: ``REGION_LINES`` around the cursor and the
    expected edit."""
    expected = case.expected or Edit(case.cursor, case.cursor, "")
    first = max(0, min(line_of(case.text, case.cursor), line_of(case.text, expected.start)) - REGION_LINES)
    last = max(line_of(case.text, case.cursor), line_of(case.text, expected.end)) + REGION_LINES + 1
    return line_start(case.text, first), line_start(case.text, last)


def exact_match(case: Case, edits: list[Edit]) -> bool:
    """Whether the predicted edits inside the region rewrite it as the expected edit does."""
    if case.expected is None:
        return False
    start, end = region(case)
    inside = [e for e in edits if e.start < end and e.end > start or start <= e.start == e.end <= end]
    lo = min([start, *(e.start for e in inside)])
    hi = max([end, *(e.end for e in inside)])
    tail = len(case.text) - hi
    predicted = apply_edits(case.text, inside)
    expected = apply_edits(case.text, [case.expected])
    return predicted[lo : len(predicted) - tail] == expected[lo : len(expected) - tail]


def location_match(case: Case, edits: list[Edit]) -> bool:
    """Whether a predicted edit touches the lines of the expected edit."""
    if case.expected is None:
        return False
    first, last = line_of(case.text, case.expected.start), line_of(case.text, max(case.expected.start,
                                                                                case.expected.end - 1))
    return any(line_of(case.text, e.start) <= last and line_of(case.text, max(e.start, e.end - 1)) >= first
               for e in edits)  # fmt: skip


@cache
def _registry():
    from infill_lsp.languages import LanguageRegistry

    return LanguageRegistry()


def parses(language: str, text: str) -> bool | None:
    """Whether ``text`` parses without errors in ``language``; None when there is no grammar for it."""
    support = _registry().get(language)
    if support is None:
        return None
    return not support.parse(text.encode("utf-8", "surrogatepass")).root_node.has_error


# ---- the run --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    id: str
    noise: bool
    edits: int
    exact: bool
    located: bool
    parsed_before: bool | None
    parsed_after: bool | None  # None when no edit was proposed or the text did not parse before
    latency_ms: float
    error: str = ""


def score(case: Case, predictor: Predictor) -> Outcome:
    started = time.perf_counter()
    error = ""
    try:
        proposed = list(predictor(case))
    except Exception as exc:  # one bad case fails alone
        proposed, error = [], f"{type(exc).__name__}: {exc}"
    elapsed = (time.perf_counter() - started) * 1000
    edits = effective_edits(case.text, proposed)
    before = parses(case.language, case.text) if edits else None
    after = parses(case.language, apply_edits(case.text, edits)) if edits and before else None
    return Outcome(case.id, case.expected is None, len(edits), exact_match(case, edits),
                   location_match(case, edits), before, after, elapsed, error)  # fmt: skip


def summarize(outcomes: list[Outcome]) -> dict:
    edits = [o for o in outcomes if not o.noise]
    noise = [o for o in outcomes if o.noise]
    checked = [o for o in outcomes if o.parsed_after is not None]
    return {
        "edit_cases": len(edits),
        "noise_cases": len(noise),
        "exact": rate(sum(o.exact for o in edits), len(edits)),
        "location": rate(sum(o.located for o in edits), len(edits)),
        "proposed_on_edits": rate(sum(o.edits > 0 for o in edits), len(edits)),
        "quiet_on_noise": rate(sum(o.edits == 0 for o in noise), len(noise)),
        "parse_valid": rate(sum(bool(o.parsed_after) for o in checked), len(checked)),
        "latency": latency([o.latency_ms for o in outcomes]),
        "errors": sum(bool(o.error) for o in outcomes),
    }


def evaluate(cases: list[Case], predictor: Predictor) -> dict:
    outcomes = [score(case, predictor) for case in cases]
    return {**summarize(outcomes), "outcomes": [asdict(o) for o in outcomes]}


TABLE_ROWS = (("exact next edit", "exact"), ("location", "location"), ("proposed an edit", "proposed_on_edits"),
              ("quiet on noise", "quiet_on_noise"), ("parse valid", "parse_valid"))  # fmt: skip


def table_lines(reports: dict[str, dict], data: str) -> list[str]:
    """The reports side by side, one column per predictor."""
    names = list(reports)
    first = reports[names[0]]
    rows = [(label, [shown_rate(reports[n][key]) for n in names]) for label, key in TABLE_ROWS]
    times = [reports[n]["latency"] for n in names]
    rows.append(("latency p50 / p95", [f"{t['p50_ms']:.2f} / {t['p95_ms']:.2f} ms" for t in times]))
    if any(reports[n]["errors"] for n in names):
        rows.append(("predictor errors", [str(reports[n]["errors"]) for n in names]))
    widths = [max(len(names[i]), *(len(r[1][i]) for r in rows)) for i in range(len(names))]
    label_width = max(len(r[0]) for r in rows)
    head = " | ".join(name.ljust(w) for name, w in zip(names, widths, strict=True))
    lines = [f"{data}: {first['edit_cases']} edit cases, {first['noise_cases']} noise cases (95% intervals)",
             f"{'':{label_width}} | {head}", "-" * (label_width + 3 + len(head))]  # fmt: skip
    lines += [f"{label:{label_width}} | " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
              for label, values in rows]  # fmt: skip
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``infill eval next-edit``."""
    parser = argparse.ArgumentParser(prog="infill eval next-edit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="FILE",
                        help="cases, JSON lines (.gz or not; default: the vendored cases)")
    parser.add_argument("--predictor", action="append", default=None, metavar="NAME",
                        help=f"a predictor to score, repeatable or comma-separated: {', '.join(PREDICTORS)} "
                             "(default: every one but model)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="score the first N cases (0: all)")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="the model of the `model` predictor (default: the embedded one)")
    parser.add_argument("--device", default="auto", help="its device (default auto)")
    parser.add_argument("--gates", default="", metavar="LIST",
                        help="with the `model` predictor, also judge its answers at these gates (comma-separated, "
                             "0-1): the quiet/exact curve")
    parser.add_argument("--json", action="store_true", help="print the JSON report (every case's outcome)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    default = [name for name in PREDICTORS if name != "model"]  # the model only when asked: it takes minutes
    names = [n.strip() for given in args.predictor or [",".join(default)] for n in given.split(",") if n.strip()]
    unknown = [n for n in names if n not in PREDICTORS]
    if unknown or not names:
        parser.error(f"unknown predictor {', '.join(unknown) or '(none)'}; known: {', '.join(PREDICTORS)}")
    if args.limit < 0:
        parser.error("--limit must be >= 0")
    if not args.data.is_file():
        print(f"error: benchmark data not found at {args.data}", file=sys.stderr)
        return 2
    try:
        cases = load_cases(args.data, args.limit)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read the cases in {args.data}: {exc}", file=sys.stderr)
        return 2
    try:
        gates = [float(g) for g in args.gates.split(",") if g.strip()]
    except ValueError:
        parser.error(f"--gates must be numbers between 0 and 1, got {args.gates!r}")
    if any(not 0 <= g <= 1 for g in gates):
        parser.error(f"--gates must be numbers between 0 and 1, got {args.gates!r}")
    reports: dict[str, dict] = {}
    for name in dict.fromkeys(names):
        if name != "model":
            reports[name] = evaluate(cases, PREDICTORS[name]())
            continue
        from infill_tools.next_edit_model import ModelPredictor

        model = ModelPredictor(args.model, args.device)
        reports[name] = evaluate(cases, model.predict)
        for gate in gates:  # the same answers judged again: latency here is the judging alone
            reports[f"model@{gate:g}"] = evaluate(cases, model.judged(gate))
    if args.json:
        print(json.dumps({"data": args.data.name, "predictors": reports}, indent=2))
    else:
        print("\n".join(table_lines(reports, args.data.name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
