"""The language table: every row loads, its ABI is readable, its queries capture on a sample."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter

from engine.prompt.fim import LANGUAGES, SPECIAL_TOKENS, SpecialIds, model_tag
from grammars import GrammarTableError, entry_for_path, load_table
from infill_lsp.context import HoleKind, classify_hole
from infill_lsp.documents import encode_source
from infill_lsp.languages import SUPPORTED_ABI, GrammarError, LanguageRegistry, check_abi

REGISTRY = LanguageRegistry()

# One sample per language: parses without errors, and "|" marks a cursor inside an argument list (or, for
# a language without one, a hole of the kind SAMPLE_KINDS names).
SAMPLES = {
    "python": "import os\n\ndef f(a):\n    return os.path.join(a, |'x')\n",
    "javascript": "import x from 'y';\nfunction f(a) {\n  return g(a, |1);\n}\n",
    "typescript": "interface P { a: number }\nfunction f(p: P): number {\n  return g(p.a, |1);\n}\n",
    "tsx": "function A(p: { n: string }) {\n  return <div>{g(p.n, |1)}</div>;\n}\n",
    "go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(1, |2)\n}\n',
    "rust": "use std::fmt;\n\nfn main() {\n    let v = f(1, |2);\n}\n",
    "java": "import java.util.List;\n\nclass A {\n    int f(List<Integer> a) {\n        return g(a, |1);\n    }\n}\n",
    "c": '#include "a.h"\n\nint f(int a) {\n    return g(a, |1);\n}\n',
    "cpp": '#include "a.hpp"\n\nint A::f(int a) const {\n    return g<int>(a, |1);\n}\n',
    "csharp": "using System;\n\nclass A\n{\n    int F(int a)\n    {\n        return G(a, |1);\n    }\n}\n",
    "kotlin": "import a.B\n\nfun f(a: Int): Int {\n    return g(a, |1)\n}\n",
    "swift": "import Foundation\n\nfunc f(a: Int) -> Int {\n    return g(a, |1)\n}\n",
    "scala": "import a.B\n\nobject A {\n  def f(a: Int): Int = g(a, |1)\n}\n",
    "ocaml": "open Printf\n\nlet f a =\n  g (a, |1)\n",
    "julia": "using LinearAlgebra\n\nfunction f(a)\n    return g(a, |1)\nend\n",
    "zig": 'const std = @import("std");\n\nfn f(a: u32) u32 {\n    return g(a, |1);\n}\n',
    "solidity": 'import "./A.sol";\n\ncontract K {\n    function f(uint a) public {\n        g(a, |1);\n    }\n}\n',
    "ruby": "require 'json'\n\ndef f(a)\n  g(a, |1)\nend\n",
    "bash": 'source ./lib.sh\n\nf() {\n  if [ -n |"$1" ]; then echo a; fi\n}\n',
    "elixir": "defmodule A do\n  alias B.C\n\n  def f(a) do\n    g(a, |1)\n  end\nend\n",
    "haskell": "module A where\n\nimport Data.List (nub)\n\nf :: Int -> [Int]\nf a = nub [a, |1]\n",
    "lua": 'local json = require("json")\n\nlocal function f(a)\n  return g(a, |1)\nend\n',
    "php": "<?php\nuse A\\B;\n\nfunction f($a) {\n    return g($a, |1);\n}\n",
    "json": '{"a": [1, 2],\n "b": "x|y"}\n',
    "yaml": "a: 1\nb: [x, |y]\n",
    "toml": "[t]\na = 1\nb = { c = 1, |d = 2 }\n",
    "html": '<p>a</p>\n<a href="x" |title="y">z</a>\n',
    "css": "a {\n  color: rgb(1, |2, 3);\n}\n",
    "sql": "SELECT 1;\nSELECT count(a, |b) FROM t;\n",
    "markdown": "# Ti|tle\n\nSome text.\n",
}
SAMPLE_KINDS = {
    "json": HoleKind.STRING,
    "markdown": HoleKind.STRING,
}


def test_every_table_row_has_a_sample():
    assert set(SAMPLES) == set(REGISTRY.entries)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_language_loads_parses_and_its_queries_capture(name):
    support = REGISTRY.get(name)
    assert support is not None, REGISTRY.failures()
    low, high = SUPPORTED_ABI
    assert low <= support.language.abi_version <= high
    marked = SAMPLES[name]
    cursor = marked.index("|")
    text = marked.replace("|", "", 1)
    tree = support.parse(encode_source(text))
    assert not tree.root_node.has_error, str(tree.root_node)
    boundaries = tree_sitter.QueryCursor(support.boundaries).captures(tree.root_node)
    assert len(boundaries.get("boundary", [])) >= 2
    assert classify_hole(text, cursor, support, tree) is SAMPLE_KINDS.get(name, HoleKind.ARGUMENTS)


@pytest.mark.parametrize(
    ("language_id", "uri", "name"),
    [
        ("python", "file:///a.txt", "python"),
        ("typescriptreact", "file:///a", "tsx"),
        ("javascriptreact", "file:///a", "javascript"),
        ("", "file:///src/main.rs", "rust"),
        ("plaintext", "file:///src/lib.go", "go"),
        ("plaintext", "file:///dir%20x/a.PY", "python"),
        ("plaintext", "file:///notes.txt", None),
        ("cobol", "untitled:Untitled-1", None),
    ],
)
def test_documents_map_to_languages_by_id_then_extension(language_id, uri, name):
    assert REGISTRY.name_for(language_id, uri) == name


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (".tsx", "tsx"),
        ("src/App.TSX", "tsx"),
        (Path("pkg/stubs.pyi"), "python"),
        ("a/b.d.ts", "typescript"),
        ("lib.rs", "rust"),
        ("notes.txt", None),
        ("Makefile", None),
        ("", None),
    ],
)
def test_paths_and_bare_extensions_map_to_table_rows(path, name):
    entry = entry_for_path(path)
    assert (entry.name if entry else None) == name
    custom = entry_for_path(path, REGISTRY.entries)
    assert (custom.name if custom else None) == name


SHIPPED_TOKENIZER = Path(__file__).parents[1] / "engine" / "models" / "infill-small" / "tokenizer.json"


def test_every_table_language_has_a_tag_the_shipped_tokenizer_knows():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(SHIPPED_TOKENIZER))
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    special = SpecialIds.from_vocab(tokenizer.token_to_id)
    for entry in load_table().values():
        assert entry.model_tag in LANGUAGES and entry.model_tag in special.languages, entry.name


def test_tsx_is_sent_as_typescript_and_nothing_produces_the_tsx_tag():
    table = load_table()
    assert table["tsx"].model_tag == "typescript"
    assert {e.model_tag for e in table.values()} - {"text"} == set(LANGUAGES) - {"tsx", "text"}
    assert model_tag("tsx") == "typescript"
    assert model_tag("cobol") == model_tag("") == "text"
    assert model_tag("text") == "text"


def test_the_table_module_imports_no_tree_sitter_or_tensor_library():
    import subprocess
    import sys

    code = (
        "import sys, grammars, engine.prompt.fim, training.filters\n"
        "grammars.entry_for_path('a.tsx')\n"
        "print(sorted(m for m in ('tree_sitter', 'torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_languages_have_no_support():
    assert REGISTRY.for_document("cobol", "file:///a.cob") is None
    assert REGISTRY.get(None) is None


def test_abi_outside_the_supported_range_fails_with_both_versions():
    with pytest.raises(GrammarError, match=r"ABI version 99.*reads versions 13 to 15"):
        check_abi("future", 99, (13, 15))


def _write_table(tmp_path: Path, row: str, queries: bool = True) -> Path:
    (tmp_path / "toy").mkdir()
    if queries:
        (tmp_path / "toy" / "boundaries.scm").write_text("(expression_statement) @boundary\n")
        (tmp_path / "toy" / "holes.scm").write_text("(string) @string\n")
    table = tmp_path / "languages.toml"
    table.write_text(row)
    return table


TOY = """[toy]
language_ids = ["toy"]
extensions = [".toy"]
grammar = "tree_sitter_python:language"
"""


def test_adding_a_language_is_adding_a_row_and_a_folder(tmp_path):
    registry = LanguageRegistry(load_table(_write_table(tmp_path, TOY)))
    support = registry.for_document("", "file:///x.toy")
    assert support is not None and support.name == "toy"
    entry = registry.entries["toy"]
    assert entry.model_tag == "toy" and entry.corpus_extensions == (".toy",)  # the defaults


def test_a_missing_grammar_module_is_reported_not_raised(tmp_path):
    table = _write_table(tmp_path, TOY.replace("tree_sitter_python", "tree_sitter_nonexistent"))
    registry = LanguageRegistry(load_table(table))
    assert registry.get("toy") is None
    assert "tree_sitter_nonexistent" in registry.failures()["toy"]


def test_a_broken_query_is_reported_with_its_file(tmp_path):
    table = _write_table(tmp_path, TOY)
    (tmp_path / "toy" / "holes.scm").write_text("(no_such_node) @string\n")
    registry = LanguageRegistry(load_table(table))
    assert registry.get("toy") is None
    assert "holes" in registry.failures()["toy"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (TOY.replace('grammar = "tree_sitter_python:language"', 'grammar = "nocolon"'), "module:function"),
        (TOY.replace('extensions = [".toy"]', "extensions = 3"), "extensions"),
        (TOY + 'block_comment = ["/*"]\n', "block_comment"),
        (TOY + 'indent = "x"\n', "indent"),
        (TOY + 'model_tag = ""\n', "model_tag"),
        (TOY + 'corpus_extensions = [".other"]\n', "corpus_extensions"),
        (TOY + TOY.replace("[toy]", "[toy2]").replace('queries = "toy"', ""), "claimed by both"),
        ("not toml = = =", "cannot read"),
    ],
)
def test_malformed_tables_fail_with_a_clear_message(tmp_path, row, message):
    table = _write_table(tmp_path, row)
    (tmp_path / "toy2").mkdir()
    for kind in ("boundaries", "holes"):
        (tmp_path / "toy2" / f"{kind}.scm").write_text("")
    with pytest.raises(GrammarTableError, match=message):
        load_table(table)


def test_a_row_without_its_query_folder_fails(tmp_path):
    with pytest.raises(GrammarTableError, match="lacks boundaries.scm"):
        load_table(_write_table(tmp_path, TOY, queries=False))


def test_a_query_inheriting_another_folders_comes_after_it(tmp_path):
    table = _write_table(tmp_path, TOY)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "holes.scm").write_text("(argument_list) @arguments")  # no final newline
    (tmp_path / "toy" / "holes.scm").write_text("; inherits: base\n(string) @string\n")
    entry = load_table(table)["toy"]
    assert entry.query_source("holes") == "(argument_list) @arguments\n; inherits: base\n(string) @string\n"
    support = LanguageRegistry({"toy": entry}).get("toy")
    assert support is not None
    tree = support.parse(b"f(1, 'x')\n")
    assert {"arguments", "string"} <= set(tree_sitter.QueryCursor(support.holes).captures(tree.root_node))


@pytest.mark.parametrize(
    ("base", "toy", "message"),
    [
        (None, "; inherits: base\n", "cannot read query .*base"),
        ("; inherits: toy\n", "; inherits: base\n", "inherits from itself"),
        (None, "; inherits: ,\n", "must name folders"),
    ],
)
def test_a_broken_inheritance_fails_with_a_clear_message(tmp_path, base, toy, message):
    entry = load_table(_write_table(tmp_path, TOY))["toy"]
    if base is not None:
        (tmp_path / "base").mkdir()
        (tmp_path / "base" / "holes.scm").write_text(base)
    (tmp_path / "toy" / "holes.scm").write_text(toy)
    with pytest.raises(GrammarTableError, match=message):
        entry.query_source("holes")
    registry = LanguageRegistry({"toy": entry})
    assert registry.get("toy") is None and "holes" in registry.failures()["toy"]


def test_typescript_shares_the_javascript_queries_and_adds_its_own():
    table = load_table()
    for kind in ("functions", "imports", "holes"):
        assert table["typescript"].query_source(kind).startswith(table["javascript"].query_source(kind))
    assert "(interface_body) @block" in table["typescript"].query_source("holes")
    shared = (table["javascript"].query_dir.parent / "ecma" / "boundaries.scm").read_text(encoding="utf-8")
    assert "(class_declaration)" in shared
    for name, own in (("javascript", "(field_definition)"), ("typescript", "(interface_declaration)")):
        boundaries = table[name].query_source("boundaries")
        assert boundaries.startswith(shared) and own in boundaries
