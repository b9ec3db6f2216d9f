"""Corpus sources: enumerate packages (name, version, license) and their source files.

Readers for an installed site-packages directory, PyPI wheels and sdists, npm tarballs and unpacked
Debian golang-*-dev / librust-*-dev packages. Only files whose suffix names a corpus language are
read, and only up to `filters.MAX_BYTES` (larger files are listed with their size and no data, so
the builder can count them as dropped).
"""

from __future__ import annotations

import json
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from training import licenses
from training.filters import MAX_BYTES, language_of
from training.licenses import License


@dataclass(frozen=True, slots=True)
class Package:
    """One source package: where it came from and the license its own metadata declares."""

    name: str
    version: str
    license: License
    origin: str

    @property
    def key(self) -> str:
        """Normalised name (PEP 503 style), so one package from two origins is recognised."""
        return re.sub(r"[-_.]+", "-", self.name).lower()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A candidate file: its path inside the package, size, bytes (None when over MAX_BYTES), and its
    own license where the package declares licenses per file (Debian DEP-5), else None."""

    path: str
    size: int
    data: bytes | None
    license: License | None = None


PackageFiles = tuple[Package, list[SourceFile]]


def _metadata_name_version(text: str) -> tuple[str, str]:
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n\n")
    return headers.get("Name", "").strip(), headers.get("Version", "").strip()


def _python_package(metadata: str, origin: str) -> Package:
    name, version = _metadata_name_version(metadata)
    return Package(name, version, licenses.from_python_metadata(metadata), origin)


def _read_limited(read, size: int) -> bytes | None:  # noqa: ANN001 - a zero-argument reader
    return read() if size <= MAX_BYTES else None


def scan_site_packages(root: Path) -> Iterator[PackageFiles]:
    """Packages installed in a site-packages directory, with the source files listed in their RECORD."""
    for dist_info in sorted(root.glob("*.dist-info")):
        metadata_path = dist_info / "METADATA"
        record_path = dist_info / "RECORD"
        if not metadata_path.is_file() or not record_path.is_file():
            continue
        package = _python_package(
            metadata_path.read_text(encoding="utf-8", errors="replace"), "site-packages"
        )
        files: list[SourceFile] = []
        for line in record_path.read_text(encoding="utf-8", errors="replace").splitlines():
            rel = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
            if not rel or rel.startswith("..") or language_of(rel) is None:
                continue
            path = root / rel
            if not path.is_file() or path.is_symlink():
                continue
            size = path.stat().st_size
            files.append(SourceFile(rel, size, _read_limited(path.read_bytes, size)))
        yield package, files


def scan_wheel(path: Path) -> PackageFiles | None:
    """A wheel's package and files (None when it has no METADATA)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if metadata is None:
            return None
        package = _python_package(archive.read(metadata).decode("utf-8", errors="replace"), "pypi")
        files = [
            SourceFile(
                info.filename, info.file_size, _read_limited(lambda i=info: archive.read(i), info.file_size)
            )
            for info in archive.infolist()
            if not info.is_dir() and language_of(info.filename) is not None
        ]
    return package, files


def _tar_files(archive: tarfile.TarFile, strip: str) -> list[SourceFile]:
    files: list[SourceFile] = []
    for member in archive.getmembers():
        if not member.isfile() or language_of(member.name) is None or not member.name.startswith(strip):
            continue
        rel = member.name[len(strip) :]
        handle = archive.extractfile(member)
        if handle is None:
            continue
        files.append(SourceFile(rel, member.size, _read_limited(handle.read, member.size)))
    return files


def _top_dir(names: list[str]) -> str:
    first = names[0].lstrip("./").split("/", 1)[0] if names else ""
    return first + "/"


