"""Java, C, C++, C#, Kotlin and Swift: each loads from its table row and works on a real file.

For every language: a vendored, permissively licensed source file (tests/vendor/languages/) parses
cleanly; its hole, function, import and definition queries find its parts; the context around a
statement is cut at syntax boundaries; the statement, removed and offered back as a fill, passes the
fill layer and the file parses again; a broken fill is refused. The todo_bodies recipe finds placeholder
stubs and leaves deliberate throws alone. No query raises on random bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infill_lsp.batch.holes import load_recipes, query_holes, recipe_query, without_overlaps
from infill_lsp.completion import plan_completion
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, HoleKind, build_context, classify_hole
from infill_lsp.crossfile import imported
from infill_lsp.documents import Document
from infill_lsp.fill import Fill, Rejected, finish_fill
from infill_lsp.languages import LanguageRegistry
from infill_lsp.syntax import captures, enclosing_function, node_text

REGISTRY = LanguageRegistry()
VENDOR = Path(__file__).parent / "vendor" / "languages"


@dataclass(frozen=True, slots=True)
class Case:
    """A language's real file and what its queries must find there."""

    file: str  # under tests/vendor/languages/
    language_id: str  # the editor's language id
    statement: str  # a statement of the file (unique in it), removed and filled back
    function: str  # the function around that statement
    imported: str  # a name (or a module's stem) the file imports
    defined: str  # a top-level definition of the file
    stubs: str  # a source with placeholder bodies and deliberate ones
    stub_holes: tuple[str, ...]  # what the todo_bodies recipe replaces in ``stubs``


JAVA_STUBS = """\
class A {
    int f() {
        throw new UnsupportedOperationException("TODO");
    }
    int g() {
        throw new UnsupportedOperationException("Not supported yet."); // generated
    }
    A() {
        // TODO: wire the pool
    }
    void h() {
        throw new org.apache.commons.lang3.NotImplementedException();
    }
    public boolean add(Object o) {
        throw new UnsupportedOperationException();
    }
    void i() {
        throw new UnsupportedOperationException("remove is not supported by this view");
    }
    void j() {
        // TODO: check
        run();
    }
    abstract void k();
}
"""

C_STUBS = """\
int f(void) {
    /* TODO */
}

void g(int x) {
    assert(0 && "not implemented");
}

void h(int x) {
    assert(!"TODO: h");
}

void i(int x) {
    assert(0 && "i takes no negative x");
}

void j(int x) {
    // TODO: faster
    run(x);
}
"""

CPP_STUBS = """\
int A::f() const {
    throw std::logic_error("not implemented");
}

void A::g() {
    throw std::runtime_error("TODO: g"); // later
}

void h() {
    // TODO
}

void B::i() {
    throw NotImplementedException();
}

void j() {
    throw std::logic_error("j needs a positive size");
}

void k() {
    assert(!"TODO");
}
"""

CSHARP_STUBS = """\
class A
{
    public int F()
    {
        throw new NotImplementedException();
    }

    public void G() { throw new System.NotImplementedException("TODO: G"); }

    public int H => throw new NotImplementedException();

    public A()
    {
        // TODO wire up
    }

    public void I() { throw new NotImplementedException("Use J on this platform"); }

    public void K() { throw new NotSupportedException(); }
}
"""

KOTLIN_STUBS = """\
class A {
    fun f(): Int {
        TODO()
    }

    fun g(x: Int): String = TODO("Not yet implemented")

    fun h() {
        // TODO: call the service
    }

    fun i() {
        // TODO: faster
        run()
    }

    fun j(): Int = todo()
}
"""

SWIFT_STUBS = """\
class A {
    func f() -> Int {
        fatalError("TODO")
    }

    func g() {
        // TODO: load the cache
    }

    required init?(coder: NSCoder) {
        fatalError("init(coder:) has not been implemented")
    }

    func h() {
        fatalError("unreachable: h is only called after setup")
    }
}

func i(x: Int) -> String {
    fatalError("Not implemented yet")
}
"""

