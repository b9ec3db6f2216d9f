"""Context sources and the packer: the definition the cursor needs from a file never opened, similar
windows, recent edits, priorities within the budget, and a block that holds still along a line."""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_lsp.config import Settings
from infill_lsp.documents import Document, TextChange
from infill_lsp.languages import LanguageRegistry
from infill_lsp.positions import Position
from infill_lsp.retrieval.gather import context_block, gather
from infill_lsp.retrieval.packer import pack, write_block
from infill_lsp.retrieval.similar import best_window, query_words
from infill_lsp.retrieval.snippets import Snippet
from infill_lsp.workspace import WorkspaceIndex

REGISTRY = LanguageRegistry()
BILLING = '''"""Billing."""


def compute_invoice_total(items, tax_rate):
    # the sum of the items, with tax
    subtotal = sum(item.price for item in items)
    return round(subtotal * (1 + tax_rate), 2)


def refund(invoice):
    return -invoice.total
'''
OTHER_BILLING = "def compute_invoice_total():\n    raise NotImplementedError('the legacy one')\n"
MAIN = '''from shop.billing import compute_invoice_total


def checkout(cart):
    rate = 0.2
    total = compute_invoice_total(cart.items, rate)
    return total
'''


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "legacy").mkdir()
    (tmp_path / "shop" / "billing.py").write_text(BILLING)
    (tmp_path / "legacy" / "aaa.py").write_text(OTHER_BILLING)  # same name, earlier by path, not imported
    (tmp_path / "shop" / "main.py").write_text(MAIN)
    return tmp_path


def document(path: Path, text: str | None = None, language: str | None = "python") -> Document:
    return Document(path.as_uri(), path.read_text() if text is None else text, language=REGISTRY.get(language))


def relative_to(root: Path):
    return lambda path: Path(path).relative_to(root.resolve()).as_posix()


def cursor_at_end(doc: Document, line: int) -> int:
    return doc.index.offset(Position(line, len(doc.index.line_text(line))))


def test_the_definition_of_a_name_at_the_cursor_comes_from_a_file_never_opened(workspace: Path):
    index = WorkspaceIndex([workspace])
    index.build_now()
    main = document(workspace / "shop" / "main.py")
    packed, gathered = context_block(
        main, cursor_at_end(main, 6), [], Settings(), budget=1500, prefix_chars=4000, suffix_chars=1500,
        index=index, display=relative_to(workspace),
    )  # fmt: skip
    assert "# file: shop/billing.py\ndef compute_invoice_total(items, tax_rate):" in packed.block
    assert "NotImplementedError" not in packed.block  # the imported one wins over the earlier path
    assert "# the sum" not in packed.block  # comments are left out
    assert "refund" not in packed.block  # not used near the cursor
    [chosen] = packed.chosen
    assert chosen.source == "definitions" and "compute_invoice_total" in chosen.why and "imported" in chosen.why
    assert set(gathered.timings_ms) == {"definitions", "imports", "outlines", "recent", "similar"}


STORE = "class Store:\n" + "".join(
    f"    def op_{i}(self, key, value=None):\n        self.data[key] = value\n"
    f"        return self.data.get(key, {i})\n\n"
    for i in range(30)
)
CORE = "def is_json(mimetype):\n    return mimetype == 'application/json'\n\n\ndef parse_json(s):\n    return s\n"
TESTS = """import json
from shop import Store, make_store
from shop import core


def test_make():
    store = make_store()
    assert store


def test_json():
    assert core.parse_json("1") == "1"
    payload = json.dumps({})
    # the line a fill is asked for follows, after a few more
    x = 1
    y = 2
    z = 3
    w = 4

"""


@pytest.fixture
def far_workspace(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "shop" / "stock.py").write_text(STORE + "\n\ndef make_store():\n    return Store()\n")
    (tmp_path / "shop" / "core.py").write_text(CORE)
    (tmp_path / "other" / "aaa.py").write_text("def parse_json(s):\n    raise NotImplementedError\n\n\n"
                                               "class Store:\n    pass\n")  # same names, not imported
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shop.py").write_text(TESTS)
    return tmp_path


