"""This product's version, from one place: the package metadata (pyproject.toml's ``version``)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DISTRIBUTION = "infill-diffusion"
UNKNOWN_VERSION = "0+unknown"
# A source tree that is not installed: the pyproject.toml of the clone this package runs from.
SOURCE_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def source_tree_version(pyproject: Path | None = None) -> str | None:
    """The ``version`` that ``pyproject`` (default: this clone's) declares for this distribution, or None
    where it declares none (no such file, another project's, or one that does not parse)."""
    try:
        text = (pyproject or SOURCE_PYPROJECT).read_text(encoding="utf-8")
        project = tomllib.loads(text).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(project, dict) or project.get("name") != DISTRIBUTION:
        return None
    declared = project.get("version")
    return declared if isinstance(declared, str) and declared else None


@cache
def package_version() -> str:
    """The installed distribution's version; from a source tree that is not installed, its pyproject.toml's;
    else ``0+unknown``."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return source_tree_version() or UNKNOWN_VERSION
