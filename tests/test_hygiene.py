"""Hygiene of the tree, read from the source: no merge-conflict markers, the version from one place, no module
reaching into another's private names."""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from infill_lsp import cli
from infill_lsp.version import DISTRIBUTION, UNKNOWN_VERSION, package_version, source_tree_version

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("engine", "infill_http", "infill_lsp", "infill_tools", "training", "grammars")


# ---- merge-conflict markers ------------------------------------------------------------------------------


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"not a git checkout ({exc})")
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def conflict_markers(path: Path) -> list[str]:
    """``path:line: text`` for each merge-conflict marker line of a text file (binary files have none).

    ``=======`` counts in a file that also has a ``<<<<<<<`` or ``>>>>>>>`` line, or anywhere but in Markdown,
    reStructuredText and plain-text notices, where it can underline a heading."""
    try:
        data = path.read_bytes()
    except OSError:  # a tracked file deleted in the work tree
        return []
    if b"\0" in data[:8192]:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    sides = any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in lines)
    # A heading's underline: always in Markdown and reStructuredText, in a plain-text notice unless it has sides.
    underlines = path.suffix in (".md", ".rst") or (path.suffix in (".txt", "") and not sides)
    found = []
    for number, line in enumerate(lines, 1):
        if line.startswith(("<<<<<<< ", ">>>>>>> ")) or (line == "=======" and not underlines):
            found.append(f"{path}:{number}: {line}")
    return found


def test_conflict_markers_are_found_in_text_and_not_in_headings(tmp_path):
    code = tmp_path / "a.py"
    code.write_text("x = 1\n<<<<<<< HEAD\ny = 2\n=======\ny = 3\n>>>>>>> other\n")
    heading = tmp_path / "b.md"
    heading.write_text("Title\n=======\n\n<<<<<<< HEAD\n")
    binary = tmp_path / "c.bin"
    binary.write_bytes(b"\0\1<<<<<<< HEAD\n")
    assert [found.split(": ", 1)[1] for found in conflict_markers(code)] == [
        "<<<<<<< HEAD", "=======", ">>>>>>> other"
    ]
    assert conflict_markers(heading) == [f"{heading}:4: <<<<<<< HEAD"]
    assert conflict_markers(binary) == []
    notice = tmp_path / "NOTICE"
    notice.write_text("Project\n=======\n")
    assert conflict_markers(notice) == []  # a heading of a plain-text notice
    notice.write_text("a\n=======\nb\n>>>>>>> other\n")
    assert len(conflict_markers(notice)) == 2
    assert conflict_markers(tmp_path / "gone.py") == []


def test_no_tracked_file_carries_a_merge_conflict_marker():
    files = tracked_files()
    assert any(path.name == "README.md" for path in files)
    found = [marker.removeprefix(f"{ROOT}/") for path in files for marker in conflict_markers(path)]
    assert not found, "unresolved merge conflict:\n" + "\n".join(found)


# ---- the version -----------------------------------------------------------------------------------------


def product_modules() -> list[Path]:
    return [
        path
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "samples" not in path.relative_to(ROOT).parts
    ]


RELEASE = re.compile(r"\d+\.\d+")