def test_what_the_file_imports_reaches_the_block_when_the_lines_around_the_cursor_do_not_name_it(far_workspace):
    """The cursor's line names nothing (a fill is about to write it): the imported names used elsewhere in the
    file, and the attributes of an imported module (core.parse_json), are looked up through their imports, a
    package's files included (``from shop import Store`` with Store in shop/stock.py); a long class is shown
    as its outline, so several definitions fit the block."""
    index = WorkspaceIndex([far_workspace])
    index.build_now()
    test = document(far_workspace / "tests" / "test_shop.py")
    packed, _ = context_block(test, len(test.text), [], Settings(context_similar=False), budget=1500,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(far_workspace))
    block = packed.block
    assert "class Store:\n    def op_0(self, key, value=None):\n        ...\n    def op_1(" in block  # the outline
    assert "self.data[key] = value" not in block and "    ..." in block
    assert "def make_store():" in block and "def parse_json(s):\n    return s" in block
    assert "NotImplementedError" not in block and "# file: other/aaa.py" not in block
    assert len(block) <= 1500
    whys = {s.why for s in packed.chosen}
    assert any("'parse_json'" in why and "imported" in why for why in whys)
    assert any("'make_store'" in why and "imported from its package" in why for why in whys)


def test_an_outline_keeps_a_short_definition_whole_and_a_long_ones_signatures():
    from infill_lsp.retrieval.outline import outline

    assert outline("def f(x):\n    return x\n", "def f(x):", 100) == "def f(x):\n    return x"
    rust = "impl Store {\n" + "".join(f"    pub fn op_{i}(&self) -> u32 {{\n        {i}\n    }}\n"
                                      for i in range(20)) + "}"
    shown = outline(rust, "impl Store {", 400, "// ...")
    assert shown.startswith("impl Store {\n    pub fn op_0(&self) -> u32 {\n        // ...\n")
    assert shown.endswith("}") and len(shown) <= 400 and "        0\n" not in shown
    fields = "class Plan:\n    request: Request\n    start: int = 0\n" + "    def run(self):\n        pass\n" * 40
    assert outline(fields, "class Plan:", 120, kind="class").startswith(
        "class Plan:\n    request: Request\n    start: int = 0\n    def run(self):\n        ...")
    lone = outline("x = [\n" + "    1,\n" * 400 + "]", "x = [", 200)
    assert lone.startswith("x = [\n    1,") and lone.endswith("    ...\n]") and len(lone) <= 200


def test_an_open_document_speaks_for_its_file(workspace: Path):
    index = WorkspaceIndex([workspace])
    index.build_now()
    live = document(workspace / "shop" / "billing.py", "def compute_invoice_total(items):\n    return 'live'\n")
    main = document(workspace / "shop" / "main.py")
    packed, _ = context_block(main, cursor_at_end(main, 6), [live], Settings(context_similar=False), budget=1500,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(workspace))
    assert "return 'live'" in packed.block and "tax_rate" not in packed.block


def test_sources_can_be_turned_off(workspace: Path):
    index = WorkspaceIndex([workspace])
    index.build_now()
    main = document(workspace / "shop" / "main.py")
    off = Settings(context_definitions=False, context_similar=False, context_recent=False)
    gathered = gather(main, cursor_at_end(main, 6), [], off, index=index)
    assert gathered.snippets == [] and gathered.timings_ms == {}


def test_the_block_is_the_same_for_every_cursor_on_a_line(workspace: Path):
    index = WorkspaceIndex([workspace])
    index.build_now()
    main = document(workspace / "shop" / "main.py")
    neighbour = document(workspace / "shop" / "cart.py", "def checkout_total(cart):\n    rate = 0.2\n" * 3)
    blocks = set()
    for character in range(len(main.index.line_text(5)) + 1):
        packed, _ = context_block(main, main.index.offset(Position(5, character)), [neighbour], Settings(),
                                  budget=1500, prefix_chars=4000, suffix_chars=1500, index=index)  # fmt: skip
        blocks.add(packed.block)
    assert len(blocks) == 1 and "compute_invoice_total" in blocks.pop()


def test_similar_windows_follow_the_code_before_the_cursor():
    words = [line.split() for line in ["alpha beta", "gamma", "x y z", "alpha beta gamma"]]
    window = best_window(words, {"alpha", "beta", "gamma"}, size=2)
    assert window is not None and (window.start, window.end) == (0, 2) and window.score == 1.0
    assert best_window(words, set()) is None
    lines = ["import os", "def f():", "    sock = open_socket(host, port)", "    cursor line"]
    assert query_words(lines, 3) == {"import", "os", "def", "f", "sock", "open_socket", "host", "port"}
    target = document(Path("/w/net/client.py"), "\n".join(lines[:3]) + "\n    \n")
    near = document(Path("/w/net/server.py"), "x = 1\n" * 100 + "def g():\n    sock = open_socket(host, port)\n")
    far = document(Path("/w/net/other.py"), "print('unrelated words entirely')\n")
    gathered = gather(target, len(target.text) - 1, [far, near], Settings(context_definitions=False))
    [similar] = [s for s in gathered.snippets if s.source == "similar"]
    assert similar.path == "server.py" and "open_socket(host, port)" in similar.text
    assert "similarity" in similar.why and similar.score > 0


