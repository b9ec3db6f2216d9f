"""File filters: which source files are code worth training on (language, path, size, content checks).

Pure functions over a path and its bytes/text. Each check returns a drop reason (a short string that
is also the key in the corpus summary) or None to keep the file.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from grammars import default_table

# Extension -> the model's language tag, from the language table (grammars/languages.toml): a row's
# corpus_extensions, filed under its model_tag (.tsx is typescript).
LANGUAGE_BY_SUFFIX: dict[str, str] = {
    ext: entry.model_tag for entry in default_table().values() for ext in entry.corpus_extensions
}

MIN_BYTES = 64
MAX_BYTES = 256 * 1024
MAX_LINE_CHARS = 1000
MAX_MEAN_LINE_CHARS = 120.0
MIN_ALPHA_FRACTION = 0.25

_VENDOR_DIRS = frozenset(
    {
        "vendor",
        "_vendor",
        "vendored",
        "_vendored",
        "third_party",
        "third-party",
        "thirdparty",
        "bower_components",
    }
)
_FIXTURE_DIRS = frozenset({"testdata", "fixtures", "__fixtures__", "__snapshots__"})
_MINIFIED_SUFFIXES = (".min.js", "-min.js", ".min.mjs", ".bundle.js", ".packed.js")
_GENERATED_STRONG = re.compile(
    r"auto-?generated|do not edit|code generated|@generated|automatically generated"
    r"|this file (?:was|is) generated|generated file|generated code",
    re.IGNORECASE,
)
_GENERATED_BY = re.compile(
    r"^\s*(?:#|//|/\*|\*|--|<!--).*\bgenerated (?:by|with|from|using)\b", re.IGNORECASE | re.MULTILINE
)
_HEAD_CHARS = 2048
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))


def language_of(path: str) -> str | None:
    """The corpus language (a model tag) of a file path, from its suffix (None: not collected)."""
    return LANGUAGE_BY_SUFFIX.get(PurePosixPath(path).suffix.lower())


_DECLARATION_SUFFIXES = (".d.ts", ".d.mts", ".d.cts")
_BUILD_DIRS = frozenset({"dist", "build", "cjs", "umd", "esm", "es5", "es2015", "_esm", "_cjs", "fesm2022"})


def priority(path: str) -> int:
    """0 for hand-written source, 1 for type declarations and compiled build output (taken last)."""
    lowered = path.lower()
    if lowered.endswith(_DECLARATION_SUFFIXES):
        return 1
    return int(any(part in _BUILD_DIRS for part in PurePosixPath(lowered).parts[:-1]))


def path_reason(path: str, *, nested_node_modules: bool = True) -> str | None:
    """Drop reason from the path alone: vendored copies, minified bundles, fixture directories."""
    lowered = path.lower()
    parts = PurePosixPath(lowered).parts
    dirs = parts[:-1]
    if any(d in _VENDOR_DIRS for d in dirs) or (nested_node_modules and "node_modules" in dirs):
        return "vendored"
    if lowered.endswith(_MINIFIED_SUFFIXES):
        return "minified"
    if any(d in _FIXTURE_DIRS for d in dirs):
        return "fixture"
    return None


def size_reason(size: int) -> str | None:
    if size < MIN_BYTES:
        return "too_small"
    if size > MAX_BYTES:
        return "too_large"
    return None


def decode_text(data: bytes) -> str | None:
    """UTF-8 text of a file, or None when it is binary (NUL bytes) or not valid UTF-8."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff")


def is_generated(text: str) -> bool:
    """True when the file's head says a tool wrote it ("Code generated ... DO NOT EDIT", "@generated")."""
    head = text[:_HEAD_CHARS]
    return bool(_GENERATED_STRONG.search(head) or _GENERATED_BY.search(head))


def is_minified(text: str) -> bool:
    """True for minified or machine-packed text: a very long line, or a high mean line length."""
    lines = text.splitlines() or [text]
    if max(len(line) for line in lines) > MAX_LINE_CHARS:
        return True
    return len(text) / len(lines) > MAX_MEAN_LINE_CHARS


def is_data_heavy(data: bytes) -> bool:
    """True when under a quarter of the bytes are ASCII letters (numeric tables, blobs, fixtures)."""
    letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    return letters < MIN_ALPHA_FRACTION * len(data)


def content_reason(data: bytes) -> tuple[str | None, str | None]:
    """(drop reason, decoded text) for a file's bytes; the text is None when the file is dropped."""
    reason = size_reason(len(data))
    if reason:
        return reason, None
    text = decode_text(data)
    if text is None:
        return "binary", None
    if is_generated(text):
        return "generated", None
    if is_minified(text):
        return "minified", None
    if is_data_heavy(data):
        return "data", None
    return None, text
