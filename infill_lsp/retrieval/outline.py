"""A long definition shown as its outline: the lines that name it, then its members' first lines.

A prompt's cross-file block holds a few hundred tokens; one class shown whole would take all of it, while
what a fill needs of another file is mostly how to call it: the definition's own signature and those of its
members. ``outline`` keeps a definition whole when it fits ``limit`` characters; otherwise it keeps the head
(the lines up to the one naming it, and the rest of a signature that spans lines), then the member lines
(those at the body's first indentation that start a declaration, in any of the supported languages), and
marks each elided body with a line holding the language's ellipsis. Pure text in, text out; indentation is
the only structure it reads, so it needs no parse at request time.
"""

from __future__ import annotations

import re

# A member line starts with one of these words (after decorators/annotations are skipped); covers the
# declaration keywords of the languages with definition queries.
DECLARATION = re.compile(
    r"^(?:@\w|#\[|(?:export\s+)?(?:default\s+)?"
    r"(?:pub(?:\([^)]*\))?|public|private|protected|internal|static|abstract|final|override|open|async|unsafe|"
    r"const|virtual|inline|extern|readonly|sealed|lazy|suspend|mutating|class|struct|enum|interface|trait|type|"
    r"def|defp|defmacro|fn|func|function|fun|let|val|var|impl|module|object|record|protocol|extension|init|"
    r"get|set|constructor|operator|data|case)\b)"
)
HEAD_LINES = 12  # lines kept after the naming line when a signature spans lines (until its body opens)
LONE_HEAD_LINES = 6  # a long definition without member lines: this many of its first lines
CLOSER = re.compile(r"^(?:[})\]];?|end)$")
# In a type (a class, struct, interface...), a field is a member too: ``name: Type``, ``name = value``, ``Type name;``.
FIELD = re.compile(r"^[A-Za-z_]\w*\s*(?::(?!:)|=(?!=))|^[A-Za-z_][\w<>\[\], ?*&]*\s+[A-Za-z_]\w*\s*[;=]")
TYPE_KINDS = frozenset(("class", "type", "interface", "impl", "module", "constant"))
SIGNATURE_END = re.compile(r"(?::|\{|=>?|\bdo|\bwhere|\bthen|\bbegin)\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def outline(text: str, signature: str = "", limit: int = 600, ellipsis: str = "...", kind: str = "") -> str:
    """``text`` if it fits ``limit`` characters, else its outline (see the module's doc), itself cut to
    ``limit`` at a line boundary. ``signature`` is the line naming the definition (the head ends at or after
    it); ``kind`` the definition's (``Definition.kind``): a type's fields are members too."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    named = next((row for row, line in enumerate(lines) if signature and line.strip() == signature.strip()), 0)
    head_end = named
    while head_end < min(len(lines) - 1, named + HEAD_LINES) and not SIGNATURE_END.search(lines[head_end].rstrip()):
        head_end += 1
    head = lines[: head_end + 1]
    body = lines[head_end + 1 :]
    base = _indent(lines[named])
    member = next((_indent(line) for line in body if line.strip() and _indent(line) > base), None)
    closing = body[-1] if body and _indent(body[-1]) <= base and CLOSER.match(body[-1].strip()) else None
    if closing is not None:
        body = body[:-1]
    kept = list(head)
    members = 0
    if member is not None:
        elided = False
        for line in body:
            stripped = line.strip()
            if stripped and _indent(line) == member and (
                    DECLARATION.match(stripped) or kind in TYPE_KINDS and FIELD.match(stripped)):
                kept.append(line)
                members += 1
                elided = False
            elif not elided and line.strip() and _indent(line) > base:
                kept.append(" " * _indent(line) + ellipsis)
                elided = True
    if not members:  # no member lines: the first lines
        kept = lines[: max(len(head), LONE_HEAD_LINES)] + [" " * (member or base + 4) + ellipsis]
    tail = "" if closing is None else "\n" + closing
    out = "\n".join(kept)
    if len(out) + len(tail) > limit:  # cut at a line boundary, the closing line kept
        cut = out[: max(0, limit - len(tail))]
        out = cut.rsplit("\n", 1)[0] if "\n" in cut else cut
    return out + tail
