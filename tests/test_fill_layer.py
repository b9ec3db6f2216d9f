"""The one fill layer: every caller plans a HolePlan and finishes fills with finish_fill."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

from engine.protocol import Candidate, InfillRequest, InfillResult
from infill_lsp.batch.holes import load_recipes, query_holes, recipe_query
from infill_lsp.batch.planning import FillSettings, judge_fill, plan_file
from infill_lsp.batch.sources import SourceFile
from infill_lsp.complete import fill_holes
from infill_lsp.docstrings import docstring_plan
from infill_lsp.documents import Document
from infill_lsp.fill import Fill, HolePlan, Rejected, finish_fill
from infill_lsp.languages import LanguageRegistry

REGISTRY = LanguageRegistry()
PYTHON = REGISTRY.get("python")
ROOT = Path(__file__).resolve().parent.parent


def test_no_second_clean_up_function_is_left():
    """Shaping and checking a fill happens in fill.finish_fill only: no caller keeps its own."""
    retired = {"clean_fill", "finish_edit", "clean_batch_fill"}
    found = []
    for package in ("infill_lsp", "engine", "infill_tools"):
        for path in ROOT.glob(f"{package}/**/*.py"):
            if "samples" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            functions = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
            found += [f"{path.name}:{n.name}" for n in functions if n.name in retired]
    assert found == []


def test_plan_renders_lead_fill_and_trail():
    plan = HolePlan(start=0, end=0, prefix="", suffix="", before="", after="", lead="<", trail=">",
                    trail_multiline="\n>")
    assert plan.render("a") == "<a>"
    assert plan.render("a\nb") == "<a\nb\n>"


def test_pinned_start_is_required():
    plan = HolePlan(start=0, end=0, prefix="x = ", suffix="\n", before="x = ", after="\n", pinned="foo",
                    single_line=True)
    assert finish_fill("bar", plan) == Rejected("the fill does not start with the text it was pinned to")
    assert finish_fill("foo(1)", plan) == Fill("foo(1)")


def test_control_characters_and_empty_fills_are_refused():
    plan = HolePlan(start=0, end=0, prefix="x = ", suffix="\n", before="x = ", after="\n", single_line=True)
    assert finish_fill("a\x07b", plan).reason == "the fill holds control characters"
    assert finish_fill("   ", plan).empty


def test_parse_damage_is_refused_with_the_reason_and_the_fill():
    text = "x = 1\n"
    plan = HolePlan(start=4, end=5, prefix="x = ", suffix="\n", before="x = ", after="\n", original="1",
                    single_line=True)
    outcome = finish_fill("(1", plan, PYTHON)
    assert isinstance(outcome, Rejected) and "does not parse" in outcome.reason and outcome.text == "(1"
    assert finish_fill("2", plan, PYTHON) == Fill("2")
    assert text  # the span the plan names: text[4:5] == "1"


def test_docstring_plan_is_shared_by_the_command_and_the_batch_recipe():
    text = "def add(a, b):\n    return a + b\n"
    source = SourceFile(path=Path("/w/m.py"), display="m.py", language="python", text=text, sha256="0" * 64,
                        mode=0o644)
    recipe = load_recipes()["missing_docstrings"]
    holes = query_holes(text, PYTHON.parse(text.encode()), recipe_query(PYTHON, recipe), recipe=recipe.name,
                        canvas=recipe.canvas, planner=recipe.planner)
    planned = plan_file(source, PYTHON, holes, FillSettings(), first_id=1).holes
    assert len(planned) == 1
    command = docstring_plan(text, text.index("("), language=PYTHON, tree=PYTHON.parse(text.encode()))
    assert (planned[0].plan.prefix, planned[0].plan.suffix) == (command.prefix, command.suffix)
    assert planned[0].request.prefix.endswith('    """') and planned[0].request.suffix.startswith('"""')
    # The model writes only the text; closing quotes it writes itself end the fill.
    record = judge_fill(planned[0], PYTHON, 'Return the sum of a and b."""\n    x = 1')
    assert record.status == "filled"
    assert record.fill == '    """Return the sum of a and b."""\n'
    assert text[: record.start] + record.fill + text[record.end :] == (
        'def add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n'
    )


