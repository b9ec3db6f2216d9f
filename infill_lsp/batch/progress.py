"""The progress bar of a batch run (rich, on stderr): holes done, holes per second, time left."""

from __future__ import annotations

import sys
from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, holes: int = 1) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, holes: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """A rich progress bar; imported only when shown."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("filling holes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._task = None

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("holes", total=total, rate="-- holes/s")

    def advance(self, holes: int = 1) -> None:
        if self._task is None:
            return
        self._bar.advance(self._task, holes)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, rate=f"{speed:.2f} holes/s" if speed else "-- holes/s")

    def close(self) -> None:
        self._bar.stop()


def progress_for(requested: bool | None) -> Progress:
    """A bar when asked (--progress), or by default when stderr is a terminal."""
    show = sys.stderr.isatty() if requested is None else requested
    return RichProgress() if show else NoProgress()
