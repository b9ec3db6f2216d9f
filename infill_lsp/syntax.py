"""Tree-sitter look-ups shared by the edit commands and cross-file context: captures, functions, comments.

Pure: trees and text in, offsets (``str`` indices, not bytes) and snippets out.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from infill_lsp.languages import LanguageSupport


class ByteMap:
    """Converts tree-sitter byte offsets into ``str`` offsets of one text."""

    __slots__ = ("text", "source", "_ascii")

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = text.isascii()
        self.source = text.encode("utf-8", "surrogatepass")

    def char(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        return len(self.source[:byte_offset].decode("utf-8", "ignore"))

    def byte(self, char_offset: int) -> int:
        if self._ascii:
            return char_offset
        return len(self.text[:char_offset].encode("utf-8", "surrogatepass"))


def captures(query: tree_sitter.Query, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    return tree_sitter.QueryCursor(query).captures(node)


def matches(query: tree_sitter.Query, node: tree_sitter.Node) -> list[dict[str, list[tree_sitter.Node]]]:
    return [found for _, found in tree_sitter.QueryCursor(query).matches(node)]


def node_text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class FunctionAt:
    """The function around an offset: its name, its span and its body (offsets into the text)."""

    name: str
    start: int
    end: int
    body: tree_sitter.Node
    body_start: int
    body_end: int


def enclosing_function(
    language: LanguageSupport, tree: tree_sitter.Tree, text: str, offset: int
) -> FunctionAt | None:
    """Return the innermost function (functions.scm ``@function``) holding ``offset``, or None."""
    if language.functions is None:
        return None
    bytes_ = ByteMap(text)
    at = bytes_.byte(offset)
    best: FunctionAt | None = None
    for found in matches(language.functions, tree.root_node):
        function, name, body = (found.get(k, [None])[0] for k in ("function", "name", "body"))
        if function is None or body is None or not function.start_byte <= at <= function.end_byte:
            continue
        if best is None or function.end_byte - function.start_byte < bytes_.byte(best.end) - bytes_.byte(
            best.start
        ):
            best = FunctionAt(
                name=node_text(name) if name is not None else "",
                start=bytes_.char(function.start_byte),
                end=bytes_.char(function.end_byte),
                body=body,
                body_start=bytes_.char(body.start_byte),
                body_end=bytes_.char(body.end_byte),
            )
    return best


def body_statements(body: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The statements of a function body (Go nests them in a statement_list)."""
    out: list[tree_sitter.Node] = []
    for child in body.named_children:
        out.extend(body_statements(child) if child.type == "statement_list" else [child])
    return out


def is_comment(node: tree_sitter.Node) -> bool:
    return "comment" in node.type


def is_docstring(node: tree_sitter.Node) -> bool:
    """A statement that is only a string literal (Python's docstrings)."""
    return node.type == "expression_statement" and [c.type for c in node.named_children] == ["string"]


def comment_ranges(
    language: LanguageSupport,
    node: tree_sitter.Node,
    start_byte: int | None = None,
    end_byte: int | None = None,
) -> list[tuple[int, int]]:
    """Byte ranges of the comments (holes.scm ``@comment``) inside ``node`` (and the given byte range)."""
    cursor = tree_sitter.QueryCursor(language.holes)
    low = node.start_byte if start_byte is None else start_byte
    cursor.set_byte_range(low, node.end_byte if end_byte is None else end_byte)
    found = cursor.captures(node).get("comment", [])
    return sorted((n.start_byte, n.end_byte) for n in found)


def without_comments(source: bytes, start: int, end: int, comments: list[tuple[int, int]]) -> str:
    """The text of ``source[start:end]`` with the comments removed and comment-only lines dropped."""
    pieces: list[bytes] = []
    position = start
    for low, high in comments:
        if low < position or high > end:
            continue
        pieces.append(source[position:low])
        position = high
    pieces.append(source[position:end])
    text = b"".join(pieces).decode("utf-8", "replace")
    original = source[start:end].decode("utf-8", "replace").split("\n")
    lines = text.split("\n")
    if len(lines) == len(original):  # drop lines that were comments only, keep blank lines that were blank
        lines = [x.rstrip() for x, o in zip(lines, original, strict=True) if x.strip() or not o.strip()]
    else:  # a multi-line block comment was removed: drop the lines it emptied
        lines = [x.rstrip() for x in lines if x.strip()]
    return "\n".join(lines).strip("\n")