def test_recent_edits_of_other_documents_are_a_source():
    target = document(Path("/w/a.py"), "x = 1\n")
    other = document(Path("/w/b.py"), "a = 1\nb = 2\n")
    other.apply([TextChange("c = 3\n", (Position(2, 0), Position(2, 0)))], 2)
    gathered = gather(target, 0, [other], Settings(context_similar=False))
    assert [(s.source, s.text) for s in gathered.snippets] == [("recent", "a = 1\nb = 2\nc = 3")]


def snippet(source: str, path: str, line: int, text: str) -> Snippet:
    return Snippet(source, path, line, line + text.count("\n"), text, "test")


def test_the_packer_fills_the_budget_by_priority_and_writes_in_file_order():
    low = snippet("similar", "a.py", 0, "low = 1\nlow = 2\nlow = 3")
    high = snippet("definitions", "z.py", 10, "def high():\n    return 1")
    mid = snippet("recent", "m.py", 3, "mid = 1")
    packed = pack([low, mid, high], budget=200, comment="#")
    assert [s.source for s in packed.chosen] == ["definitions", "recent", "similar"]
    assert packed.block == write_block(packed.chosen, "#")
    assert packed.block.index("# file: a.py") < packed.block.index("# file: m.py") < packed.block.index("# file: z.py")
    tight = pack([low, mid, high], budget=len("# file: z.py\n") + len(high.text) + 2 + 20, comment="#")
    assert [s.source for s in tight.chosen] == ["definitions"]  # what is left (20) holds no other whole
    assert len(tight.block) <= len("# file: z.py\n") + len(high.text) + 22
    assert {reason for _, reason in tight.dropped} == {"over the budget"}


def test_the_packer_drops_what_the_windows_show_and_repeats():
    shown = "def high():\n    return 1\n"
    high = snippet("definitions", "z.py", 10, "def high():\n    return 1")
    again = snippet("imports", "z.py", 10, "def high():\n    return 1")
    other = snippet("imports", "z.py", 20, "def other():\n    return 2")
    packed = pack([high, again, other], budget=500, comment="#", shown=shown)
    assert [s.line for s in packed.chosen] == [20]
    assert [r for _, r in packed.dropped] == ["the prefix or suffix window shows it"] * 2
    packed = pack([high, again, other], budget=500, comment="#")
    assert packed.block == "# file: z.py\ndef high():\n    return 1\n\ndef other():\n    return 2\n\n"
    assert [r for _, r in packed.dropped] == ["repeats a snippet already chosen"]
    assert pack([high], budget=0, comment="#").block == "" and pack([high], budget=500, comment="").block == ""


def test_the_context_measure_runs_on_a_generated_repository(tmp_path: Path):
    from infill_tools.context_bench import generate, measure

    generate(tmp_path, 6)
    figures = measure(tmp_path, 5)
    assert figures["files"] == 6 and figures["definitions"] == 6 * 9 and figures["requests"] == 5
    assert figures["retrieval_ms_p95"] is not None and figures["build_s_per_10k_lines"] > 0


def test_a_place_keeps_its_context_block_while_the_other_files_stay_as_they_were(monkeypatch):
    """A source cut short by its time budget may answer otherwise the next time; the completer gives one place
    the same block until another file or the index changes, so a warm-up and its fill share one prompt."""
    from infill_lsp import completer as completer_module
    from infill_lsp.completer import Completer
    from infill_lsp.retrieval.packer import Packed
    from infill_lsp.session import Session

    answers = iter(["# file: a.py\nfirst\n", "# file: a.py\nsecond\n", "# file: a.py\nthird\n"])
    monkeypatch.setattr(completer_module, "context_block",
                        lambda *a, **k: (Packed(block=next(answers)), None))  # fmt: skip
    session = Session()
    session.documents.open("file:///w/t.py", "x = 1\ny = \n", language_id="python", version=1)
    session.documents.open("file:///w/a.py", "def f(): ...\n", language_id="python", version=1)
    completer = Completer(session)
    target = session.documents.get("file:///w/t.py")
    budgets, budget = completer.budgets()
    first = completer.context(target, 10, budget, budgets).block
    assert completer.context(target, 8, budget, budgets).block == first  # the same line: the same block
    session.documents.change("file:///w/a.py", [], version=2)  # another file changed: asked again
    assert completer.context(target, 10, budget, budgets).block == "# file: a.py\nsecond\n"
    assert completer.context(target, 0, budget, budgets).block == "# file: a.py\nthird\n"  # another line


