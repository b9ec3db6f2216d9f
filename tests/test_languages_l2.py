"""Ruby, PHP, Lua, Bash, Elixir and Haskell on real files.

Each language loads from the table, finds holes and syntax boundaries in a vendored real file
(tests/vendor/languages/<language>/), gets a statement removed from that file back through the fill layer
with the file still parsing, and runs its queries on random bytes without raising.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tree_sitter
from hypothesis import given, settings
from hypothesis import strategies as st

from infill_lsp.batch.holes import load_recipes, query_holes, recipe_query
from infill_lsp.completion import plan_completion
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, HoleKind, build_context, classify_hole
from infill_lsp.crossfile import definitions, imported
from infill_lsp.documents import Document
from infill_lsp.fill import Fill, Rejected, finish_fill
from infill_lsp.languages import LanguageRegistry, LanguageSupport
from infill_lsp.syntax import enclosing_function

REGISTRY = LanguageRegistry()
VENDOR = Path(__file__).parent / "vendor" / "languages"
A, S, C = HoleKind.ARGUMENTS, HoleKind.STRING, HoleKind.STRING  # comments are STRING holes too


@dataclass(frozen=True)
class Real:
    """A vendored file and what the queries must find in it."""

    file: str  # under tests/vendor/languages/<language>/
    removed: str  # a statement on a line of its own: removed, then asked back from the fill layer
    function: str  # the name functions.scm gives the function around ``removed``
    definitions: tuple[str, ...] = ()  # some of the names definitions.scm finds
    imports: tuple[str, ...] = ()  # some of the names or modules imports.scm finds
    cursors: dict[str, HoleKind] = field(default_factory=dict)  # cursor after the text -> hole kind
    captures: tuple[str, ...] = ("block", "arguments", "string", "comment")  # holes.scm captures it holds


REAL = {
    "ruby": Real(
        "etag.rb",
        "digest, new_body = digest_body(body)",
        "call",
        definitions=("ETag",),
        imports=("sha2",),
        cursors={"@app.call(": A, 'DEFAULT_CACHE_CONTROL = "max-age': S, "# Automatically": C},
    ),
    "php": Real(
        "Php80.php",
        "$class = \\get_class($value);",
        "get_debug_type",
        definitions=("Php80",),
        cursors={"\\is_bool(": A, "return 'unkn": S, "@author Ion": C},
    ),
    "lua": Real(
        "encode.lua",
        "out = out or {}",
        "flattenOutput",
        definitions=("json_encode", "modulesToLoad", "getEncoder", "encode"),
        imports=("json",),
        cursors={"loadedModules[name].getEncoder(": A, '"Failed to encode value, unh': S, "-- Modules that": C},
    ),
    "bash": Real(
        "rbenv-versions.bash",
        "num_versions=$((num_versions + 1))",
        "print_version",
        definitions=("print_version", "versions_dir", "num_versions"),
        cursors={"if [ -n ": A, '"Warning: no': S, "# Provide rbenv": C},
    ),
    "elixir": Real(
        "object.ex",
        "acc = Map.put(acc, key, value)",
        "parse_object_value",
        definitions=("Snyk.JSON.Parser.Object",),
        imports=("Snyk.JSON.Parser",),
        cursors={"Map.put(": A, "Implements a Snyk": S, "# Object Pars": C},
    ),
    "haskell": Real(
        "HLint_QuickCheck.hs",
        "res <- try $ evaluate x",
        "catcher",
        definitions=("Dbl", "test", "catcher", "withMain"),
        imports=("Weak", "IORef"),
        cursors={"elements [stdin, ": A, '"<func': S, "-- We need a Show": C},
    ),
}

# Placeholder bodies the todo_bodies recipe fills, and deliberate ones it leaves: (source, hole texts).
STUBS = {
    "ruby": (
        "class A\n  def a\n    raise NotImplementedError\n  end\n\n  def b(x)\n"
        '    raise NotImplementedError, "TODO"\n  end\n\n  def c\n    # TODO: write c\n  end\n\n'
        '  def d\n    raise NotImplementedError, "#{self.class} must implement d"\n  end\n\n'
        "  def e\n    raise NotImplementedError\n    f\n  end\nend\n",
        ["raise NotImplementedError", 'raise NotImplementedError, "TODO"', "# TODO: write c"],
    ),
    "php": (
        "<?php\nfunction f($a) {\n    throw new \\Exception('TODO');\n}\nabstract class K {\n"
        '    public function m() {\n        throw new \\RuntimeException("Not implemented");\n    }\n'
        "    abstract public function n();\n    public static function o() {\n        // TODO\n    }\n"
        "    public function q() {\n        throw new \\LogicException('q is not available on K');\n    }\n}\n",
        ["throw new \\Exception('TODO');", 'throw new \\RuntimeException("Not implemented");', "// TODO"],
    ),
    "lua": (
        'local M = {}\nfunction M.f(a)\n  error("TODO")\nend\nlocal function g()\n  error("not implemented")\nend\n'
        'function M:h()\n  error("not supported for sockets")\nend\nlocal k = function()\n  error("TODO: k")\nend\n'
        "return M\n",
        ['error("TODO")', 'error("not implemented")', 'error("TODO: k")'],
    ),
    "bash": (
        "source ./lib.sh\nf() {\n  # TODO: list the versions\n  :\n}\ng() {\n  # keep going\n  :\n}\n"
        "h() {\n  # TODO\n  echo h\n}\n",
        ["# TODO: list the versions"],
    ),
    "elixir": (
        'defmodule A do\n  def f(a) do\n    raise "TODO"\n  end\n\n  defp g do\n    # TODO: g\n  end\n\n'
        '  def h(x) do\n    raise "h needs a connected socket"\n  end\n\n  def k do\n    # TODO\n    :ok\n  end\nend\n',
        ['raise "TODO"', "# TODO: g"],
    ),
    "haskell": (
        'module A where\n\nf :: Int -> Int\nf x = undefined\n\ng :: Int -> String\ng _ = error "TODO: g"\n\n'
        'h :: Int -> Int\nh _ = error "h is partial on negative numbers"\n\nk :: Int\nk = undefined\n',
        ["undefined", 'error "TODO: g"', "undefined"],
    ),
}


def _support(name: str) -> LanguageSupport:
    support = REGISTRY.get(name)
    assert support is not None, REGISTRY.failures()
    return support


def _real(name: str) -> tuple[LanguageSupport, str, tree_sitter.Tree]:
    support = _support(name)
    text = (VENDOR / name / REAL[name].file).read_text(encoding="utf-8")
    tree = support.parse(text.encode("utf-8"))
    assert not tree.root_node.has_error, f"{REAL[name].file} does not parse cleanly"
    return support, text, tree


def _document(name: str, text: str) -> Document:
    support = _support(name)
    uri = f"file:///project/{REAL[name].file}"
    return Document(uri, text, language_id=support.entry.language_ids[0], language=support)


def _errors(support: LanguageSupport, text: str) -> int:
    cursor, count = support.parse(text.encode("utf-8")).walk(), 0
    while True:
        count += cursor.node.is_error or cursor.node.is_missing
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent():
            if cursor.goto_next_sibling():
                break
        else:
            return count


def test_every_language_of_this_file_has_a_real_file_and_a_license():
    for name, real in REAL.items():
        assert (VENDOR / name / real.file).is_file()
        assert (VENDOR / name / "LICENSE").is_file()
        assert real.file in (VENDOR / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(REAL))
def test_language_loads_from_the_table_by_id_and_by_extension(name):
    support = _support(name)
    assert REGISTRY.name_for("", f"file:///x/{REAL[name].file}") == name
    for language_id in support.entry.language_ids:
        assert REGISTRY.name_for(language_id, "untitled:1") == name
    assert support.functions is not None and support.imports is not None and support.definitions is not None


@pytest.mark.parametrize("name", sorted(REAL))
def test_holes_query_classifies_the_real_file(name):
    support, text, tree = _real(name)
    found = tree_sitter.QueryCursor(support.holes).captures(tree.root_node)
    assert set(REAL[name].captures) <= set(found), sorted(found)
    for marker, kind in REAL[name].cursors.items():
        assert text.count(marker) >= 1, marker
        cursor = text.index(marker) + len(marker)
        assert classify_hole(text, cursor, support, tree) is kind, marker


@pytest.mark.parametrize("name", sorted(REAL))
def test_functions_definitions_and_imports_of_the_real_file(name):
    support, text, tree = _real(name)
    real = REAL[name]
    function = enclosing_function(support, tree, text, text.index(real.removed))
    assert function is not None and function.name == real.function
    assert function.body_start <= text.index(real.removed) < function.body_end
    document = _document(name, text)
    assert set(real.definitions) <= {n for n, _ in definitions(document)}
    names, modules = imported(document)
    assert set(real.imports) <= names | modules


def _boundary_lines(support: LanguageSupport, tree: tree_sitter.Tree, text: str) -> tuple[set[int], set[int]]:
    """Where a cut may fall: a boundary node's start or its line's start, its end or its line's end (ASCII
    files: bytes are characters)."""
    nodes = tree_sitter.QueryCursor(support.boundaries).captures(tree.root_node).get("boundary", [])
    starts = {text.rfind("\n", 0, n.start_byte) + 1 for n in nodes} | {n.start_byte for n in nodes}
    line_ends = {len(text) if (e := text.find("\n", n.end_byte)) == -1 else e for n in nodes}
    ends = line_ends | {n.end_byte for n in nodes}
    return starts, ends


@pytest.mark.parametrize("name", sorted(REAL))
@pytest.mark.parametrize("budget", [120, 300])
def test_context_is_cut_at_syntax_boundaries(name, budget):
    support, text, tree = _real(name)
    assert text.isascii()
    starts, ends = _boundary_lines(support, tree, text)
    cursor = text.index(REAL[name].removed)
    budgets = Budgets(prefix_chars=budget, suffix_chars=budget)
    context = build_context(text, cursor, language=support, tree=tree, budgets=budgets, grid_share=0)
    assert context.prefix_start > 0 and context.suffix_end < len(text)  # the budgets did cut
    assert context.prefix_start in starts
    assert context.suffix_end in ends


@pytest.mark.parametrize("name", sorted(REAL))
def test_a_statement_removed_from_the_real_file_is_filled_back_and_the_file_parses(name):
    support, text, _ = _real(name)
    removed = REAL[name].removed
    assert text.count(removed) == 1
    at = text.index(removed)
    holed = text[:at] + text[at + len(removed) :]
    document = _document(name, holed)
    plan = plan_completion(document, document.index.position(at), Settings(), request_id="r1")
    assert plan.hole.language == name
    fill = finish_fill(removed, plan.hole, support)
    assert isinstance(fill, Fill), fill
    spliced = holed[: plan.start] + fill.text + holed[plan.replace_end(fill) :]
    assert spliced == text
    assert _errors(support, spliced) == 0
    broken = finish_fill(removed + ")", plan.hole, support)  # the parse check uses this grammar
    assert isinstance(broken, Rejected) and "does not parse" in broken.reason


@pytest.mark.parametrize("name", sorted(STUBS))
def test_todo_bodies_recipe_finds_placeholders_and_leaves_deliberate_stubs(name):
    support = _support(name)
    source, expected = STUBS[name]
    tree = support.parse(source.encode("utf-8"))
    assert not tree.root_node.has_error
    recipe = load_recipes()["todo_bodies"]
    query = recipe_query(support, recipe)
    assert query is not None
    holes = query_holes(source, tree, query, recipe=recipe.name)
    assert sorted(source[h.start : h.end] for h in holes) == sorted(expected)


QUERY_KINDS = ("boundaries", "holes", "functions", "imports", "definitions")


@pytest.mark.parametrize("name", sorted(REAL))
@settings(max_examples=30, deadline=None)
@given(source=st.binary(max_size=400))
def test_queries_run_on_random_bytes_without_raising(name, source):
    support = _support(name)
    tree = support.parse(source)
    for kind in QUERY_KINDS:
        query = getattr(support, kind)
        if query is not None:
            tree_sitter.QueryCursor(query).captures(tree.root_node)
    recipe = load_recipes()["todo_bodies"]
    query = recipe_query(support, recipe)
    if query is not None:
        text = source.decode("utf-8", "replace")
        query_holes(text, support.parse(text.encode("utf-8")), query, recipe=recipe.name)


# A paren-less call whose one argument is a string: the arguments and the string have one extent, and the
# cursor inside the string is in a string hole.
PARENLESS = {
    "elixir": 'defmodule A do\n  @moduledoc """\n  Implements |a thing\n  """\nend\n',
    "ruby": 'def f\n  puts "Hello, |world"\nend\n',
}


@pytest.mark.parametrize("name", sorted(PARENLESS))
def test_a_string_that_is_a_calls_only_argument_is_a_string_hole(name):
    support = _support(name)
    text = PARENLESS[name].replace("|", "")
    cursor = PARENLESS[name].index("|")
    tree = support.parse(text.encode("utf-8"))
    assert not tree.root_node.has_error
    assert classify_hole(text, cursor, support, tree) is HoleKind.STRING


def test_haskell_names_an_import_hides_are_not_imported():
    """`import M hiding (a)` imports all of M but a: the module is imported, the names of its list are not."""
    source = (
        "module A where\n\nimport Data.List hiding (foldl, Sum(..))\nimport Data.Foldable\n  hiding\n  ( toList )\n"
        "import qualified Data.Map as M (lookup)\nimport Data.Maybe (fromMaybe, Maybe(..))\n"
    )
    support = _support("haskell")
    assert not support.parse(source.encode("utf-8")).root_node.has_error
    names, modules = imported(Document("file:///project/A.hs", source, language_id="haskell", language=support))
    assert names == {"lookup", "fromMaybe", "Maybe"}
    assert modules == {"List", "Foldable", "Map", "Maybe"}
