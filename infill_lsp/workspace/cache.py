"""The workspace index kept on disk between runs, so a restarted server has it at once.

One file per workspace folder under ``$XDG_CACHE_HOME/infill/index`` (``~/.cache`` when unset), named by a
hash of the folder's path and readable by its owner only. It holds what the index holds of each file (its
definitions' names, kinds, lines and text, its imports) with the file's size and modification time: the
next build takes a file from it only while both are unchanged, and reads and parses the rest. Excluded
and ignored files never enter the index, so never this file either.

A cache written by another version of the extraction (other queries, grammars or code), for another
folder, or that does not decode is ignored, and replaced after the next build. Writes go to a temporary
file renamed over the old one, so a reader never sees half a cache.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import time
from importlib import metadata
from pathlib import Path

import msgspec

import grammars as grammar_package
from infill_lsp.workspace.definitions import Definition, Symbols

log = logging.getLogger(__name__)

FORMAT = 1
CACHE_NAME = "index"
# A file modified this close to the cache's writing may have changed again within the same timestamp tick
# after it was read (git's "racy" entries): such an entry is not trusted.
RACY_NS = 2_000_000_000
MAX_CACHE_BYTES = 1 << 30


class CachedDefinition(msgspec.Struct, array_like=True, frozen=True):
    name: str
    kind: str
    signature: str
    line: int
    end_line: int
    text: str


class CachedFile(msgspec.Struct, array_like=True, frozen=True):
    relative: str
    mtime_ns: int
    size: int
    language: str
    family: str
    lines: int
    definitions: list[CachedDefinition]
    imported_names: list[str]
    imported_modules: list[str]


class CachedRoot(msgspec.Struct, frozen=True):
    fingerprint: str
    root: str
    written_ns: int  # time.time_ns() when it was written
    files: list[CachedFile]


_decoder = msgspec.msgpack.Decoder(CachedRoot)
_encoder = msgspec.msgpack.Encoder()


def default_cache_dir(env: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/infill/index``, ``~/.cache/infill/index`` when it is unset or not absolute."""
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "infill" / CACHE_NAME


def cache_if(enabled: bool) -> IndexCache | None:
    """The cache in the default folder, or None when ``enabled`` is False (the ``indexCache`` setting)."""
    return IndexCache(default_cache_dir()) if enabled else None


@functools.cache
def fingerprint() -> str:
    """What the symbols of a file depend on besides its text: the extraction code, the queries and the
    grammar packages' versions."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    here = Path(__file__).resolve().parent
    grammars = Path(grammar_package.__file__).resolve().parent
    sources = [here / "definitions.py", *sorted(grammars.glob("*/definitions.scm")),
               *sorted(grammars.glob("*/imports.scm")), *sorted(grammars.glob("*.toml"))]  # fmt: skip
    for path in sources:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            digest.update(path.name.encode() + b"\0missing\0")
    for dist in sorted(d.metadata["Name"] or "" for d in metadata.distributions()):
        if dist.lower().replace("_", "-").startswith("tree-sitter"):
            digest.update(f"{dist} {metadata.version(dist)}\n".encode())
    return digest.hexdigest()


class IndexCache:
    """Reads and writes the cached index of workspace folders under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._warned = False

    def path_for(self, root: Path) -> Path:
        return self.folder / (hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:24] + ".msgpack")

    def load(self, root: Path) -> dict[str, CachedFile]:
        """The cached files of ``root`` by relative path; empty when there is no usable cache."""
        path = self.path_for(root)
        try:
            if path.stat().st_size > MAX_CACHE_BYTES:  # not one this index wrote: its caps keep it far smaller
                log.info("the index cache %s is over %d bytes: ignored", path, MAX_CACHE_BYTES)
                return {}
            data = path.read_bytes()
        except OSError:
            return {}
        try:
            cached = _decoder.decode(data)
        except (msgspec.DecodeError, ValueError) as exc:
            log.info("the index cache %s does not decode (%s): ignored", path, exc)
            return {}
        if cached.fingerprint != fingerprint() or cached.root != str(root):
            return {}
        settled = cached.written_ns - RACY_NS
        return {f.relative: f for f in cached.files if f.mtime_ns < settled}

    def save(self, root: Path, files: list[CachedFile]) -> bool:
        """Replace ``root``'s cache by ``files``; False (logged once) when the folder is not writable."""
        path = self.path_for(root)
        data = _encoder.encode(CachedRoot(fingerprint(), str(root), time.time_ns(), files))
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:  # mkstemp: owner-only
                    out.write(data)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write the index cache under %s: %s", self.folder, exc)
                self._warned = True
            return False
        return True


def to_cached(relative: str, mtime_ns: int, size: int, language: str, family: str, lines: int,
              symbols: Symbols) -> CachedFile:
    """One file's entry for the cache."""
    definitions = [CachedDefinition(d.name, d.kind, d.signature, d.line, d.end_line, d.text)
                   for d in symbols.definitions]  # fmt: skip
    return CachedFile(relative, mtime_ns, size, language, family, lines, definitions,
                      sorted(symbols.imported_names), sorted(symbols.imported_modules))  # fmt: skip


def symbols_from(cached: CachedFile, path: str) -> Symbols:
    """The symbols a cached entry holds, for the file at ``path``."""
    return Symbols(
        tuple(Definition(d.name, d.kind, d.signature, path, d.line, d.end_line, d.text) for d in cached.definitions),
        frozenset(cached.imported_names),
        frozenset(cached.imported_modules),
    )
