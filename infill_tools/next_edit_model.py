"""The next-edit predictor of the editors (infill_lsp.next_edit) as a predictor of ``infill eval next-edit``:
the same probes, sent as drafts to an engine core in this process, and judged at one or more gates.

The engine's answers for a case do not depend on the gate, so they are kept per case and judged again at
each gate of the quiet/exact curve (``judged``) without asking the engine again.
"""

from __future__ import annotations

from pathlib import Path

from engine.protocol import InfillRequest, InfillResult, RequestIds
from infill_lsp.next_edit.diffs import shared_ends
from infill_lsp.next_edit.minimal import Edit as TextEdit
from infill_lsp.next_edit.predict import Answer, NextEditPlan, Probe, judge, probes
from infill_tools.next_edit_data import Case, Edit, line_start


def case_hunks(case: Case) -> list[tuple[int, int, str]]:
    """The case's history as hunks of its current text, ``(start, end, old)``, each narrowed to the words that
    changed."""
    hunks = []
    for past in case.history:
        start = line_start(case.text, past.start_line)
        old, new = past.old, past.new
        if case.text[start : start + len(new)] != new:
            continue  # a later edit of the history moved or rewrote it
        head, tail = shared_ends(old, new)
        hunks.append((start + head, start + len(new) - tail, old[head : len(old) - tail]))
    return hunks


class ModelPredictor:
    """Asks an engine core about each case's probes (the model: ``model_dir``, default the embedded one)."""

    def __init__(self, model_dir: Path | None = None, device: str = "auto", plan: NextEditPlan | None = None) -> None:
        from engine.core.loading import load_core

        self.core = load_core(model_dir, device=device)
        self.plan = plan or NextEditPlan(rewrite=self.core.welcome.rewrites)  # as the editors would ask it
        self.ids = RequestIds("eval")
        self.asked: dict[str, tuple[list[Probe], list[Answer | None]]] = {}

    def _answers(self, case: Case, asked: list[Probe]) -> list[Answer | None]:
        requests = [InfillRequest(self.ids(), case.text[max(0, p.start - 6000) : p.start],
                                  case.text[p.end : p.end + 2000], language=case.language, draft=p.draft,
                                  document_key=case.id)
                    for p in asked]  # fmt: skip
        for request in requests:
            self.core.add(request)
        results: dict[str, InfillResult] = {}
        while self.core.has_work():
            results.update({m.request_id: m for m in self.core.step() if isinstance(m, InfillResult)})
        answers: list[Answer | None] = []
        for request in requests:
            result = results.get(request.request_id)
            best = result.candidates[0] if result is not None and result.candidates else None
            answers.append(Answer(best.text, best.confidence) if best is not None else None)
        return answers

    def predict(self, case: Case) -> list[Edit]:
        asked = probes(case.text, case.cursor, case_hunks(case), self.plan)
        answers = self._answers(case, asked) if asked else []
        self.asked[case.id] = (asked, answers)
        return _edits(judge(case.text, asked, answers, self.plan))

    def judged(self, gate: float):
        """A predictor judging the answers ``predict`` already got at ``gate`` (it asks the engine only for a
        case ``predict`` did not see)."""
        plan = NextEditPlan(lines_before=self.plan.lines_before, lines_after=self.plan.lines_after,
                            max_probes=self.plan.max_probes, gate=gate, rewrite=self.plan.rewrite)

        def predict(case: Case) -> list[Edit]:
            if case.id not in self.asked:
                self.predict(case)
            asked, answers = self.asked[case.id]
            return _edits(judge(case.text, asked, answers, plan))

        return predict


def _edits(edits: list[TextEdit]) -> list[Edit]:
    return [Edit(e.start, e.end, e.text) for e in edits]
