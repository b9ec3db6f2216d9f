"""The one packer: snippets in priority order into the character budget, written as one stable block.

Snippets are taken by priority until the budget is spent (one that does not fit whole is cut at a line
boundary when enough of it fits); a snippet whose lines the prefix or suffix window already shows, or that
repeats one already taken, is dropped (a module's outline, which lists first lines only, repeats none, but is
dropped in the end when every definition it lists is shown whole). The block is written in file order, each
file once under a marker line in the document's comment syntax (``# file: app/models.py``), its snippets in
line order: the same snippets always give the same bytes, whatever order the sources found them in, so the
engine keeps its encoder cache for the prompt's start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infill_lsp.retrieval.snippets import Snippet, by_priority

SHOWN_SHARE = 0.8  # a snippet is "already shown" when this share of its lines are in the windows
OVERLAP_SHARE = 0.5  # a snippet repeats chosen ones when this share of its file lines are theirs
MIN_CUT_LINES = 2  # a cut snippet keeps at least this many lines, or is left out
# Sources whose snippets list the first lines of a file's definitions: they repeat no body, so they neither
# count as the file lines they name nor are dropped for them.
LISTINGS = frozenset({"outlines"})


@dataclass(slots=True)
class Packed:
    """The block, the snippets in it, and the ones left out with why."""

    block: str = ""
    chosen: list[Snippet] = field(default_factory=list)
    dropped: list[tuple[Snippet, str]] = field(default_factory=list)


def marker(comment: str, path: str) -> str:
    return f"{comment} file: {path}\n"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def already_shown(text: str, shown_lines: set[str]) -> bool:
    lines = _lines(text)
    return bool(lines) and sum(line in shown_lines for line in lines) >= SHOWN_SHARE * len(lines)


def overlap(snippet: Snippet, ranges: list[tuple[int, int]]) -> float:
    """The share of ``snippet``'s file lines that ``ranges`` (of the same file) already cover."""
    lines = range(snippet.line, snippet.end_line + 1)
    covered = sum(any(low <= row <= high for low, high in ranges) for row in lines)
    return covered / max(1, len(lines))


def write_block(chosen: list[Snippet], comment: str) -> str:
    """The block of ``chosen``: files in path order, each under one marker, snippets in line order (a file's
    outline before a definition at its line)."""
    files: dict[str, list[Snippet]] = {}
    for snippet in sorted(chosen, key=lambda s: (s.path, s.line, s.source not in LISTINGS, s.text)):
        files.setdefault(snippet.path, []).append(snippet)
    return "".join(marker(comment, path) + "\n\n".join(s.text for s in group) + "\n\n" for path, group in files.items())


def pack(snippets: list[Snippet], *, budget: int, comment: str, shown: str = "") -> Packed:
    """Fill ``budget`` characters with ``snippets`` by priority; ``shown`` is the prefix and suffix windows."""
    packed = Packed()
    if not comment or budget <= 0:
        packed.dropped = [(s, "no room for context" if comment else "the language has no line comment")
                          for s in snippets]  # fmt: skip
        return packed
    shown_lines = set(_lines(shown))
    used = 0
    headed: set[str] = set()
    taken: dict[str, list[tuple[int, int]]] = {}  # file -> line ranges chosen
    for snippet in by_priority(snippets):
        text = snippet.text.strip("\n")
        if not text.strip():
            packed.dropped.append((snippet, "empty"))
            continue
        if already_shown(text, shown_lines):
            packed.dropped.append((snippet, "the prefix or suffix window shows it"))
            continue
        listing = snippet.source in LISTINGS
        if not listing and overlap(snippet, taken.get(snippet.path, [])) >= OVERLAP_SHARE:
            packed.dropped.append((snippet, "repeats a snippet already chosen"))
            continue
        header = 0 if snippet.path in headed else len(marker(comment, snippet.path))
        room = budget - used - header - 2
        if len(text) > room:
            cut = text[: max(0, room)].rsplit("\n", 1)[0] if room > 0 else ""
            if len(_lines(cut)) < MIN_CUT_LINES:
                packed.dropped.append((snippet, "over the budget"))
                continue
            text = cut
        end_line = snippet.end_line if text == snippet.text.strip("\n") else snippet.line + text.count("\n")
        chosen = Snippet(snippet.source, snippet.path, snippet.line, end_line, text, snippet.why, snippet.score)
        packed.chosen.append(chosen)
        if not listing:
            taken.setdefault(snippet.path, []).append((snippet.line, end_line))
        headed.add(snippet.path)
        used += header + len(text) + 2
    for listing in [s for s in packed.chosen if s.source in LISTINGS]:  # a listing whose every line is shown whole
        shown_whole = {line for s in packed.chosen if s.path == listing.path and s.source not in LISTINGS
                       for line in _lines(s.text)}
        if set(_lines(listing.text)) <= shown_whole:
            packed.chosen.remove(listing)
            packed.dropped.append((listing, "the definitions it lists are shown whole"))
    packed.block = write_block(packed.chosen, comment)
    return packed
