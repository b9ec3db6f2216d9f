"""The journal of finished holes: JSON lines, one fsynced record per hole, so a rerun resumes.

A record is keyed by the file's resolved path, the SHA-256 of the text the hole was found in, and the
hole's span: a file edited since is a new key and is filled again. Torn or foreign lines are ignored.
A journal that cannot be written (a full disk, a read-only folder) raises JournalError naming it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

JOURNAL_VERSION = 1


class HoleRecord(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """What the run decided for one hole: the fill and whether it passed the parse check."""

    path: str
    sha256: str
    start: int
    end: int
    recipe: str
    status: str  # "filled" | "rejected" (the fill made the parse worse) | "empty"
    fill: str = ""
    confidence: float = 0.0
    steps: int = 0
    detail: str = ""
    v: int = JOURNAL_VERSION

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.path, self.sha256, self.start, self.end)


class JournalError(OSError):
    """The journal could not be opened or written; the message names the file and the reason."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(HoleRecord)


def default_journal_path(fingerprint: str) -> Path:
    """Where a run keeps its journal when none is named: the user's state folder, per run settings."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return Path(state) / "infill" / "batch" / f"journal-{digest}.jsonl"


def read_journal(path: Path) -> dict[tuple[str, str, int, int], HoleRecord]:
    """Return the finished holes recorded at ``path`` (none when it does not exist)."""
    records: dict[tuple[str, str, int, int], HoleRecord] = {}
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return records
    with handle:
        for line in handle:
            try:
                record = _decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a torn last line or a foreign one
            if record.v == JOURNAL_VERSION:
                records[record.key] = record
    return records


@dataclass(slots=True)
class Journal:
    """Append-only writer; every record is flushed and fsynced before ``append`` returns."""

    path: Path
    written: int = 0
    _fd: int = field(default=-1, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if os.fstat(self._fd).st_size:
                self._repair_torn_tail()
        except OSError as exc:
            self.close()
            raise JournalError(
                exc.errno, f"cannot open the journal {self.path}: {exc.strerror or exc}"
            ) from None

    def _repair_torn_tail(self) -> None:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                os.write(self._fd, b"\n")

    def append(self, record: HoleRecord) -> None:
        """Write and fsync one record; raise JournalError (a torn line may stay: readers skip it)."""
        data = _encoder.encode(record) + b"\n"
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
        except OSError as exc:
            raise JournalError(
                exc.errno, f"cannot write the journal {self.path}: {exc.strerror or exc}"
            ) from None
        self.written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
