"""Fast and soak counts: the default suite repeats each fault, fuzz and load case a few times, the soak many.

The soak runs when ``INFILL_SOAK=1`` is set, or when pytest is asked for the ``soak`` marker
(``pytest -m soak``: tests/conftest.py then sets ``INFILL_SOAK=1`` before any test module is imported,
so hypothesis ``max_examples`` and loop counts chosen at import time see it). Tests whose counts scale
carry the ``soak`` marker, so ``pytest -m soak`` runs exactly those, at their full counts.
"""

from __future__ import annotations

import os

import pytest


def soaking() -> bool:
    return os.environ.get("INFILL_SOAK") == "1"


def cases(fast: int, soak: int) -> int:
    """``soak`` repetitions in the soak run, ``fast`` in the default suite."""
    return soak if soaking() else fast


mark = pytest.mark.soak