def assigns_a_version_literal(tree: ast.AST) -> list[int]:
    """Lines giving a release-number literal to a name or keyword with "version" in it (``__version__ = "1.2"``,
    ``App(version="1.2")``)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.keyword):
            names = [node.arg or ""]
        else:
            continue
        value = node.value
        literal = isinstance(value, ast.Constant) and isinstance(value.value, str) and RELEASE.match(value.value)
        if literal and any("version" in name.lower() for name in names):
            lines.append(node.value.lineno)
    return lines


def test_no_product_module_writes_its_own_version():
    example = (
        '__version__ = "0.1.0"\nVERSION: str = "2.0"\nversion = 3\nUNKNOWN_VERSION = "0+unknown"\nf(version="1.0")'
    )
    assert assigns_a_version_literal(ast.parse(example)) == [1, 2, 5]
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in product_modules()
        for line in assigns_a_version_literal(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "the version comes from the package metadata (infill_lsp.version), not: " + ", ".join(found)


def test_infill_version_prints_the_package_metadata_version():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--version"]) == 0
    assert out.getvalue() == f"infill {version(DISTRIBUTION)}\n"
    import infill_lsp

    assert infill_lsp.__version__ == package_version() == version(DISTRIBUTION)


def test_the_source_tree_version_is_pyprojects_and_foreign_or_broken_files_give_none(tmp_path):
    assert source_tree_version(ROOT / "pyproject.toml") == version(DISTRIBUTION)
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "something-else"\nversion = "9.9"\n')
    assert source_tree_version(other) is None
    other.write_text("[project\n")
    assert source_tree_version(other) is None
    assert source_tree_version(tmp_path / "missing.toml") is None


def test_an_uninstalled_source_tree_reads_its_pyproject_else_the_version_is_unknown(monkeypatch, tmp_path):
    from infill_lsp import version as module

    def not_installed(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(module, "version", not_installed)
    uncached = module.package_version.__wrapped__
    assert uncached() == version(DISTRIBUTION)  # this clone's pyproject.toml
    monkeypatch.setattr(module, "SOURCE_PYPROJECT", tmp_path / "pyproject.toml")  # an installed copy: none
    assert uncached() == UNKNOWN_VERSION == "0+unknown"


# ---- private names stay in their module ------------------------------------------------------------------

# Private names still reached into, each living in a module being restructured elsewhere: make the name
# public there (and update the importer), then remove the entry. A stale entry fails the test.
ALLOWED_PRIVATE_REACHES: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_project_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reaches(tree: ast.AST, own: str) -> list[tuple[int, str]]:
    """(line, dotted name) for each private name of another project module that ``tree`` (module ``own``)
    imports (``from m import _x``) or reads off an imported module (``m._x``)."""
    found: list[tuple[int, str]] = []
    modules: dict[str, str] = {}  # local name -> the project module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PRODUCT_PACKAGES:
                continue
            for alias in node.names:
                if is_private(alias.name) and node.module != own:
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
                elif is_project_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PRODUCT_PACKAGES:
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else local
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        chain, base = [], node.value
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in modules:
            target = ".".join([modules[base.id], *reversed(chain)])
            if target != own and is_project_module(target):
                found.append((node.lineno, f"{target}.{node.attr}"))
    return found


def test_private_reaches_are_found_through_imports_and_module_attributes():
    source = (
        "import engine.protocol\n"
        "from engine import protocol as p\n"
        "from engine.protocol import _hidden, public\n"
        "from infill_lsp.cli import _serve\n"
        "x = engine.protocol._a + p._b + public._c + p.__name__\n"
    )
    found = private_reaches(ast.parse(source), own="infill_lsp.cli")
    assert sorted(found) == [(3, "engine.protocol._hidden"), (5, "engine.protocol._a"), (5, "engine.protocol._b")]


def test_no_module_imports_another_modules_private_names():
    found = {
        (str(path.relative_to(ROOT)), name): line
        for path in product_modules()
        for line, name in private_reaches(ast.parse(path.read_text(encoding="utf-8")), module_name(path))
    }
    offenders = sorted(f"{path}:{line}: {name}" for (path, name), line in found.items()
                       if (path, name) not in ALLOWED_PRIVATE_REACHES)
    assert not offenders, "make the name public where it is shared, or move it:\n" + "\n".join(offenders)
    stale = ALLOWED_PRIVATE_REACHES - found.keys()
    assert not stale, f"no longer reached into: remove from ALLOWED_PRIVATE_REACHES: {sorted(stale)}"


# ---- line length -----------------------------------------------------------------------------------------

# Being restructured as a whole elsewhere: their long lines go in that rework, then their entries go.
LONG_LINES_ALLOWED: set[str] = set()


def test_lines_are_at_most_120_characters_and_ruff_checks_it():
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert "E501" not in ruff["lint"].get("ignore", [])
    exempt = {path for path, rules in ruff["lint"].get("per-file-ignores", {}).items() if "E501" in rules}
    assert exempt <= LONG_LINES_ALLOWED
    too_long = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in (*PRODUCT_PACKAGES, "tests")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not {"samples", "vendor"} & set(path.relative_to(ROOT).parts)
        and str(path.relative_to(ROOT)) not in LONG_LINES_ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if len(line) > 120 and "://" not in line
    ]
    assert not too_long, "over 120 characters: " + ", ".join(too_long)
