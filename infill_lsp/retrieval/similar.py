"""Source (b): the windows of other files most like the code before the cursor (Copilot's shape).

The query is the word set of the lines before the cursor's line (so it holds still while the user types
within a line); each candidate file is cut into windows of ``WINDOW_LINES`` lines, slid a line at a time,
scored by Jaccard similarity of word sets; the best window per file, the best ``TOP_WINDOWS`` files.
Pure, and linear in a file's words: a window's counts are updated as it slides.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from infill_lsp.retrieval.snippets import Snippet

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WINDOW_LINES = 60
QUERY_LINES = 20
TOP_WINDOWS = 4
MIN_SIMILARITY = 0.05


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # 0-based first line
    end: int  # one past the last line
    score: float


def line_words(text: str) -> list[list[str]]:
    """Each line's words (the unit the windows slide over)."""
    return [WORD.findall(line) for line in text.split("\n")]


def query_words(lines: list[str], line: int, count: int = QUERY_LINES) -> set[str]:
    """The word set of the ``count`` lines before ``line``."""
    return {w for row in lines[max(0, line - count) : line] for w in WORD.findall(row)}


def best_window(words: list[list[str]], query: set[str], size: int = WINDOW_LINES) -> Window | None:
    """The window of ``size`` lines with the highest Jaccard similarity to ``query`` (the earliest on ties)."""
    if not query or not words:
        return None
    counts: Counter[str] = Counter()
    shared = 0  # distinct words of the window that the query holds

    def add(word: str) -> None:
        nonlocal shared
        counts[word] += 1
        if counts[word] == 1 and word in query:
            shared += 1

    def drop(word: str) -> None:
        nonlocal shared
        counts[word] -= 1
        if counts[word] == 0:
            del counts[word]
            if word in query:
                shared -= 1

    best: Window | None = None
    size = min(size, len(words))
    for row in range(len(words)):
        for word in words[row]:
            add(word)
        if row >= size:
            for word in words[row - size]:
                drop(word)
        if row >= size - 1:
            union = len(counts) + len(query) - shared
            score = shared / union if union else 0.0
            if best is None or score > best.score:
                best = Window(row - size + 1, row + 1, score)
    return best


def similar_windows(
    query: set[str],
    files: list[tuple[str, str, list[list[str]]]],
    *,
    deadline: float = float("inf"),
    top: int = TOP_WINDOWS,
) -> list[Snippet]:
    """The best window of each of ``files`` ((shown path, text, line words)), the ``top`` best, best first."""
    scored: list[tuple[float, str, Window, str]] = []
    for shown_path, text, words in files:
        if time.perf_counter() > deadline:
            break
        window = best_window(words, query)
        if window is not None and window.score >= MIN_SIMILARITY:
            scored.append((window.score, shown_path, window, text))
    scored.sort(key=lambda s: (-s[0], s[1]))
    out = []
    for score, shown_path, window, text in scored[:top]:
        body = "\n".join(text.split("\n")[window.start : window.end]).strip("\n")
        lines = f"lines {window.start + 1}-{window.end}"
        why = f"similarity {score:.2f} to the {QUERY_LINES} lines before the cursor ({lines})"
        out.append(Snippet("similar", shown_path, window.start, window.end - 1, body, why, score))
    return out