class _ScriptedClient:
    """Answers each request with fixed candidates; remembers the requests."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.requests: list[InfillRequest] = []

    async def infill(self, request: InfillRequest, timeout: float) -> InfillResult:
        self.requests.append(request)
        texts = self.answers[len(self.requests) - 1]
        return InfillResult(request.request_id, tuple(Candidate(t) for t in texts), 0, forward_passes=1)


def test_infill_complete_plans_and_checks_holes_as_the_editor_does():
    text = "def mean(xs):\n    total = sum(<FILL>)\n    return total / len(xs)\n\n\nvalues = [<FILL>]\n"
    client = _ScriptedClient([["xs)"], ["1, 2)))"]])
    heard = []
    result = asyncio.run(
        fill_holes(client, text, "python", "<FILL>", 0, lambda i, fill, why, ms, res: heard.append((fill, why)))
    )
    # The first fill repeats the closer after the cursor: the editor replaces it. The second breaks the
    # parse: nothing is written, and the reason is reported.
    assert result.text == "def mean(xs):\n    total = sum(xs)\n    return total / len(xs)\n\n\nvalues = [<FILL>]\n"
    assert result.holes == 2 and result.left == (2,)
    assert heard[0] == ("xs)", "")
    assert heard[1][0] is None and "refused" in heard[1][1]
    # The request is the editor's: context cut and hole kind from the plan, a single-line canvas.
    first = client.requests[0]
    assert first.single_line and first.prefix.endswith("sum(") and first.suffix.startswith(")")
    document = Document("file:///w/m.py", text.replace("<FILL>", "", 1).replace("<FILL>", ""), language=PYTHON)
    assert document.completable


def test_a_fill_that_uses_a_name_defined_nowhere_is_refused():
    from infill_lsp.completion import plan_completion
    from infill_lsp.config import Settings
    from infill_lsp.positions import Position

    header = "import os\n" + "".join(f"# line {i}\n" for i in range(400))  # the import lies outside the window
    text = header + "def mean(xs):\n    return \n"
    document = Document("file:///w/m.py", text, language=PYTHON)
    settings = Settings(prefix_chars=400, cross_file_chars=100)
    plan = plan_completion(document, Position(text.count("\n") - 1, len("    return ")), settings, request_id="1")
    assert "import os" not in plan.hole.before  # so pyflakes alone would call os undefined
    made_up = finish_fill("sum(ys) / len(ys)", plan.hole, PYTHON)
    assert isinstance(made_up, Rejected) and made_up.reason == "the fill uses names defined nowhere: ys"
    assert finish_fill("sum(xs) / len(xs)", plan.hole, PYTHON) == Fill("sum(xs) / len(xs)")
    assert finish_fill("os.sep.join(xs)", plan.hole, PYTHON) == Fill("os.sep.join(xs)")  # in reach: imported


def test_candidates_are_ranked_by_the_pick_and_gated():
    from infill_lsp.fill import ranked

    a = Candidate("a", 0.9, likelihood=-3.0)
    b = Candidate("b", 0.6, likelihood=-0.5)
    c = Candidate("c", 0.2, likelihood=-1.0)
    assert [x.text for x in ranked([b, c, a])] == ["a", "b", "c"]
    assert [x.text for x in ranked([b, c, a], "likelihood")] == ["b", "c", "a"]
    assert [x.text for x in ranked([b, c, a], "confidence", 0.5)] == ["a", "b"]


def test_an_invoked_suggestion_offers_as_many_fills_as_invoked_candidates():
    """An invoked request denoises two canvas lengths, each with ``invokedCandidates`` canvases; the user
    cycles through ``invokedCandidates`` fills (the best ones), not through every canvas the engine ran."""
    from infill_lsp.completion import fills_from_result, plan_completion
    from infill_lsp.config import Settings
    from infill_lsp.fill_cache import AUTOMATIC, INVOKED
    from infill_lsp.positions import Position

    text = "def f(n):\n    return \n"
    document = Document("file:///w/f.py", text, language=PYTHON)
    texts = ["n", "n + 1", "n + 2", "n * 2", "n - 1", "-n"]
    result = InfillResult(1, tuple(Candidate(t, 0.9 - i / 10, likelihood=-i) for i, t in enumerate(texts)), 0)
    cases = (
        (INVOKED, Settings(invoked_candidates=3), 3),
        (INVOKED, Settings(invoked_candidates=1), 1),
        (AUTOMATIC, Settings(num_candidates=2), 2),
    )
    for mode, settings, shown in cases:
        plan = plan_completion(document, Position(1, len("    return ")), settings, request_id=1, mode=mode)
        fills = fills_from_result(result, plan, document, settings)
        assert [f.text for f in fills] == texts[:shown], (mode, settings)
    invoked = plan_completion(document, Position(1, 11), Settings(), request_id=1, mode=INVOKED)
    assert len(invoked.request.canvas_lengths) > 1


def test_batch_reports_a_fill_under_the_gate_instead_of_writing_it():
    text = "def add(a, b):\n    pass\n"
    source = SourceFile(path=Path("/w/m.py"), display="m.py", language="python", text=text, sha256="0" * 64,
                        mode=0o644)
    recipe = load_recipes()["todo_bodies"]
    holes = query_holes(text, PYTHON.parse(text.encode()), recipe_query(PYTHON, recipe), recipe=recipe.name)
    planned = plan_file(source, PYTHON, holes, FillSettings(), first_id=1).holes[0]
    assert judge_fill(planned, PYTHON, "return a + b", confidence=0.9, min_confidence=0.8).status == "filled"
    gated = judge_fill(planned, PYTHON, "return a + b", confidence=0.5, min_confidence=0.8)
    assert gated.status == "rejected" and gated.detail.startswith("under the gate") and gated.fill == "return a + b"


def test_a_name_only_a_docstring_mentions_is_not_in_reach():
    from infill_lsp.completion import plan_completion
    from infill_lsp.config import Settings
    from infill_lsp.positions import Position

    text = 'def is_prime(n):\n    """Return True if n is a prime number."""\n    for d in range(2, n):\n        \n'
    document = Document("file:///w/p.py", text, language=PYTHON)
    plan = plan_completion(document, Position(3, 8), Settings(), request_id="1")
    assert "a" not in plan.hole.known_names and "d" in plan.hole.known_names
    assert finish_fill("if a:", plan.hole, PYTHON).reason == "the fill uses names defined nowhere: a"
    assert finish_fill("if n % d == 0:", plan.hole, PYTHON) == Fill("if n % d == 0:")


def test_names_are_checked_in_a_window_that_starts_inside_a_block_and_ends_in_a_broken_one():
    from infill_lsp.complete import SAMPLE
    from infill_lsp.completion import plan_completion
    from infill_lsp.config import Settings

    before, after = SAMPLE.read_text().replace("<FILL>", "values[0]", 1).split("<FILL>", 1)
    text = before + after.replace("<FILL>", "")  # the last hole left empty: its block does not parse
    document = Document("file:///w/sample.py", text, language=PYTHON)
    settings = Settings(prefix_chars=300, cross_file_chars=100)
    plan = plan_completion(document, document.index.position(len(before)), settings, request_id="1")
    assert plan.hole.before.startswith(" ")  # the window starts inside a function
    assert finish_fill("a", plan.hole, PYTHON).reason == "the fill uses names defined nowhere: a"
    assert finish_fill("n % d == 0", plan.hole, PYTHON) == Fill("n % d == 0")
