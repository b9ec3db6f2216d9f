"""Typing traces: seeded sessions of a user writing code into holes of real files, with human cadence.

Pure (no IO but reading the sources). A trace opens a few source files with the end of some lines cut
away (the holes), then visits the holes in a shuffled order, so it jumps between holes and files, and
types each missing text back: characters 80-300 ms apart, now and then a pause at a word boundary
(where the user waits for a suggestion), a typo deleted again, and in some pauses an explicit "suggest"
(an invoked request). ``speed`` divides every time, to run a trace faster in tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

TYPE, DELETE, JUMP, INVOKE = "type", "delete", "jump", "invoke"
KEY_GAP_MS = (80.0, 300.0)  # between characters
PAUSE_MS = (800.0, 2500.0)  # a pause at a word boundary, and after each hole
PAUSE_SHARE = 0.3  # of word boundaries
TYPO_SHARE = 0.03  # of characters: a wrong one, deleted again
MIN_PAUSE_MS = 600.0  # a gap after an edit at least this long (before ``speed``) is a pause
BOUNDARIES = frozenset(" (.,=:[")


@dataclass(frozen=True, slots=True)
class Hole:
    uri: str
    line: int
    column: int  # where the cut starts, in characters of the line
    target: str  # the text cut away, which the trace types back


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: float
    kind: str  # TYPE, DELETE, JUMP or INVOKE
    uri: str
    line: int
    column: int  # the cursor's column before the event (JUMP: where it lands)
    text: str = ""  # the typed character


@dataclass(frozen=True, slots=True)
class Trace:
    documents: dict[str, str]  # uri -> the text opened, holes cut
    events: tuple[Event, ...]
    pause_ms: float  # a gap after an edit at least this long is a pause
    end_ms: float  # the end of the last pause

    def pauses(self) -> list[int]:
        """Indices of the edits that a pause follows (a pause with an explicit "suggest" in it excluded)."""
        out = []
        for i, event in enumerate(self.events):
            if event.kind not in (TYPE, DELETE):
                continue
            following = self.events[i + 1] if i + 1 < len(self.events) else None
            if following is None or following.kind == JUMP or following.at_ms - event.at_ms >= self.pause_ms:
                if following is None or following.kind != INVOKE:
                    out.append(i)
        return out


def default_sources(root: Path) -> list[Path]:
    """Python files the repository holds: the vendored package under tests/, else the server's own code."""
    vendored = sorted((root / "tests" / "vendor" / "requests").glob("*.py"))
    return vendored or sorted((root / "infill_lsp").glob("*.py"))


def pick_holes(uri: str, text: str, rng: random.Random, count: int) -> list[Hole]:
    """Up to ``count`` holes: the ends of indented code lines, at least four lines apart."""
    lines = text.split("\n")
    candidates = []
    for number, line in enumerate(lines):
        body = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if indent and 16 <= len(body) <= 70 and body.isascii() and not body.startswith(("#", '"', "'", "<")):
            if "<FILL>" not in line and not body.endswith(("\\", '"""')):
                candidates.append(number)
    rng.shuffle(candidates)
    chosen: list[int] = []
    for number in candidates:
        if all(abs(number - other) >= 4 for other in chosen):
            chosen.append(number)
        if len(chosen) == count:
            break
    holes = []
    for number in sorted(chosen):
        line = lines[number].rstrip()
        indent = len(line) - len(line.lstrip(" "))
        column = indent + rng.randint(2, max(2, (len(line) - indent) // 2))
        holes.append(Hole(uri, number, column, line[column:]))
    return holes


def cut_holes(text: str, holes: list[Hole]) -> str:
    lines = text.split("\n")
    for hole in holes:
        lines[hole.line] = lines[hole.line][: hole.column]
    return "\n".join(lines)


def make_trace(
    sources: list[Path],
    *,
    seed: int,
    files: int = 3,
    holes_per_file: int = 3,
    invoke_share: float = 0.3,
    speed: float = 1.0,
    root: str = "file:///typing",
) -> Trace:
    """A typing session over ``files`` of ``sources`` (chosen by ``seed``), its times divided by ``speed``."""
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    rng = random.Random(seed)
    documents: dict[str, str] = {}
    holes: list[Hole] = []
    for path in rng.sample(sources, len(sources)):  # the first ``files`` of them with room for a hole
        uri = f"{root}/{path.name}"
        text = path.read_text(encoding="utf-8")
        mine = pick_holes(uri, text, rng, holes_per_file)
        if mine and len(documents) < files:
            documents[uri] = cut_holes(text, mine)
            holes += mine
    rng.shuffle(holes)
    events: list[Event] = []
    now = 0.0

    def gap() -> float:
        return min(KEY_GAP_MS[1], KEY_GAP_MS[0] + rng.expovariate(1 / 70))

    for hole in holes:
        now += rng.uniform(400, 1200)
        events.append(Event(now, JUMP, hole.uri, hole.line, hole.column))
        now += rng.uniform(300, 900)
        column = hole.column
        for char in hole.target:
            if char.isalnum() and rng.random() < TYPO_SHARE:
                events.append(Event(now, TYPE, hole.uri, hole.line, column, rng.choice("qxzjv")))
                now += gap() + 100
                events.append(Event(now, DELETE, hole.uri, hole.line, column + 1))
                now += gap()
            events.append(Event(now, TYPE, hole.uri, hole.line, column, char))
            column += 1
            if char in BOUNDARIES and rng.random() < PAUSE_SHARE:
                pause = rng.uniform(*PAUSE_MS)
                if rng.random() < invoke_share:
                    events.append(Event(now + 250, INVOKE, hole.uri, hole.line, column))
                now += pause
            else:
                now += gap()
        now += rng.uniform(*PAUSE_MS) - gap()
    scaled = tuple(Event(e.at_ms / speed, e.kind, e.uri, e.line, e.column, e.text) for e in events)
    return Trace(documents, scaled, MIN_PAUSE_MS / speed, now / speed)
