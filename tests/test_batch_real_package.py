"""infill batch on real code: every recipe finds its holes in a checked-in copy of requests (tests/vendor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_lsp.batch.holes import Hole, load_recipes, without_overlaps
from infill_lsp.batch.run import BatchConfig, HoleFinder
from infill_lsp.batch.sources import SourceFile, find_files, read_source, resolve_roots
from infill_lsp.languages import LanguageRegistry

PACKAGE = Path(__file__).parent / "vendor" / "requests"  # requests 2.34.2, Apache-2.0 (see its README.md)
REGISTRY = LanguageRegistry()
RECIPES = sorted(load_recipes())


@pytest.fixture(scope="module")
def sources() -> list[SourceFile]:
    """The package's files, found and read the way `infill batch` finds and reads them."""
    roots, skipped = resolve_roots((str(PACKAGE),))
    found, refused = find_files(roots, lambda path: REGISTRY.name_for("", path.as_uri()))
    assert not skipped and not refused
    read = [read_source(path, language, max_bytes=1 << 20) for path, language in found]
    assert all(isinstance(source, SourceFile) for source in read), read
    return read


def find_holes(sources: list[SourceFile], recipe: str) -> dict[str, tuple[SourceFile, list[Hole]]]:
    """Each file's holes for ``recipe``, by file name; a file that cannot be processed fails the test."""
    finder = HoleFinder(BatchConfig(paths=(str(PACKAGE),), recipes=(recipe,)))
    found = {}
    for source in sources:
        holes = finder.find(source, REGISTRY.get(source.language))
        assert isinstance(holes, list), f"{source.display}: {holes}"
        found[source.path.name] = (source, holes)
    return found


def test_the_package_is_read_whole(sources):
    languages = {s.path.name: s.language for s in sources}
    assert len(sources) == 20 and languages.pop("README.md") == "markdown"  # a document, found too
    assert set(languages.values()) == {"python"}
    assert {s.path.name for s in sources} >= {"adapters.py", "models.py", "sessions.py", "utils.py"}


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_finds_holes_inside_their_files(sources, recipe):
    found = find_holes(sources, recipe)
    total = 0
    for name, (source, holes) in found.items():
        for hole in holes:
            assert 0 <= hole.start <= hole.end <= len(source.text), (name, hole)
            assert hole.recipe == recipe
            if hole.start == hole.end:  # an insert lands at the start of a statement
                assert not source.text[hole.start].isspace(), (name, hole)
            else:  # a replacement covers whole statements
                assert source.text[hole.start : hole.end].strip() == source.text[hole.start : hole.end]
        kept, dropped = without_overlaps(holes)
        assert not dropped and len(kept) == len(holes), name
        total += len(holes)
    assert total > 0, f"{recipe} found nothing in requests"


def _lines(found: dict[str, tuple[SourceFile, list[Hole]]]) -> set[tuple[str, int, str]]:
    return {
        (name, source.text.count("\n", 0, hole.start) + 1, source.text[hole.start : hole.end].split("(")[0])
        for name, (source, holes) in found.items()
        for hole in holes
    }


def test_todo_bodies_are_the_stubs_not_the_overloads_or_protocols(sources):
    # Not AuthBase.__call__ ("Auth hooks must be callable.") nor MockRequest.add_header ("Cookie headers
    # should be added with ..."): a raise with a specific message is deliberate.
    assert _lines(find_holes(sources, "todo_bodies")) == {
        ("adapters.py", 151, "raise NotImplementedError"),  # BaseAdapter.send: docstring, then raise
        ("adapters.py", 155, "raise NotImplementedError"),  # BaseAdapter.close
        ("adapters.py", 611, "pass"),  # HTTPAdapter.add_headers: docstring, then pass
        ("sessions.py", 132, "..."),  # SessionRedirectMixin.send, declared for type checkers
    }


