"""A piece of cross-file context, where it comes from and why it was chosen; the sources in priority order."""

from __future__ import annotations

from dataclasses import dataclass

# Highest priority first: what the client sent, definitions of the names at the cursor, definitions the
# document imports from open documents, outlines of the modules it imports from other files, the latest edits
# elsewhere, windows like the code before the cursor.
SOURCES = ("extra", "definitions", "outlines", "used", "imports", "recent", "similar")
PRIORITY = {name: rank for rank, name in enumerate(SOURCES)}


@dataclass(frozen=True, slots=True)
class Snippet:
    """Code from another file: the source that found it, its file (as shown), its first line there, why."""

    source: str
    path: str  # the file as the prompt names it: relative to the workspace
    line: int  # 0-based first line in that file (orders snippets of one file)
    end_line: int  # 0-based last line there
    text: str
    why: str
    score: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "path": self.path, "line": self.line, "end_line": self.end_line,
                "why": self.why, "score": round(self.score, 3), "text": self.text}  # fmt: skip


def by_priority(snippets: list[Snippet]) -> list[Snippet]:
    """``snippets`` ordered by their source's priority, each source's own order kept."""
    return sorted(snippets, key=lambda s: PRIORITY.get(s.source, len(SOURCES)))
