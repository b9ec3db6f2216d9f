"""Scala, OCaml, Julia, Zig and Solidity: each loads from its table row and works on a real file.

For every language: a vendored, permissively licensed source file (tests/vendor/languages/) parses
cleanly; its hole, function, import and definition queries find its parts; the context around a
statement is cut at syntax boundaries; the statement, removed and offered back as a fill, passes the
fill layer and the file parses again; a broken fill is refused. The todo_bodies recipe finds placeholder
bodies and leaves deliberate ones alone. No query raises on random bytes.
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
from infill_lsp.retrieval.gather import gather
from infill_lsp.syntax import captures, enclosing_function, node_text

REGISTRY = LanguageRegistry()
VENDOR = Path(__file__).parent / "vendor" / "languages"


@dataclass(frozen=True, slots=True)
class Case:
    """A language's real file and what its queries must find there."""

    file: str  # under tests/vendor/languages/
    language_id: str  # the editor's language id
    statement: str  # a statement of the file (unique in it) holding a call: removed and filled back
    function: str  # the function around that statement
    imported: str  # a name (or a module's stem) the file imports
    defined: str  # a top-level definition of the file
    stubs: str  # a source with placeholder bodies and deliberate ones
    stub_holes: tuple[str, ...]  # what the todo_bodies recipe replaces in ``stubs``
    not_imported: tuple[str, ...] = ()  # names ``stubs`` mentions in an import without importing them


SCALA_STUBS = """\
import a.b.{C, D => E, F => _}
import x.y._

object A {
  def f(x: Int): Int = ???

  def g: String = {
    ???
  }

  def h(): Unit = {
    // TODO: write h
  }

  def i(): Int = throw new NotImplementedError("TODO")

  def j(): Int = {
    throw new UnsupportedOperationException("not implemented")
  }

  def k(): Int = throw new IllegalStateException("k runs after start only")

  def l(): Unit = {
    // TODO: faster
    run()
  }

  def m(): Int = throw new NotImplementedError
}
"""

OCAML_STUBS = """\
let f x = failwith "TODO"

let g () = failwith "not implemented"

let h x = raise (Failure "TODO: h")

let k x = failwith "k needs a positive x"

let l x =
  if x < 0 then failwith "TODO" else x
"""

JULIA_STUBS = """\
f(x) = error("TODO")

function g(x)
    error("not implemented")
end

function h()
    # TODO: read the cache
end

function k(x)
    throw(ErrorException("TODO: k"))
end

function l(x)
    error("l needs a positive x")
end

m(x) = error("m is undefined for strings")

function n(x)
    # TODO: faster
    run(x)
end
"""

ZIG_STUBS = """\
const std = @import("std");

pub fn f(a: u32) u32 {
    @panic("TODO");
}

fn g() void {
    // TODO: write g
}

fn h(x: i32, y: i32) i32 {
    _ = x;
    _ = y;
    @panic("not implemented");
}

fn k(x: i32) i32 {
    const z = x;
    @panic("TODO");
}

fn m() void {
    @panic("m is only for tests");
}
"""

SOLIDITY_STUBS = """\
pragma solidity ^0.8.0;

import {Ownable, Context as C} from "./Ownable.sol";

contract K {
    function f(uint256 a) public returns (uint256) {
        revert("TODO");
    }

    function g() external {
        // TODO: pay out
    }

    function h() external {
        revert("not implemented");
    }

    function k() external {
        revert("K: only the owner may call k");
    }

    function l() external {
        // TODO: cheaper
        run();
    }
}
"""

