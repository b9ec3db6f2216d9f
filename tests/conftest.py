"""Shared fixtures (a tiny untrained DiffusionGemma model directory built once per test session) and the
test environment: fake-engine settings allowed, fp32, one OpenMP thread, soak counts for ``-m soak``."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def short_dir():
    """A private (0700) folder with a short path under /tmp: socket paths hold at most 107 bytes."""
    base = Path(tempfile.mkdtemp(prefix="infill-", dir="/tmp"))
    base.chmod(0o700)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from infill_tools.model_builders import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


# Test servers name fake engines by module path; the server honours that only when told to.
os.environ.setdefault("INFILL_ALLOW_CODE_SETTINGS", "1")
# One torch/OpenMP thread per process (this one, and the engines and servers it starts, which inherit it):
# on two cores shared with other processes, contended OpenMP spin-waits crawl (a toy training step took
# 2 s instead of 27 ms; the torch-heavy test files took 101 s with two threads against 66 s with one). On
# an otherwise idle machine the two are about even.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Exact-equivalence tests compare fp32 results; bf16 (the default on CPUs with bf16 dot products) has
# its own tests that ask for it by name.
os.environ.setdefault("INFILL_DTYPE", "float32")
# The workspace index's cache (and any other) goes to a folder of this test session, not the user's.
if not os.environ.get("XDG_CACHE_HOME"):
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="infill-test-cache-")


def pytest_configure(config: pytest.Config) -> None:
    """``pytest -m soak`` (a marker expression that asks for soak, not "not soak") runs the full counts."""
    expression = config.getoption("markexpr", "") or ""
    if re.search(r"\bsoak\b", re.sub(r"\bnot\s+soak\b", "", expression)):
        os.environ["INFILL_SOAK"] = "1"


# After the environment above: the server under test inherits it.
import pytest_lsp  # noqa: E402
from lsp_helpers import SERVER  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    """A language server under test (lsp_helpers.SERVER) and the client talking to it, shut down after the
    test. A test module with a ``client`` fixture of its own (other settings, another scope) overrides it."""
    yield
    await lsp_client.shutdown_session()
