"""Edit commands as holes: fill a selection, complete a function body; what to ask and what to replace.

Pure: a document's text, language and tree in, a ``HolePlan`` out (raising ``CommandError`` with a
message for the user when the command does not apply); the fill layer (``fill.finish_fill``) turns the
engine's fill into the replacement text.
"""

from __future__ import annotations

import math
import re

import tree_sitter

from infill_lsp.checks import names_in_code
from infill_lsp.context import Budgets, detect_indent_unit, prefix_cut, suffix_cut
from infill_lsp.fill import HolePlan
from infill_lsp.languages import LanguageSupport
from infill_lsp.syntax import (
    ByteMap,
    FunctionAt,
    body_statements,
    enclosing_function,
    is_comment,
    is_docstring,
    node_text,
)

MAX_INSTRUCTION_CHARS = 200
DEFAULT_BUDGETS = Budgets()
MAX_EDIT_LINES = 200
BODY_CANVAS = (64, 128, 256)
PLACEHOLDER = re.compile(
    r"^(pass|\.\.\.|(todo|unimplemented)!\(.*\)|panic\(.*\)|throw new Error\(.*\)"
    r"|raise NotImplementedError(\(.*\))?)\s*;?$",
    re.DOTALL,
)


class CommandError(Exception):
    """An edit command that does not apply here; the message is shown to the user."""


def canvas_for(chars: int) -> tuple[int, ...]:
    """Canvas lengths (tokens) for a hole that held about ``chars`` characters."""
    tokens = max(8, math.ceil(chars / 3 / 8) * 8)
    return tuple(sorted({max(8, tokens // 2), tokens, min(512, tokens * 2)}))


def line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def leading_whitespace(text: str, offset: int) -> str:
    """The indentation of the line holding ``offset``."""
    start = line_start(text, offset)
    line = text[start : len(text) if (e := text.find("\n", start)) == -1 else e]
    return line[: len(line) - len(line.lstrip(" \t"))]


def comment_line(language: LanguageSupport | None, text: str) -> str:
    """``text`` as a comment in the language's syntax (plain text: as is)."""
    entry = language.entry if language else None
    if entry is not None and entry.line_comment:
        return f"{entry.line_comment} {text}"
    if entry is not None and entry.block_comment:
        return f"{entry.block_comment[0]} {text} {entry.block_comment[1]}"
    return text


def window(
    text: str,
    start: int,
    end: int,
    language: LanguageSupport | None,
    tree: tree_sitter.Tree | None,
    budgets: Budgets,
) -> tuple[int, int]:
    """Where the prompt's prefix starts and its suffix ends around the span ``start:end``."""
    return (
        prefix_cut(text, start, budgets.prefix_chars, language, tree),
        suffix_cut(text, end, budgets.suffix_chars, language, tree),
    )


def fill_selection_plan(
    text: str,
    start: int,
    end: int,
    *,
    language: LanguageSupport | None = None,
    tree: tree_sitter.Tree | None = None,
    instruction: str = "",
    budgets: Budgets = DEFAULT_BUDGETS,
) -> HolePlan:
    """Re-mask exactly ``text[start:end]``; an instruction becomes a comment line above the hole's line."""
    start, end = sorted((max(0, start), min(len(text), end)))
    if start == end:
        raise CommandError("select the text to fill first")
    low, high = window(text, start, end, language, tree, budgets)
    hole_line = line_start(text, start)
    instruction = " ".join(instruction.split())[:MAX_INSTRUCTION_CHARS]
    note = ""
    if instruction:
        note = leading_whitespace(text, start) + comment_line(language, instruction) + "\n"
    selected = text[start:end]
    return HolePlan(
        title="fill selection",
        start=start,
        end=end,
        prefix=text[low:hole_line] + note + text[hole_line:start],
        suffix=text[end:high],
        before=text[low:start],
        after=text[end:high],
        original=selected,
        language=language.name if language else "text",
        canvas_lengths=canvas_for(len(selected)),
        single_line="\n" not in selected,
        base_indent=leading_whitespace(text, start),
        indent_unit=detect_indent_unit(text, language.entry.indent if language else "    "),
        max_lines=MAX_EDIT_LINES,
        keep_in_block=True,
        known_names=names_in_code(language, tree, text),
    )


def _placeholder(node: tree_sitter.Node) -> bool:
    body = node_text(node).strip()
    if is_comment(node):
        return "TODO" in body
    return bool(PLACEHOLDER.match(body))


def complete_body_plan(
    text: str,
    offset: int,
    *,
    language: LanguageSupport,
    tree: tree_sitter.Tree,
    budgets: Budgets = DEFAULT_BUDGETS,
) -> HolePlan:
    """Fill the body of the function around ``offset`` when it is empty or a placeholder."""
    function = enclosing_function(language, tree, text, offset)
    if function is None:
        raise CommandError("no function around the cursor")
    statements = body_statements(function.body)
    code = [s for s in statements if not (_placeholder(s) or is_comment(s) or is_docstring(s))]
    if code:
        raise CommandError(f"the body of {function.name or 'this function'} is not empty")
    unit = detect_indent_unit(text, language.entry.indent)
    outer = leading_whitespace(text, function.start)
    braces = text[function.body_start : function.body_start + 1] == "{"
    placeholders = [s for s in statements if _placeholder(s)]
    kept = [s for s in statements if s not in placeholders]
    byte_to_char = ByteMap(text).char
    if braces:
        inner = outer + unit
        hole_start = byte_to_char(kept[-1].end_byte) if kept else function.body_start + 1
        hole_end = function.body_end - 1
        lead, trail = "\n" + inner, "\n" + outer
    elif placeholders:  # an indented body: replace the placeholder statements in place
        hole_start = byte_to_char(placeholders[0].start_byte)
        hole_end = byte_to_char(placeholders[-1].end_byte)
        inner, lead, trail = leading_whitespace(text, hole_start), "", ""
        if "\n" not in text[function.start : hole_start]:  # `def f(): pass`: the body moves to its own lines
            hole_start = len(text[:hole_start].rstrip(" \t"))
            inner = outer + unit
            lead = "\n" + inner
    else:  # an indented body that is empty or only a docstring: start a line after it
        inner = leading_whitespace(text, byte_to_char(kept[-1].start_byte)) if kept else outer + unit
        hole_start = hole_end = byte_to_char(kept[-1].end_byte) if kept else function.end
        lead, trail = "\n" + inner, ""
    low, high = window(text, hole_start, hole_end, language, tree, budgets)
    return HolePlan(
        title=f"complete {function.name or 'body'}",
        start=hole_start,
        end=hole_end,
        prefix=text[low:hole_start] + lead,
        suffix=trail + text[hole_end:high],
        before=text[low:hole_start],
        after=text[hole_end:high],
        original=text[hole_start:hole_end],
        language=language.name,
        canvas_lengths=BODY_CANVAS,
        lead=lead,
        trail=trail,
        base_indent=inner,
        indent_unit=unit,
        max_lines=MAX_EDIT_LINES,
        keep_in_block=True,
        known_names=names_in_code(language, tree, text),
    )


def function_at(language: LanguageSupport | None, tree: tree_sitter.Tree | None, text: str, offset: int):
    """The function around ``offset``, or None (also for languages without functions.scm)."""
    if language is None or tree is None:
        return None
    return enclosing_function(language, tree, text, offset)


def body_is_fillable(function: FunctionAt) -> bool:
    """True when infill.completeBody applies: the body holds only placeholders, comments, a docstring."""
    return all(_placeholder(s) or is_comment(s) or is_docstring(s) for s in body_statements(function.body))