def scan_sdist(path: Path) -> PackageFiles | None:
    """A source distribution (.tar.gz or .zip) with its top-level PKG-INFO (None when it has none)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            top = _top_dir(archive.namelist())
            try:
                metadata = archive.read(top + "PKG-INFO").decode("utf-8", errors="replace")
            except KeyError:
                return None
            files = [
                SourceFile(
                    i.filename[len(top) :],
                    i.file_size,
                    _read_limited(lambda i=i: archive.read(i), i.file_size),
                )
                for i in archive.infolist()
                if not i.is_dir() and i.filename.startswith(top) and language_of(i.filename) is not None
            ]
        return _python_package(metadata, "pypi"), files
    with tarfile.open(path) as archive:
        top = _top_dir(archive.getnames())
        metadata = _tar_text(archive, top + "PKG-INFO")
        if metadata is None:
            return None
        return _python_package(metadata, "pypi"), _tar_files(archive, top)


def scan_npm_tarball(path: Path) -> PackageFiles | None:
    """An `npm pack` tarball with its package.json (None when it has none)."""
    with tarfile.open(path) as archive:
        top = _top_dir(archive.getnames())
        text = _tar_text(archive, top + "package.json")
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        name = str(data.get("name", path.stem)) if isinstance(data, dict) else path.stem
        version = str(data.get("version", "")) if isinstance(data, dict) else ""
        package = Package(name, version, licenses.from_package_json(text), "npm")
        return package, _tar_files(archive, top)


def _tar_text(archive: tarfile.TarFile, name: str) -> str | None:
    """The text of the member ``name`` (undecodable bytes replaced), or None when it is missing or not a file."""
    try:
        handle = archive.extractfile(name)
    except KeyError:
        return None
    return None if handle is None else handle.read().decode("utf-8", errors="replace")


def _tree_files(root: Path, languages: set[str]) -> list[SourceFile]:
    files: list[SourceFile] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or language_of(path.name) not in languages:
            continue
        size = path.stat().st_size
        files.append(
            SourceFile(path.relative_to(root).as_posix(), size, _read_limited(path.read_bytes, size))
        )
    return files


def _with_file_licenses(files: list[SourceFile], rules: list[licenses.CopyrightRule]) -> list[SourceFile]:
    """Files with their DEP-5 license; paths in the copyright file are relative to the import-path root,
    taken as the deepest directory common to all installed files."""
    if not files:
        return files
    dirs = [f.path.split("/")[:-1] for f in files]
    common: list[str] = []
    for parts in zip(*dirs, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    cut = len("/".join(common)) + 1 if common else 0
    return [SourceFile(f.path, f.size, f.data, licenses.license_for_path(rules, f.path[cut:])) for f in files]


def scan_debian_unpacked(root: Path) -> Iterator[PackageFiles]:
    """An unpacked Debian package dir named PKG_VERSION_ARCH: Go source (license from the copyright
    file) and Rust crates (license from each crate's Cargo.toml)."""
    deb_name, _, rest = root.name.partition("_")
    deb_version = rest.rsplit("_", 1)[0].replace("%3a", ":")
    gocode = root / "usr/share/gocode/src"
    if gocode.is_dir():
        copyright_path = root / "usr/share/doc" / deb_name / "copyright"
        text = ""
        if copyright_path.is_file() and not copyright_path.is_symlink():
            text = copyright_path.read_text(encoding="utf-8", errors="replace")
        files = _tree_files(gocode, {"go"})
        rules = licenses.debian_copyright_rules(text)
        if rules:
            files = _with_file_licenses(files, rules)
        yield Package(deb_name, deb_version, licenses.from_debian_copyright(text), "debian-go"), files
    registry = root / "usr/share/cargo/registry"
    if registry.is_dir():
        for crate in sorted(p for p in registry.iterdir() if p.is_dir() and not p.is_symlink()):
            cargo = crate / "Cargo.toml"
            if not cargo.is_file():
                continue
            text = cargo.read_text(encoding="utf-8", errors="replace")
            name, version = _crate_name_version(text, crate.name)
            package = Package(name, version, licenses.from_cargo_toml(text), "debian-rust")
            yield package, _tree_files(crate, {"rust"})


def _crate_name_version(cargo_toml: str, dir_name: str) -> tuple[str, str]:
    name, _, version = dir_name.rpartition("-")
    try:
        table = tomllib.loads(cargo_toml).get("package", {})
    except tomllib.TOMLDecodeError:
        table = {}
    name = table.get("name") if isinstance(table.get("name"), str) else name or dir_name
    version = table.get("version") if isinstance(table.get("version"), str) else version
    return name, version


def scan_sources_dir(sources_dir: Path) -> Iterator[PackageFiles]:
    """Every package fetched by fetch_sources.sh into sources_dir (pypi/, npm/, debian/unpacked/)."""
    for path in sorted((sources_dir / "pypi").glob("*")):
        try:
            if path.suffix == ".whl":
                found = scan_wheel(path)
            elif path.name.endswith((".tar.gz", ".zip", ".tgz")):
                found = scan_sdist(path)
            else:
                continue
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
            raise RuntimeError(f"cannot read {path}: {error}") from error
        if found is not None:
            yield found
    for path in sorted((sources_dir / "npm").glob("*.tgz")):
        try:
            found = scan_npm_tarball(path)
        except (OSError, tarfile.TarError) as error:
            raise RuntimeError(f"cannot read {path}: {error}") from error
        if found is not None:
            yield found
    unpacked = sources_dir / "debian" / "unpacked"
    if unpacked.is_dir():
        for root in sorted(p for p in unpacked.iterdir() if p.is_dir()):
            yield from scan_debian_unpacked(root)
