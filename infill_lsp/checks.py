"""Static checks of a fill that cost milliseconds: names a fill brings in that are defined nowhere in reach.

Python only for now: pyflakes on the text around the hole with and without the fill; a name it reports
undefined only with the fill, and that appears nowhere in the document or the cross-file context (the
window may not hold an import that the document has), is a name the model made up.
"""

from __future__ import annotations

import ast
import re
import textwrap
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CHECKED_LANGUAGES = ("python",)


def words(text: str) -> frozenset[str]:
    """Every identifier-like word of ``text``: the names a document has in reach, roughly."""
    return frozenset(_WORD.findall(text))


@lru_cache(maxsize=128)
def undefined_names(source: str) -> frozenset[str] | None:
    """Names pyflakes finds undefined in Python ``source`` (dedented); None when it does not parse."""
    from pyflakes import checker, messages

    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None
    found = checker.Checker(tree, filename="<fill>")
    return frozenset(m.message_args[0] for m in found.messages if isinstance(m, messages.UndefinedName))


def made_up_names(language: str, without: str, with_fill: str, known: frozenset[str]) -> list[str]:
    """Names undefined in ``with_fill`` but not in ``without`` and absent from ``known`` (sorted).

    Empty when the language is not checked or either text does not parse on its own.
    """
    if language not in CHECKED_LANGUAGES:
        return []
    before, after = undefined_names(without), undefined_names(with_fill)
    if before is None or after is None:
        return []
    return sorted(after - before - known)