def test_locals_attributes_and_built_ins_do_not_pull_in_strangers_by_name(tmp_path: Path):
    """In a file that imports what it uses, a lower-case name it does not import (a local, a parameter, a
    built-in like ``str``) and an attribute (``self.session``) are not looked up by name across the workspace;
    a capitalized name still is (a type some languages import by namespace)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "helpers.py").write_text(
        "def document():\n    return 'a stranger'\n\n\ndef session():\n    return 'another'\n\n\n"
        "def str(x):\n    return 'shadowed'\n\n\nclass Widget:\n    size = 1\n")
    main = tmp_path / "app" / "main.py"
    main.write_text("import json\n\n\ndef handle(document):\n    self.session = str(document)\n"
                    "    w = Widget()\n    return json.dumps(w)\n")
    index = WorkspaceIndex([tmp_path])
    index.build_now()
    doc = document(main)
    packed, _ = context_block(doc, cursor_at_end(doc, 5), [], Settings(context_similar=False), budget=1500,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(tmp_path))
    assert "class Widget:" in packed.block
    assert "stranger" not in packed.block and "another" not in packed.block and "shadowed" not in packed.block


GEOMETRY = """import math


def area_of_circle(radius):
    return math.pi * radius ** 2


def _scale(value, factor):
    return value * factor


class Polygon:
    def __init__(self, points):
        self.points = points


def perimeter(points):
    return sum(1 for _ in points)
"""
REPORT = """from shapes import geometry


def describe(circle_radius, points):
    label = "shape"

    return label
"""


def test_an_imported_module_that_is_not_open_is_shown_as_its_outline(tmp_path: Path):
    """The line being written is the only one that would name ``geometry.area_of_circle``: the module the file
    imports is given as the first lines of its definitions, those sharing words with the lines around the cursor
    first (``circle``), then the public ones, then the rest; an open module from its live text; never the
    document's own file."""
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "geometry.py").write_text(GEOMETRY)
    (tmp_path / "report.py").write_text(REPORT)
    index = WorkspaceIndex([tmp_path])
    index.build_now()
    assert [path for path, _ in index.module_files("geometry", "python")] == [
        str((tmp_path / "shapes" / "geometry.py").resolve())]
    assert index.module_files("shapes", "python") and not index.module_files("geometry", "rust")
    report = document(tmp_path / "report.py")
    settings = Settings(context_similar=False, context_recent=False)
    packed, gathered = context_block(report, cursor_at_end(report, 5), [], settings, budget=1500, prefix_chars=4000,
                                     suffix_chars=1500, index=index, display=relative_to(tmp_path))
    outlines = [s for s in packed.chosen if s.source == "outlines"]
    assert [s.path for s in outlines] == ["shapes/geometry.py"]
    assert outlines[0].text.split("\n") == ["def area_of_circle(radius):", "class Polygon:", "def perimeter(points):",
                                            "def _scale(value, factor):"]
    assert "outline of module 'geometry'" in outlines[0].why and "return math.pi" not in packed.block
    # Open, the module is outlined from its live text (and the imports source adds its definitions whole).
    geometry = document(tmp_path / "shapes" / "geometry.py", GEOMETRY + "\n\ndef volume_of_sphere(radius):\n"
                        "    return 4 / 3 * math.pi * radius ** 3\n")
    packed, _ = context_block(report, cursor_at_end(report, 5), [geometry], settings, budget=200,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(tmp_path))
    [outline] = [s for s in packed.chosen if s.source == "outlines"]
    assert "def volume_of_sphere(radius):" in outline.text.split("\n")
    # With room for every definition whole, the outline would only repeat their first lines: left out.
    packed, _ = context_block(report, cursor_at_end(report, 5), [geometry], settings, budget=1500,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(tmp_path))
    assert not [s for s in packed.chosen if s.source == "outlines"]
    assert "return math.pi * radius ** 2" in packed.block and "return 4 / 3 * math.pi" in packed.block
    # Renamed away, the module is no longer offered.
    (tmp_path / "shapes" / "geometry.py").rename(tmp_path / "shapes" / "shapes_old.py")
    index.refresh_now(tmp_path / "shapes" / "geometry.py")
    assert not index.module_files("geometry", "python")


