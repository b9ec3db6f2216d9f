"""The ``infill.writeDocstring`` hole: documentation for the function around the cursor.

Where it goes and how it is marked is data (``doc_placement`` and the ``doc_*`` markers of
grammars/languages.toml): a docstring opening the body (Python) or a comment above the definition
(JavaScript, TypeScript, Go, Rust). Pure, like ``edits``.
"""

from __future__ import annotations

import tree_sitter

from infill_lsp.context import Budgets, detect_indent_unit
from infill_lsp.edits import DEFAULT_BUDGETS, CommandError, leading_whitespace, line_start, window
from infill_lsp.fill import HolePlan
from infill_lsp.languages import LanguageSupport
from infill_lsp.syntax import ByteMap, FunctionAt, body_statements, enclosing_function, is_docstring

DOC_CANVAS = (24, 48, 96)
DOC_MAX_LINES = 12
PREFIX_LINES = ("@", "#[")  # decorators and attributes stay directly above the definition


def docstring_plan(
    text: str,
    offset: int,
    *,
    language: LanguageSupport,
    tree: tree_sitter.Tree,
    budgets: Budgets = DEFAULT_BUDGETS,
) -> HolePlan:
    """Plan the documentation of the function around ``offset``; CommandError when it does not apply."""
    entry = language.entry
    if not entry.doc_placement:
        raise CommandError(f"no documentation style is known for {entry.name}")
    function = enclosing_function(language, tree, text, offset)
    if function is None:
        raise CommandError("no function around the cursor")
    if entry.doc_placement == "body":
        return _in_body(text, function, language, tree, budgets)
    return _above(text, function, language, tree, budgets)


def _in_body(
    text: str, function: FunctionAt, language: LanguageSupport, tree: tree_sitter.Tree, budgets: Budgets
) -> HolePlan:
    entry = language.entry
    statements = body_statements(function.body)
    if statements and is_docstring(statements[0]):
        raise CommandError(f"{function.name or 'this function'} already has a docstring")
    header_end = text.rfind("\n", function.start, function.body_start)
    if not statements or header_end == -1:
        raise CommandError(f"{function.name or 'this function'} has no body on lines of its own")
    first = ByteMap(text).char(statements[0].start_byte)
    at = line_start(text, first)
    indent = leading_whitespace(text, first)
    low, high = window(text, at, at, language, tree, budgets)
    lead = indent + entry.doc_open
    return HolePlan(
        title=f"document {function.name or 'function'}",
        start=at,
        end=at,
        prefix=text[low:at] + lead,
        suffix=entry.doc_close + "\n" + text[at:high],
        before=text[low:at],
        after=text[at:high],
        language=entry.name,
        canvas_lengths=DOC_CANVAS,
        lead=lead,
        trail=entry.doc_close + "\n",
        trail_multiline="\n" + indent + entry.doc_close + "\n",
        base_indent=indent,
        indent_unit=detect_indent_unit(text, entry.indent),
        max_lines=DOC_MAX_LINES,
        keep_in_block=True,
    )


def _above(
    text: str, function: FunctionAt, language: LanguageSupport, tree: tree_sitter.Tree, budgets: Budgets
) -> HolePlan:
    entry = language.entry
    at = line_start(text, function.start)
    while at > 0:  # above the decorators and attributes of the definition
        previous = line_start(text, at - 1)
        if not text[previous:at].strip().startswith(PREFIX_LINES):
            break
        at = previous
    above = text[line_start(text, at - 1) : at].strip() if at > 0 else ""
    markers = tuple(m.strip() for m in (entry.doc_open, entry.doc_line, entry.doc_close) if m.strip())
    if above and above.startswith(markers) or above.endswith("*/"):
        raise CommandError(f"{function.name or 'this function'} is already documented")
    indent = leading_whitespace(text, function.start)
    opening = indent + entry.doc_open + "\n" if entry.doc_open else ""
    closing = indent + entry.doc_close + "\n" if entry.doc_close else ""
    lead = opening + indent + entry.doc_line
    low, high = window(text, at, at, language, tree, budgets)
    pinned = f"{function.name} " if entry.name == "go" and function.name else ""  # Go doc convention
    return HolePlan(
        title=f"document {function.name or 'function'}",
        start=at,
        end=at,
        prefix=text[low:at] + lead,
        suffix="\n" + closing + text[at:high],
        before=text[low:at],
        after=text[at:high],
        language=entry.name,
        canvas_lengths=DOC_CANVAS,
        pinned=pinned,
        lead=lead,
        trail="\n" + closing,
        line_marker=indent + entry.doc_line,
        base_indent=indent,
        indent_unit=detect_indent_unit(text, entry.indent),
        max_lines=DOC_MAX_LINES,
        keep_in_block=True,
    )