CASES = {
    "scala": Case(
        file="scala/PathResolver.scala",
        language_id="scala",
        statement="val pr = new PathResolver(settings)",
        function="main",
        imported="Settings",
        defined="PathResolver",
        stubs=SCALA_STUBS,
        stub_holes=(
            "???",
            "???",
            "// TODO: write h",
            'throw new NotImplementedError("TODO")',
            'throw new UnsupportedOperationException("not implemented")',
            "throw new NotImplementedError",
        ),
        not_imported=("F", "E", "y"),
    ),
    "ocaml": Case(
        file="ocaml/bi_outbuf.ml",
        language_id="ocaml",
        statement="abstract_output (Bytes.to_string b.o_s) 0 b.o_len;",
        function="flush_to_output",
        imported="Bi_share",
        defined="really_extend",
        stubs=OCAML_STUBS,
        stub_holes=('failwith "TODO"', 'failwith "not implemented"', 'raise (Failure "TODO: h")'),
    ),
    "julia": Case(
        file="julia/customdocs.jl",
        language_id="julia",
        statement="push!(docsnodes, docsnode)",
        function="runner",
        imported="Documenter",
        defined="_parse_docs",
        stubs=JULIA_STUBS,
        stub_holes=(
            'error("TODO")',
            'error("not implemented")',
            "# TODO: read the cache",
            'throw(ErrorException("TODO: k"))',
        ),
    ),
    "zig": Case(
        file="zig/buf_map.zig",
        language_id="zig",
        statement="self.free(entry.key_ptr.*);",
        function="deinit",
        imported="std",
        defined="BufMap",
        stubs=ZIG_STUBS,
        stub_holes=('@panic("TODO");', "// TODO: write g", '@panic("not implemented");'),
    ),
    "solidity": Case(
        file="solidity/PaymentSplitter.sol",
        language_id="solidity",
        statement="Address.sendValue(account, payment);",
        function="release",
        imported="SafeERC20",
        defined="PaymentSplitter",
        stubs=SOLIDITY_STUBS,
        stub_holes=('revert("TODO");', "// TODO: pay out", 'revert("not implemented");'),
        not_imported=("C",),
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


def test_every_language_of_this_file_has_a_real_file_a_license_and_a_provenance_row():
    provenance = (VENDOR / "README.md").read_text(encoding="utf-8")
    for case in CASES.values():
        assert (VENDOR / case.file).is_file()
        assert (VENDOR / Path(case.file).parent / "LICENSE").is_file()
        assert f"`{case.file}`" in provenance


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
    assert {"block", "arguments", "string", "comment"} <= set(holes), sorted(holes)
    assert len(captures(support.boundaries, tree.root_node)["boundary"]) >= 10
    assert case.function in _names(support.functions, tree)
    names, modules = imported(Document(f"file:///src/{Path(case.file).name}", text, language=support))
    assert case.imported in names | modules
    assert case.defined in _names(support.definitions, tree)
    at = text.index(case.statement)
    function = enclosing_function(support, tree, text, at)
    assert function is not None and function.name == case.function
    assert function.body_start <= at < function.body_end
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
    assert text.count(case.statement) == 1
    at = text.index(case.statement)
    holed = text[:at] + text[at + len(case.statement) :]
    document = Document(f"file:///src/{Path(case.file).name}", holed, language=support)
    plan = plan_completion(document, document.index.position(at), Settings(), request_id="r1")
    assert plan.request.language == plan.hole.language == name
    fill = finish_fill(case.statement, plan.hole, support)
    assert isinstance(fill, Fill), fill
    spliced = holed[:at] + fill.text + holed[at + fill.replaces :]
    assert spliced == text
    assert not support.parse(spliced.encode()).root_node.has_error
    cut = case.statement.rindex(")")
    broken = finish_fill(case.statement[:cut] + case.statement[cut + 1 :], plan.hole, support)
    assert isinstance(broken, Rejected) and "does not parse" in broken.reason


@pytest.mark.parametrize("name", sorted(CASES))
def test_todo_bodies_finds_placeholder_stubs_not_deliberate_ones(name):
    case, support = CASES[name], _support(name)
    recipe = load_recipes()["todo_bodies"]
    query = recipe_query(support, recipe)
    assert query is not None
    tree = support.parse(case.stubs.encode())
    assert not tree.root_node.has_error
    holes, _ = without_overlaps(query_holes(case.stubs, tree, query, recipe=recipe.name))
    assert [case.stubs[h.start : h.end] for h in holes] == list(case.stub_holes)
    real = _real(name)
    assert query_holes(real, support.parse(real.encode()), query, recipe=recipe.name) == []


@pytest.mark.parametrize("name", sorted(n for n, case in CASES.items() if case.not_imported))
def test_an_import_that_hides_or_renames_away_a_name_does_not_import_it(name):
    case, support = CASES[name], _support(name)
    names, modules = imported(Document(f"file:///src/stubs{support.entry.extensions[0]}", case.stubs, language=support))
    assert names and not set(case.not_imported) & (names | modules), (names, modules)


def test_an_ocaml_module_is_the_file_of_its_name_uncapitalized():
    """OCaml imports nothing by statement: `Bi_outbuf.create` uses bi_outbuf.ml, whose definitions come along."""
    support = _support("ocaml")
    library = Document("file:///src/bi_outbuf.ml", _real("ocaml"), language=support)
    user = Document("file:///src/main.ml", "let b = Bi_outbuf.create 16\nlet () = ", language=support)
    other = Document("file:///src/other.ml", "let unrelated = 1\n", language=support)
    found = [s for s in gather(user, len(user.text), [library, other], Settings()).snippets if s.source == "imports"]
    assert {s.path for s in found} == {"bi_outbuf.ml"} and any("let really_extend b n" in s.text for s in found)


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