def test_modules_used_nearest_the_cursor_are_outlined_first():
    from infill_lsp.retrieval.modules import imported_modules, module_outlines, subwords

    lines = ["import far, near, unused", "", "x = far.thing()", *[""] * 10, "y = near.other()", "", "z = 1"]
    ranked = imported_modules(["far", "near", "unused", "x"], lines, line=15, import_rows=frozenset({0}))
    assert [(m.word, m.distance) for m in ranked] == [("near", 2), ("far", 13), ("unused", 201)]
    assert subwords("parse_URLQuery2") == {"parse", "url", "query", "2"} and subwords("parseUrl") == {"parse", "url"}
    files = {"near": [("/w/near.py", ())], "far": [("/w/far.py", _definitions("/w/far.py", "thing"))],
             "unused": [("/w/unused.py", _definitions("/w/unused.py", "helper"))]}
    snippets = module_outlines(["far", "near", "unused"], lines, 15, frozenset({0}), lambda w: files.get(w, []),
                               skip={"/w/unused.py"}, display=str)
    assert [s.path for s in snippets] == ["/w/far.py"]  # near.py defines nothing, unused.py is skipped


def _definitions(path: str, *names: str):
    from infill_lsp.workspace.definitions import Definition

    return tuple(Definition(n, "function", f"def {n}():", path, i * 3, i * 3 + 1, f"def {n}():\n    pass")
                 for i, n in enumerate(names))


def test_an_outline_neither_blocks_nor_is_blocked_by_the_definitions_it_lists():
    outline = Snippet("outlines", "shop/core.py", 0, 0, "def is_json(mimetype):\ndef parse_json(s):", "outline")
    body = Snippet("used", "shop/core.py", 0, 4, "def is_json(mimetype):\n    return mimetype == 'json'", "used")
    other = Snippet("used", "shop/core.py", 1, 4, "def is_json(mimetype):\n    return mimetype == 'json'", "again")
    packed = pack([body, outline, other], budget=1000, comment="#")
    assert [s.why for s in packed.chosen] == ["outline", "used"]  # by priority; the repeat of a body is dropped
    assert [why for _, why in packed.dropped] == ["repeats a snippet already chosen"]
    assert packed.block.index("def parse_json(s):") < packed.block.index("    return mimetype")


def test_a_name_imported_from_a_module_is_not_taken_for_a_file_of_that_name_capitalized(tmp_path: Path):
    """``from app.config import Settings`` imports a class: settings.py elsewhere is not its module (a capitalized
    module name is OCaml's ``open Bi_share``, an import of a module, not of a name)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.py").write_text("class Settings:\n    debug = False\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "settings.py").write_text("def unrelated():\n    return 1\n")
    (tmp_path / "main.py").write_text("from app.config import Settings\n\n\ndef run():\n    s = Settings()\n\n")
    index = WorkspaceIndex([tmp_path])
    index.build_now()
    main = document(tmp_path / "main.py")
    packed, _ = context_block(main, cursor_at_end(main, 5), [], Settings(context_similar=False), budget=1500,
                              prefix_chars=4000, suffix_chars=1500, index=index, display=relative_to(tmp_path))
    assert "tools/settings.py" not in packed.block and "def unrelated" not in packed.block
    assert not [s for s in packed.chosen if s.source == "outlines"]
    assert "# file: app/config.py\nclass Settings:" in packed.block  # the name itself, from its module


def test_an_outline_whose_definitions_are_all_shown_whole_is_left_out():
    outline = Snippet("outlines", "util.py", 0, 0, "def tool():", "outline")
    whole = Snippet("imports", "util.py", 0, 1, "def tool():\n    return 1", "imported")
    packed = pack([outline, whole], budget=1000, comment="#")
    assert packed.block == "# file: util.py\ndef tool():\n    return 1\n\n"
    assert [why for _, why in packed.dropped] == ["the definitions it lists are shown whole"]


def test_a_go_import_path_is_not_a_use_of_its_package():
    """Go imports packages by path only: the path's line names the package but does not use it, so a package
    used nowhere else ranks as unused, after one used far from the cursor."""
    from infill_lsp.retrieval.modules import imported_modules
    from infill_lsp.workspace.definitions import import_sources, imports_in

    go = LanguageRegistry().get("go")
    assert go is not None
    text = ('package main\n\nimport (\n\t"example.com/shop/billing"\n\t"example.com/shop/geo"\n)\n\n'
            "func main() {\n\tgeo.Distance(1, 2)\n" + "\t_ = 1\n" * 30 + "\t\n}\n")
    tree = go.parse(text.encode())
    _, rows = import_sources(go, tree)
    assert {2, 3, 4, 5} <= rows
    _, modules = imports_in(go, tree)
    lines = text.split("\n")
    ranked = imported_modules(modules, lines, line=len(lines) - 3, import_rows=rows)
    assert [(m.word, m.distance > 200) for m in ranked] == [("geo", False), ("billing", True)]
