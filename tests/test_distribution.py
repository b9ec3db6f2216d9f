"""What a clone and an install carry: the benchmark data, the licenses, the package name."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from infill_tools.humaneval import DEFAULT_DATA, load_problems, run_program

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_default_benchmark_data_is_in_the_repository_and_loads():
    assert DEFAULT_DATA.is_relative_to(ROOT), "the evaluation must run from a clone"
    single = load_problems(DEFAULT_DATA / "HumanEval-SingleLineInfilling.jsonl.gz")
    span = load_problems(DEFAULT_DATA / "HumanEval-RandomSpanInfillingLight.jsonl.gz")
    assert (len(single), len(span)) == (1033, 164)
    first = single[0]
    solved = first.prompt + first.solution + first.suffix
    assert run_program(f"{solved}\n{first.test}\ncheck({first.entry_point})\n")
    assert "MIT License" in (DEFAULT_DATA / "LICENSE").read_text()


def test_the_benchmark_data_is_package_data_and_tracked():
    assert "data/humaneval-infilling/*" in PYPROJECT["tool"]["setuptools"]["package-data"]["infill_tools"]
    tracked = subprocess.run(["git", "ls-files", str(DEFAULT_DATA.relative_to(ROOT))], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert {Path(p).name for p in tracked} >= {
        "HumanEval-SingleLineInfilling.jsonl.gz", "HumanEval-RandomSpanInfillingLight.jsonl.gz", "LICENSE", "README.md"
    }


def test_the_licenses_are_stated():
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    model_license = (ROOT / "engine" / "models" / "infill-small" / "LICENSE.md").read_text()
    assert "Apache-2.0" in model_license and "manifest" in model_license and "CORPUS.md" in model_license


def test_the_distribution_has_a_name_of_its_own_and_the_command_stays_infill():
    name = PYPROJECT["project"]["name"]
    assert name == "infill-diffusion"  # "infill" on PyPI is an unrelated project
    assert PYPROJECT["project"]["scripts"] == {"infill": "infill_lsp.cli:main"}
    docs = [*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md"), *(ROOT / "editors").rglob("*.md"),
            *(ROOT / "editors").rglob("*.lua"), ROOT / "engine" / "host" / "launch.py"]  # fmt: skip
    bare = [str(p) for p in docs if "node_modules" not in p.parts
            and re.search(r"pip install '?infill(?![-\w])", p.read_text())]  # fmt: skip
    assert bare == [], f"these still install the unrelated 'infill' package: {bare}"
