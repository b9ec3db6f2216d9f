"""The language table (``languages.toml``) and the tree-sitter query files beside it, as plain data.

This module reads files only (no tree-sitter): compiling grammars and queries is
``infill_lsp.languages``'s job. The engine and training import it for the model's language tags and
the extension map, so it stays light.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

TABLE_FILE = "languages.toml"
QUERY_KINDS = ("boundaries", "holes")  # every language has these
OPTIONAL_QUERY_KINDS = ("functions", "imports", "definitions")  # edit commands and cross-file context
DOC_PLACEMENTS = ("", "body", "above")
INHERITS = "; inherits:"  # a query's first line: the folders whose same query comes first


class GrammarTableError(ValueError):
    """The language table or one of its query folders is malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageEntry:
    """One row of the language table."""

    name: str
    title: str  # the name people write ("C++"); load_table fills in the table name
    language_ids: tuple[str, ...]
    extensions: tuple[str, ...]
    grammar_module: str
    grammar_function: str
    query_dir: Path
    line_comment: str = ""
    block_comment: tuple[str, str] | None = None
    block_openers: tuple[str, ...] = ()
    indent: str = "    "
    doc_placement: str = ""  # "body": a docstring opening the body; "above": a comment above; "": none
    doc_open: str = ""  # first line's marker (a docstring's quotes, "/**")
    doc_line: str = ""  # every line's marker ("/// ", " * ")
    doc_close: str = ""  # last line's marker
    package_is_folder: bool = False  # an import names a folder (Go packages), not a file
    model_tag: str = ""  # the model's language tag (<lang:TAG>); load_table fills in the name
    corpus_extensions: tuple[str, ...] = ()  # extensions the training corpus collects as this tag

    def has_query(self, kind: str) -> bool:
        return (self.query_dir / f"{kind}.scm").is_file()

    def query_source(self, kind: str) -> str:
        """Return the text of ``<query_dir>/<kind>.scm``."""
        if kind not in QUERY_KINDS + OPTIONAL_QUERY_KINDS:
            known = QUERY_KINDS + OPTIONAL_QUERY_KINDS
            raise GrammarTableError(f"unknown query kind {kind!r}; expected one of {known}")
        try:
            return read_query(self.query_dir, f"{kind}.scm")
        except GrammarTableError as exc:
            raise GrammarTableError(f"language {self.name!r}: {exc}") from None


def grammars_dir() -> Path:
    """Return the folder holding the table and the query folders."""
    return Path(str(resources.files(__name__)))


def read_query(query_dir: Path, file_name: str) -> str:
    """The text of the query ``<query_dir>/<file_name>``, after the same query of each folder its first line
    names (``; inherits: javascript``): a grammar that extends another's shares that one's queries and
    adds its own."""
    return _read_query(query_dir, file_name, ())


