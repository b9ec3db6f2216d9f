"""Static checks of a fill that cost milliseconds: names a fill brings in that are defined nowhere in reach.

Python only for now: pyflakes on the text around the hole with and without the fill; a name it reports
undefined only with the fill, and that appears nowhere in the document or the cross-file context (the
window may not hold an import that the document has), is a name the model made up.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

import tree_sitter

from infill_lsp.languages import LanguageSupport

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CHECKED_LANGUAGES = ("python",)


def words(text: str) -> frozenset[str]:
    """Every identifier-like word of ``text`` (comments and strings included): for text without a parse."""
    return frozenset(_WORD.findall(text))


@lru_cache(maxsize=8)
def _identifiers(language: LanguageSupport) -> tree_sitter.Query:
    return tree_sitter.Query(language.language, "(identifier) @name")


def names_in_code(language: LanguageSupport | None, tree: tree_sitter.Tree | None, text: str) -> frozenset[str]:
    """The names a document's code uses or defines (identifiers of its parse: a word that only a comment
    or a docstring holds is not one); every word of the text for languages this module does not check."""
    if language is None or tree is None or language.name not in CHECKED_LANGUAGES:
        return words(text)
    nodes = tree_sitter.QueryCursor(_identifiers(language)).captures(tree.root_node).get("name", [])
    return frozenset(node.text.decode("utf-8", "replace") for node in nodes if node.text is not None)


def _parseable(source: str) -> str:
    """``source`` (a window cut at line starts) as a module. A window that starts inside a block, indented,
    and goes on past that block's end is put inside an ``if True:`` at every indentation below its first
    line's, so whatever level a later line dedents to is one that was opened."""
    first = next((line for line in source.splitlines() if line.strip()), "")
    lead = first[: len(first) - len(first.lstrip(" \t"))]
    if not lead:
        return source
    return "".join(f"{lead[:level]}if True:\n" for level in range(len(lead))) + source


@lru_cache(maxsize=128)
def undefined_names(source: str) -> frozenset[str] | None:
    """Names pyflakes finds undefined in Python ``source``; None when it does not parse. Lines from the
    first that breaks the parse on are left out (a few times), so a broken block after the fill does not
    keep the fill from being checked."""
    from pyflakes import checker, messages

    lines = _parseable(source).split("\n")
    for _ in range(8):  # code after the fill that does not parse (another hole, an empty block) is cut off
        try:
            tree = ast.parse("\n".join(lines))
            break
        except SyntaxError as exc:
            if not exc.lineno or exc.lineno <= 1 or len(lines) <= 1:
                return None
            lines = lines[: min(exc.lineno - 1, len(lines) - 1)]
        except ValueError:
            return None
    else:
        return None
    found = checker.Checker(tree, filename="<fill>")
    return frozenset(m.message_args[0] for m in found.messages if isinstance(m, messages.UndefinedName))


def made_up_names(language: str, without: str, with_fill: str, known: frozenset[str]) -> list[str]:
    """Names undefined in ``with_fill`` but not in ``without`` and absent from ``known`` (sorted).

    Empty when the language is not checked or the filled text does not parse on its own (the text
    without the fill may not: a block whose body is the hole).
    """
    if language not in CHECKED_LANGUAGES:
        return []
    after = undefined_names(with_fill)
    if after is None:
        return []
    before = undefined_names(without) or frozenset()  # an empty body before the fill does not parse
    return sorted(after - before - known)
