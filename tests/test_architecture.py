"""The package layering, read from the source: serving apart from training, tools above both, no cycles.

Every import counts, at module level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "infill_http", "infill_lsp", "infill_tools", "training")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` also counts ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = {
    _module_name(path): _imports(path)
    for package in PACKAGES
    for path in (ROOT / package).rglob("*.py")
    if "samples" not in path.relative_to(ROOT).parts
}


def _own(name: str) -> str | None:
    """The project module ``name`` refers to (a package, a module, or a name inside one), if any."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _edges(prefix: str) -> dict[str, set[str]]:
    return {
        module: {target for name in imports if (target := _own(name)) and target.startswith(prefix)} - {module}
        for module, imports in MODULES.items()
        if module.startswith(prefix)
    }


def _importers(module_prefix: str, forbidden: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted(
        (module, name)
        for module, imports in MODULES.items()
        if module.startswith(module_prefix)
        for name in imports
        if name.startswith(forbidden)
    )


def test_the_scan_sees_the_project():
    serving = {"engine.core.engine_core", "engine.host.launch", "infill_lsp.server"}
    assert serving | {"training.train", "infill_tools.bench"} <= set(MODULES)
    assert "engine.model.checkpoint" in _edges("engine")["engine.core.loading"]


@pytest.mark.parametrize("prefix", ["engine", "infill_http", "infill_lsp", "infill_tools", "training"])
def test_no_import_cycles(prefix):
    edges = _edges(prefix)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_serving_does_not_import_training():
    serving = [m for m in MODULES if m.startswith(("engine", "infill_http", "infill_lsp")) and m != "infill_lsp.cli"]
    offenders = [(m, n) for m in serving for n in MODULES[m] if n.split(".")[0] == "training"]
    assert not offenders


def test_the_engine_package_shows_its_concerns_as_folders():
    """No folder of the engine holds more than 12 modules; training is outside the serving package."""
    folders: dict[str, int] = {}
    for module in MODULES:
        if module.startswith("engine"):
            folder = module.rpartition(".")[0] if module.count(".") else module
            folders[folder] = folders.get(folder, 0) + 1
    assert max(folders.values()) <= 12, folders
    assert not (ROOT / "engine" / "training").exists()


def test_the_engine_imports_neither_the_language_server_nor_the_tools():
    assert not _importers("engine", ("infill_lsp", "infill_tools", "training"))


def test_only_the_command_line_reaches_the_tools_from_the_language_server_package():
    """``infill bench`` / ``infill eval`` are subcommands of the one ``infill`` command (imported when chosen)."""
    assert {module for module, _ in _importers("infill_lsp", ("infill_tools",))} <= {"infill_lsp.cli"}


def test_onnx_packages_are_imported_only_by_the_onnx_modules():
    """The base install (no ``onnx`` extra) serves on torch: nothing else may need onnx or onnxruntime."""
    onnx = ("onnx", "onnxruntime")
    users = {module for module, name in _importers("", onnx) if name.split(".")[0] in onnx}
    assert users <= {"engine.model.onnx_runner", "engine.model.onnx_export"}, users


def test_ray_is_imported_only_by_the_ray_modules():
    """The core install has no Ray: only ``infill serve-ray``, ``infill batch --ray`` and their benchmark need it."""
    users = {module for module, name in _importers("", ("ray",)) if name.split(".")[0] == "ray"}
    own = {"infill_lsp.batch.ray_pool", "infill_tools.ray_bench"}
    assert all(user.startswith("infill_http.ray.") or user in own for user in users), users
    assert {"infill_http.ray.serve", "infill_http.ray.routing"} <= users  # the scan sees them


def test_the_engine_imports_no_front_end():
    """The HTTP front-ends sit over the engine (as vLLM's entry points over its engine client), never inside it:
    ``infill engine --http`` hands the engine its HTTP front (infill_http.command)."""
    assert not _importers("engine", ("infill_http",))