CASES = {
    "java": Case(
        file="java/JPypeReferenceSet.java",
        language_id="java",
        statement="pools.get(ref.pool).remove(ref);",
        function="remove",
        imported="ArrayList",
        defined="JPypeReferenceSet",
        stubs=JAVA_STUBS,
        stub_holes=(
            'throw new UnsupportedOperationException("TODO");',
            'throw new UnsupportedOperationException("Not supported yet.");',
            "// TODO: wire the pool",
            "throw new org.apache.commons.lang3.NotImplementedException();",
        ),
    ),
    "c": Case(
        file="c/heap.c",
        language_id="c",
        statement='fun = dlsym(handle, "mallinfo2");',
        function="psutil_heap_info",
        imported="init",
        defined="psutil_heap_info",
        stubs=C_STUBS,
        stub_holes=("/* TODO */", 'assert(0 && "not implemented");', 'assert(!"TODO: h");'),
    ),
    "cpp": Case(
        file="cpp/jp_stringtype.cpp",
        language_id="cpp",
        statement="stringConversion->getInfo(this, info);",
        function="JPStringType::getConversionInfo",
        imported="jp_stringtype",
        defined="JPStringType::newInstance",
        stubs=CPP_STUBS,
        stub_holes=(
            'throw std::logic_error("not implemented");',
            'throw std::runtime_error("TODO: g");',
            "// TODO",
            "throw NotImplementedException();",
            'assert(!"TODO");',
        ),
    ),
    "csharp": Case(
        file="csharp/EncoderGroup.cs",
        language_id="csharp",
        statement="this.encoders.Add(item);",
        function="Add",
        imported="Linq",
        defined="EncoderGroupExtensions",
        stubs=CSHARP_STUBS,
        stub_holes=(
            "throw new NotImplementedException();",
            'throw new System.NotImplementedException("TODO: G");',
            "throw new NotImplementedException()",
            "// TODO wire up",
        ),
    ),
    "kotlin": Case(
        file="kotlin/HapticsModule.kt",
        language_id="kotlin",
        statement="vibrator.vibrate(VibrationEffect.createWaveform(type.timings, type.amplitudes, -1))",
        function="vibrate",
        imported="VibrationEffect",
        defined="HapticsModule",
        stubs=KOTLIN_STUBS,
        stub_holes=("TODO()", 'TODO("Not yet implemented")', "// TODO: call the service"),
    ),
    "swift": Case(
        file="swift/HapticsModule.swift",
        language_id="swift",
        statement="generator.notificationOccurred(notificationType.toFeedbackType())",
        function="definition",
        imported="ExpoModulesCore",
        defined="HapticsModule",
        stubs=SWIFT_STUBS,
        stub_holes=('fatalError("TODO")', "// TODO: load the cache", 'fatalError("Not implemented yet")'),
    ),
}


def _support(name: str):
    support = REGISTRY.get(name)
    assert support is not None, REGISTRY.failures()
    return support


def _real(name: str) -> str:
    return (VENDOR / CASES[name].file).read_text(encoding="utf-8")


def _names(query: tree_sitter.Query | None, tree: tree_sitter.Tree, capture: str = "name") -> set[str]:
    assert query is not None
    return {node_text(n) for n in captures(query, tree.root_node).get(capture, [])}