def _read_query(query_dir: Path, file_name: str, chain: tuple[Path, ...]) -> str:
    path = query_dir / file_name
    if path in chain:
        raise GrammarTableError(f"{path} inherits from itself: {' -> '.join(map(str, (*chain, path)))}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GrammarTableError(f"cannot read query {path}: {exc}") from None
    first = text.partition("\n")[0]
    if not first.startswith(INHERITS):
        return text
    parents = [name.strip() for name in first.removeprefix(INHERITS).split(",")]
    if not all(parents):
        raise GrammarTableError(f"{path}: {INHERITS!r} must name folders of grammars/, got {first!r}")
    inherited = [_read_query(query_dir.parent / name, file_name, (*chain, path)) for name in parents]
    return "".join(part if part.endswith("\n") else part + "\n" for part in inherited) + text


def read_table(path: Path, error: type[ValueError], what: str) -> dict:
    """The TOML table at ``path``; ``error`` (saying which ``what`` it is) when it does not read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None


def _strings(name: str, row: dict, key: str, *, required: bool = True) -> tuple[str, ...]:
    value = row.get(key, [] if not required else None)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GrammarTableError(f"language {name!r}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def _entry(name: str, row: object, root: Path) -> LanguageEntry:
    if not isinstance(row, dict):
        raise GrammarTableError(f"language {name!r}: expected a table")
    grammar = row.get("grammar")
    if not isinstance(grammar, str) or grammar.count(":") != 1 or not all(grammar.split(":")):
        raise GrammarTableError(f"language {name!r}: 'grammar' must read 'module:function', got {grammar!r}")
    module, function = grammar.split(":")
    block = _strings(name, row, "block_comment", required=False)
    if len(block) not in (0, 2):
        raise GrammarTableError(f"language {name!r}: 'block_comment' must be [] or [open, close]")
    query_dir = root / str(row.get("queries", name))
    missing = [k for k in QUERY_KINDS if not (query_dir / f"{k}.scm").is_file()]
    if missing:
        raise GrammarTableError(
            f"language {name!r}: {query_dir} lacks {', '.join(k + '.scm' for k in missing)}"
        )
    line_comment = row.get("line_comment", "")
    if not isinstance(line_comment, str):
        raise GrammarTableError(f"language {name!r}: 'line_comment' must be a string")
    indent = row.get("indent", "    ")
    if not isinstance(indent, str) or not indent or indent.strip(" \t"):
        raise GrammarTableError(f"language {name!r}: 'indent' must be a tab or spaces")
    doc = {k: row.get(k, "") for k in ("doc_placement", "doc_open", "doc_line", "doc_close")}
    if not all(isinstance(v, str) for v in doc.values()) or doc["doc_placement"] not in DOC_PLACEMENTS:
        raise GrammarTableError(
            f"language {name!r}: 'doc_placement' must be one of {DOC_PLACEMENTS} and doc markers strings"
        )
    package_is_folder = row.get("package_is_folder", False)
    if not isinstance(package_is_folder, bool):
        raise GrammarTableError(f"language {name!r}: 'package_is_folder' must be true or false")
    model_tag = row.get("model_tag", name)
    if not isinstance(model_tag, str) or not model_tag:
        raise GrammarTableError(f"language {name!r}: 'model_tag' must be a non-empty string")
    title = row.get("title", name)
    if not isinstance(title, str) or not title.strip() or title != title.strip() or "\n" in title:
        raise GrammarTableError(f"language {name!r}: 'title' must be a non-empty one-line string")
    extensions = tuple(e.lower() for e in _strings(name, row, "extensions"))
    corpus_extensions = extensions
    if "corpus_extensions" in row:
        corpus_extensions = tuple(e.lower() for e in _strings(name, row, "corpus_extensions", required=False))
        if not set(corpus_extensions) <= set(extensions):
            raise GrammarTableError(f"language {name!r}: 'corpus_extensions' must be among 'extensions'")
    return LanguageEntry(
        name=name,
        title=title,
        package_is_folder=package_is_folder,
        model_tag=model_tag,
        corpus_extensions=corpus_extensions,
        language_ids=_strings(name, row, "language_ids"),
        extensions=extensions,
        grammar_module=module,
        grammar_function=function,
        query_dir=query_dir,
        line_comment=line_comment,
        block_comment=(block[0], block[1]) if block else None,
        block_openers=_strings(name, row, "block_openers", required=False),
        indent=indent,
        **doc,
    )


def load_table(path: Path | None = None) -> dict[str, LanguageEntry]:
    """Read the language table (default: the packaged one) and return its rows by language name."""
    table_path = path or grammars_dir() / TABLE_FILE
    raw = read_table(table_path, GrammarTableError, "language table")
    entries = {name: _entry(name, row, table_path.parent) for name, row in raw.items()}
    seen: dict[str, str] = {}
    for entry in entries.values():
        for key in (*entry.language_ids, *entry.extensions):
            if key in seen:
                raise GrammarTableError(f"{key!r} is claimed by both {seen[key]!r} and {entry.name!r}")
            seen[key] = entry.name
    return entries


@functools.cache
def default_table() -> dict[str, LanguageEntry]:
    """The packaged language table, read once per process (treat it as read-only)."""
    return load_table()


@functools.cache
def _default_language_ids() -> dict[str, LanguageEntry]:
    return {key: entry for entry in default_table().values() for key in entry.language_ids}


def entry_for_language(language: str) -> LanguageEntry | None:
    """The packaged table's language named ``language``, as a table name ("tsx") or an editor language id
    ("typescriptreact"); None when neither."""
    return default_table().get(language) or _default_language_ids().get(language)


@functools.cache
def _default_extensions() -> dict[str, LanguageEntry]:
    return {ext: entry for entry in default_table().values() for ext in entry.extensions}


def entry_for_path(path: str | Path, table: dict[str, LanguageEntry] | None = None) -> LanguageEntry | None:
    """Return the language of a file path or a bare extension (".tsx") by extension; None when unknown.

    Extensions match case-insensitively; ``table`` defaults to the packaged one.
    """
    name = PurePosixPath(str(path)).name.lower()
    suffix = PurePosixPath(name).suffix or name  # pathlib sees no suffix in a bare ".tsx"
    if table is None:
        return _default_extensions().get(suffix)
    return next((entry for entry in table.values() if suffix in entry.extensions), None)
