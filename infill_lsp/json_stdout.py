"""Keeping stdout for a command's JSON: while its work runs, whatever else writes to stdout goes to stderr.

``infill bench --json | jq`` must see one JSON document. Libraries print too: Ray's driver and its worker
processes, a model loader, a progress line. ``stdout_to_stderr`` points both Python's ``sys.stdout`` and file
descriptor 1 (which child processes inherit) at stderr while the block runs, and puts them back after it, so
the command prints its JSON on a clean stdout once the work is done.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """While the block runs (when ``enabled``), send stdout, Python's and the process's, to stderr."""
    if not enabled:
        yield
        return
    original = sys.stdout
    with contextlib.suppress(Exception):
        original.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1: only Python's stdout can be moved
        saved = -1
    if saved >= 0:
        os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        with contextlib.suppress(Exception):
            original.flush()  # what a library wrote through the old object, while fd 1 was stderr
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)
        sys.stdout = original
