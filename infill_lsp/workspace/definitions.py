"""What one file offers and needs: its top-level definitions (definitions.scm) and what it imports (imports.scm).

Pure: a syntax tree (or a text and its language) in, symbols out. A definition keeps its comment-free
text, cut at a line boundary to ``DEFINITION_CHARS``, so context needs no file read at request time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import tree_sitter

from infill_lsp.languages import LanguageSupport
from infill_lsp.syntax import captures, comment_ranges, matches, node_text, without_comments

DEFINITION_CHARS = 2000
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_DEFINITIONS = 2000  # per file: a generated file of assignments stops here
KINDS = (  # a definition node's type -> its kind, by the first word the type contains
    ("method", "method"),
    ("function", "function"),
    ("class", "class"),
    ("interface", "interface"),
    ("struct", "type"),
    ("enum", "type"),
    ("trait", "type"),
    ("type", "type"),
    ("module", "module"),
    ("impl", "impl"),
    ("const", "constant"),
)


@dataclass(frozen=True, slots=True)
class Definition:
    """One top-level definition: its name and kind, the line naming it, where it is, its text."""

    name: str
    kind: str
    signature: str
    path: str  # the file's absolute path (or URI for a document without a file)
    line: int  # 0-based line of the definition's start
    end_line: int  # 0-based line of its end
    text: str


@dataclass(frozen=True, slots=True)
class Symbols:
    """A file's definitions (in file order) and imports: imported names and modules (last path element)."""

    definitions: tuple[Definition, ...] = ()
    imported_names: frozenset[str] = frozenset()
    imported_modules: frozenset[str] = frozenset()


def kind_of(node: tree_sitter.Node) -> str:
    """A definition's kind from its node type ("function_definition" -> function); decorations looked through."""
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        node = inner if inner is not None else node
    for word, kind in KINDS:
        if word in node.type:
            return kind
    return "variable"


def cut(text: str, limit: int = DEFINITION_CHARS) -> str:
    """``text`` cut at the last line boundary within ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head.rsplit("\n", 1)[0] if "\n" in head else head


def definitions_in(
    language: LanguageSupport, tree: tree_sitter.Tree, source: bytes, path: str, *, limit: int = DEFINITION_CHARS
) -> list[Definition]:
    """The top-level definitions of a parsed file, in file order (each node once)."""
    if language.definitions is None:
        return []
    found_at: dict[int, Definition] = {}
    names: set[str] = set()
    lines = source.split(b"\n")
    for found in matches(language.definitions, tree.root_node):
        node, name = found.get("definition", [None])[0], found.get("name", [None])[0]
        if node is None or name is None or node.start_byte in found_at or node_text(name) in names:
            continue  # a name defined twice keeps its first definition
        if len(found_at) >= MAX_DEFINITIONS:
            break
        names.add(node_text(name))
        comments = comment_ranges(language, node)
        text = without_comments(source, node.start_byte, node.end_byte, comments)
        row = name.start_point[0]
        signature = lines[row].decode("utf-8", "replace").strip() if row < len(lines) else ""
        start, end = node.start_point[0], node.end_point[0]
        found_at[node.start_byte] = Definition(
            node_text(name), kind_of(node), signature, path, start, end, cut(text, limit)
        )
    return [found_at[k] for k in sorted(found_at)]


def defined_names(language: LanguageSupport, tree: tree_sitter.Tree) -> frozenset[str]:
    """The names a parsed file's top-level definitions define (``definitions_in``'s names, without their text:
    a third of its cost)."""
    if language.definitions is None:
        return frozenset()
    return frozenset(node_text(node) for node in captures(language.definitions, tree.root_node).get("name", []))


def imports_in(language: LanguageSupport, tree: tree_sitter.Tree) -> tuple[set[str], set[str]]:
    """The names (``@name``) and modules (``@module``, its last path element) a parsed file imports."""
    if language.imports is None:
        return set(), set()
    found = captures(language.imports, tree.root_node)
    names = {node_text(n) for n in found.get("name", [])}
    modules = {stem for node in found.get("module", []) for stem in module_stems(node_text(node))}
    return names, modules - {""}


SOURCE_SUFFIXES = frozenset(("js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "py", "rs", "go", "rb", "php",
                             "lua", "ex", "exs", "hs", "ml", "jl", "zig", "sol", "scala", "kt", "swift", "h", "hpp"))


def module_stems(text: str) -> set[str]:
    """The files an import may name, as stems: "./models.js" and "github.com/x/pkg" -> the last path element
    ("models", "pkg"); a dotted name -> its first and last parts (Python's "shop.models" is shop/models.py, Lua's
    "json.util" json/util.lua; a relative ".models" -> "models")."""
    last = text.strip("\"'`<>").rstrip("/").rsplit("/", 1)[-1]
    parts = [part for part in last.split(".") if part]
    if len(parts) > 1 and parts[-1].lower() in SOURCE_SUFFIXES:
        parts = parts[:-1]
    return {parts[0], parts[-1]} if parts else set()


def import_sources(
    language: LanguageSupport, tree: tree_sitter.Tree
) -> tuple[dict[str, frozenset[str]], frozenset[int]]:
    """Each imported name with the words of the statement importing it (``from shop.billing import total``:
    total -> {from, shop, billing, import, total}): where the name comes from, for any language; and the rows
    those statements span (where a name's occurrence is its import, not a use)."""
    if language.imports is None:
        return {}, frozenset()
    out: dict[str, frozenset[str]] = {}
    rows: set[int] = set()
    found = captures(language.imports, tree.root_node)
    for capture in ("name", "module"):  # a language may import modules only (Go's import paths)
        for node in found.get(capture, []):
            statement = node
            while statement.parent is not None and statement.parent.parent is not None:
                statement = statement.parent
            if capture == "name":
                out[node_text(node)] = frozenset(WORD.findall(node_text(statement)))
            rows.update(range(statement.start_point[0], statement.end_point[0] + 1))
    return out, frozenset(rows)


def symbols_of(text: str, language: LanguageSupport, path: str) -> Symbols:
    """Parse ``text`` and return its symbols."""
    source = text.encode("utf-8", "surrogatepass")
    tree = language.parse(source)
    names, modules = imports_in(language, tree)
    return Symbols(tuple(definitions_in(language, tree, source, path)), frozenset(names), frozenset(modules))


def module_names_of(path: str, package_is_folder: bool) -> set[str]:
    """Names an import uses for the file at ``path``: its stem (or folder), and that name capitalized (OCaml's
    module of ``bi_share.ml`` is ``Bi_share``)."""
    where = PurePosixPath(path)
    name = where.parent.name if package_is_folder else where.stem
    return {name, name[:1].upper() + name[1:]} - {""}
