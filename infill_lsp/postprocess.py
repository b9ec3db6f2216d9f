"""Text shaping for fills: the pieces ``fill.finish_fill`` is made of.

Pure: cut a fill to its first line, drop degenerate repeated lines, bring indentation to the
document's, find what repeats the text after the hole, and measure parse damage (tree-sitter ERROR and
MISSING nodes and unmatched brackets).
"""

from __future__ import annotations

from collections import Counter

from infill_lsp.context import only_closers
from infill_lsp.languages import LanguageSupport

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = frozenset(_OPEN.values())


def parse_damage(language: LanguageSupport, text: str) -> tuple[int, int]:
    """Return (ERROR and MISSING nodes, unmatched bracket tokens) in the parse of ``text``.

    Brackets are counted on the tree's tokens, so brackets inside strings and comments do not count,
    and an ERROR region that swallows an unclosed ``((`` still shows up.
    """
    cursor = language.parse(text.encode("utf-8", "surrogatepass")).walk()
    errors = unmatched = 0
    stack: list[str] = []
    while True:
        node = cursor.node
        if node.is_error or node.is_missing:
            errors += 1
        if node.child_count == 0 and not node.is_missing:
            kind = node.type
            if kind in _OPEN:
                stack.append(_OPEN[kind])
            elif kind in _CLOSE:
                if stack and stack[-1] == kind:
                    stack.pop()
                else:
                    unmatched += 1
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent():
            if cursor.goto_next_sibling():
                break
        else:
            return errors, unmatched + len(stack)


def error_count(language: LanguageSupport, text: str) -> int:
    """Return the number of ERROR and MISSING nodes in the parse of ``text``."""
    return parse_damage(language, text)[0]


def first_line(fill: str) -> str:
    return fill.split("\n", 1)[0].rstrip("\r")


def drop_repeated_lines(fill: str, previous_line: str = "") -> str:
    """Cut ``fill`` before the first non-blank line that repeats the non-blank line before it.

    ``previous_line`` is the last complete line of the prefix: a fill that starts by repeating it is
    cut too. Blank lines between repeats do not hide them.
    """
    kept: list[str] = []
    last = previous_line.strip()
    for line in fill.split("\n"):
        stripped = line.strip()
        if stripped and stripped == last:
            break
        kept.append(line)
        if stripped:
            last = stripped
    return "\n".join(kept)


def leading(line: str) -> str:
    """The leading whitespace of ``line``."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def _space_step(widths: list[int]) -> int:
    steps: Counter[int] = Counter(b - a for a, b in zip(widths, widths[1:], strict=False) if b > a)
    return steps.most_common(1)[0][0] if steps else 0


def normalise_indentation(fill: str, indent_unit: str, base: str = "") -> str:
    """Re-indent the fill's continuation lines from the fill's own step to ``indent_unit``.

    ``base`` is the leading whitespace of the cursor's line. Tabs become spaces (or spaces tabs)
    and a 2-space fill in a 4-space document becomes 4-space, relative to ``base``.
    """
    lines = fill.split("\n")
    if len(lines) < 2:
        return fill
    tail = lines[1:]
    if indent_unit == "\t":
        widths = [len(base.expandtabs(4))] + [
            len(leading(x)) for x in tail if x.strip() and "\t" not in leading(x)
        ]
        step = _space_step(widths) or 4
        fixed = []
        for line in tail:
            lead = leading(line)
            if lead and "\t" not in lead:
                lead = "\t" * (len(lead) // step) + " " * (len(lead) % step)
            fixed.append(lead + line.lstrip(" \t"))
        return "\n".join([lines[0], *fixed])
    width = len(indent_unit)
    tail = [leading(x).replace("\t", indent_unit) + x.lstrip(" \t") for x in tail]
    base_width = len(base.replace("\t", indent_unit))
    relative = [len(leading(x)) - base_width for x in tail if x.strip() and len(leading(x)) >= base_width]
    step = _space_step([0, *relative])
    if not step or step == width or any(r % step for r in relative):
        return "\n".join([lines[0], *tail])
    fixed = []
    for line in tail:
        lead = len(leading(line))
        if line.strip() and lead >= base_width:
            lead = base_width + (lead - base_width) // step * width
        elif line.strip():
            lead = lead // step * width
        fixed.append(" " * lead + line.lstrip(" ") if line.strip() else line)
    return "\n".join([lines[0], *fixed])


def closer_overlap(fill: str, rest_of_line: str) -> int:
    """Length of the longest tail of ``fill`` that the rest of the line repeats, if only closers."""
    head = rest_of_line.lstrip(" \t")
    for k in range(min(len(fill), len(head)), 0, -1):
        candidate = head[:k]
        if fill.endswith(candidate) and only_closers(candidate) and candidate.strip():
            return k
    return 0


def suffix_line_overlap(fill: str, suffix: str) -> int:
    """Number of trailing lines of ``fill`` that repeat the next non-blank lines of the suffix."""
    fill_lines = [x.strip() for x in fill.split("\n")]
    after = [x.strip() for x in suffix.split("\n")[1:] if x.strip()]
    for k in range(min(len(fill_lines) - 1, len(after)), 0, -1):
        if fill_lines[-k:] == after[:k] and any(fill_lines[-k:]):
            return k
    return 0


def indent_continuation(fill: str, base: str) -> str:
    """Indent the lines after the first that sit left of ``base`` (they would leave the block) to it."""
    lines = fill.split("\n")
    fixed = [x if not x.strip() or x.startswith(base) else base + x.lstrip(" \t") for x in lines[1:]]
    return "\n".join([lines[0], *fixed])