def _overload_spans(source: SourceFile) -> list[tuple[int, int]]:
    """Character spans of the @overload-decorated definitions, by walking the tree (not by a query)."""
    data = source.text.encode()
    spans, stack = [], [REGISTRY.get("python").parse(data).root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        decorators = [c.text.decode() for c in node.children if c.type == "decorator"]
        if node.type == "decorated_definition" and any(d.endswith("overload") for d in decorators):
            spans.append((len(data[: node.start_byte].decode()), len(data[: node.end_byte].decode())))
    return spans


def test_missing_docstrings_skip_overloads_and_documented_functions(sources):
    found = find_holes(sources, "missing_docstrings")
    assert sum(len(holes) for _, holes in found.values()) > 50
    overloads = 0
    for source, holes in found.values():
        spans = _overload_spans(source)
        overloads += len(spans)
        assert not [h for h in holes if any(low <= h.start < high for low, high in spans)], source.display
    assert overloads >= 10
    adapters, holes = found["adapters.py"]
    send = adapters.text.index("    def send(")
    assert not [h for h in holes if send < h.start < send + 1200]  # BaseAdapter.send has a docstring


def test_recipes_fill_real_code_and_most_fills_pass_the_checks(tmp_path, capsys):
    """Through the engine with the embedded model: docstring holes are planned as infill.writeDocstring
    plans them (quotes and indentation outside the hole), so the model writes only the text and most
    fills pass the fill layer's checks (before, every docstring fill opened quotes it never closed)."""
    import json

    from infill_lsp.batch import cli

    for name in ("adapters.py", "auth.py"):
        (tmp_path / name).write_text((PACKAGE / name).read_text())
    code = cli.main([str(tmp_path), "--recipe", "all", "--steps", "3", "--limit", "12", "--no-journal",
                     "--json", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    holes = [h for f in report["files"] for h in f["holes"] if h["status"] != "pending"]
    assert code == 0 and len(holes) == 12
    by_recipe: dict[str, list[str]] = {}
    for hole in holes:
        by_recipe.setdefault(hole["recipe"], []).append(hole["status"])
    assert set(by_recipe) == {"missing_docstrings", "todo_bodies"}
    docstrings = by_recipe["missing_docstrings"]
    answered = [s for s in docstrings if s != "empty"]
    assert answered and answered.count("filled") >= 0.75 * len(answered), docstrings
    for hole in holes:
        if hole["status"] == "filled" and hole["recipe"] == "missing_docstrings":
            assert hole["fill"].lstrip().startswith('"""') and hole["fill"].rstrip().endswith('"""'), hole


IDNA = Path(__file__).parent / "vendor" / "idna"  # idna 3.21's compat.py, BSD-3-Clause (see its README.md)
TODO_STUBS = '''\
def bare(x):
    raise NotImplementedError


def passes(x):
    pass


def ellipsis(x):
    ...


def commented(x):
    pass  # TODO
'''


class _EchoClient:
    """An engine client that fills every hole with one statement."""

    async def start(self):
        from engine.protocol import Welcome

        return Welcome(1, "echo", "cpu", "none", trained=False)

    async def infill(self, request, on_partial=None, timeout=None):
        from engine.protocol import Candidate, FinishReason, InfillResult

        return InfillResult(request.request_id, (Candidate("return x", 0.9, 3, 64),), int(FinishReason.CONVERGED))

    async def cancel(self, request_id: int) -> None:
        pass

    async def close(self) -> None:
        pass


def test_idna_nameprep_documented_raise_is_not_a_hole_but_todo_stubs_are(tmp_path, monkeypatch, capsys):
    """The default recipe left idna's nameprep alone ("raise NotImplementedError" with a specific message,
    documented ":raises NotImplementedError: Always."): before, a dry run planned to replace it by a fill."""
    import json

    from infill_lsp.batch import cli
    from infill_lsp.batch.driving import LocalWaveRunner

    async def runner():
        client = _EchoClient()
        return LocalWaveRunner(client, 10.0), "echo", client.close

    compat = tmp_path / "compat.py"
    compat.write_text((IDNA / "compat.py").read_text())
    (tmp_path / "stubs.py").write_text(TODO_STUBS)
    monkeypatch.setattr(cli, "local_runner_factory", lambda args: runner)
    code = cli.main([str(tmp_path), "--json", "--no-journal", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["dry_run"] is True
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert "compat.py" not in files or not files["compat.py"]["holes"], files.get("compat.py")
    stub_holes = files["stubs.py"]["holes"]
    assert len(stub_holes) == 4 and all(h["status"] == "filled" for h in stub_holes), stub_holes
    assert compat.read_text() == (IDNA / "compat.py").read_text()