@pytest.mark.parametrize("name", sorted(CASES))
def test_language_loads_from_its_table_row(name):
    case = CASES[name]
    support = _support(name)
    assert REGISTRY.name_for(case.language_id) == name
    assert REGISTRY.name_for("plaintext", f"file:///src/{Path(case.file).name}") == name
    assert support.entry.model_tag == "text" and support.entry.corpus_extensions == ()
    assert None not in (support.functions, support.imports, support.definitions)
    assert recipe_query(support, load_recipes()["todo_bodies"]) is not None


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_real_file_parses_and_its_queries_find_its_parts(name):
    case, support, text = CASES[name], _support(name), _real(name)
    tree = support.parse(text.encode())
    assert not tree.root_node.has_error
    holes = captures(support.holes, tree.root_node)
    assert {"block", "arguments"} <= set(holes) and len(holes) >= 3, sorted(holes)
    assert len(captures(support.boundaries, tree.root_node)["boundary"]) >= 10
    assert case.function in _names(support.functions, tree)
    names, modules = imported(Document(f"file:///src/{Path(case.file).name}", text, language=support))
    assert case.imported in names | modules
    assert case.defined in _names(support.definitions, tree)
    at = text.index(case.statement)
    function = enclosing_function(support, tree, text, at)
    assert function is not None and function.name == case.function
    # Inside the statement's first argument list, then on a blank line before it.
    call = at + case.statement.index("(") + 1
    assert classify_hole(text, call, support, tree) is HoleKind.ARGUMENTS
    line_start = text.rfind("\n", 0, at) + 1
    blank = text[:line_start] + "\n" + text[line_start:]
    kind = classify_hole(blank, line_start, support, support.parse(blank.encode()))
    assert kind in (HoleKind.STATEMENT, HoleKind.BLOCK)  # BLOCK: the statement opens its block


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_context_around_a_statement_is_cut_at_syntax_boundaries(name):
    case, support, text = CASES[name], _support(name), _real(name)
    tree = support.parse(text.encode())
    cursor = text.index(case.statement)
    budgets = Budgets(prefix_chars=min(cursor - 1, 600), suffix_chars=min(len(text) - cursor - 1, 300))
    ctx = build_context(text, cursor, language=support, tree=tree, budgets=budgets, grid_share=0)
    nodes = captures(support.boundaries, tree.root_node)["boundary"]
    starts = {n.start_byte for n in nodes} | {text.rfind("\n", 0, n.start_byte) + 1 for n in nodes}
    ends = {n.end_byte for n in nodes} | {text.find("\n", n.end_byte) for n in nodes}
    assert 0 < ctx.prefix_start < cursor and ctx.prefix_start in starts
    assert cursor < ctx.suffix_end < len(text) and ctx.suffix_end in ends


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_statement_filled_back_passes_the_fill_layer_and_the_file_parses(name):
    case, support, text = CASES[name], _support(name), _real(name)
    at = text.index(case.statement)
    holed = text[:at] + text[at + len(case.statement) :]
    document = Document(f"file:///src/{Path(case.file).name}", holed, language=support)
    plan = plan_completion(document, document.index.position(at), Settings(), request_id="r1")
    fill = finish_fill(case.statement, plan.hole, support)
    assert isinstance(fill, Fill), fill
    spliced = holed[:at] + fill.text + holed[at + fill.replaces :]
    assert spliced == text
    assert not support.parse(spliced.encode()).root_node.has_error
    cut = case.statement.rindex(")")
    broken = finish_fill(case.statement[:cut] + case.statement[cut + 1 :], plan.hole, support)
    assert isinstance(broken, Rejected) and "does not parse" in broken.reason


@pytest.mark.parametrize("name", sorted(CASES))
def test_todo_bodies_finds_placeholder_stubs_not_deliberate_throws(name):
    case, support = CASES[name], _support(name)
    recipe = load_recipes()["todo_bodies"]
    query = recipe_query(support, recipe)
    assert query is not None
    tree = support.parse(case.stubs.encode())
    holes, _ = without_overlaps(query_holes(case.stubs, tree, query, recipe=recipe.name))
    assert [case.stubs[h.start : h.end] for h in holes] == list(case.stub_holes)
    real = _real(name)
    assert query_holes(real, support.parse(real.encode()), query, recipe=recipe.name) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), cursor=st.integers(min_value=0, max_value=300))
def test_no_query_raises_on_random_bytes(data, cursor):
    text = data.decode("utf-8", "replace")
    cursor = min(cursor, len(text))
    recipe = load_recipes()["todo_bodies"]
    for name in CASES:
        support = _support(name)
        tree = support.parse(text.encode("utf-8", "surrogatepass"))
        queries = (support.boundaries, support.holes, support.functions, support.imports, support.definitions)
        for query in (*queries, recipe_query(support, recipe)):
            assert query is not None
            captures(query, tree.root_node)
        build_context(text, cursor, language=support, tree=tree, budgets=Budgets(prefix_chars=50, suffix_chars=50))
        enclosing_function(support, tree, text, cursor)
