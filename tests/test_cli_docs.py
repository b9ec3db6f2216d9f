"""The ``infill`` command's help and the user docs agree, and the docs speak to users.

The rule, checked both ways:
- every command and flag in README.md's command table ("## Commands") is in that command's ``--help``;
- every flag a command's ``--help`` shows (its usage lines) appears, as ``--flag``, in README.md or in a
  document the command's table row links to (BENCHMARKS.md for ``bench``, training/*.md for ``train``).
  Flags hidden from help (``argparse.SUPPRESS``: test-only ones) are exempt.
Every command and subcommand answers ``--help`` with exit status 0, and ``--json`` output is the only thing
a command writes on stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infill_lsp import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Every command of infill_lsp/cli.py and each of its subcommands.
HELP_PATHS: list[tuple[str, ...]] = [
    ("serve",), ("engine",), ("engine", "status"), ("engine", "stop"), ("engine", "restart"),
    ("serve-ray",), ("complete",), ("context",), ("demo",), ("eval",), ("eval", "humaneval-infilling"),
    ("eval", "next-edit"), ("eval", "repo"), ("bench",), ("batch",), ("train",), ("train", "corpus"),
    ("train", "corpus", "fetch"), ("train", "corpus", "build"), ("train", "tokenizer"), ("train", "run"),
    ("doctor",),
]  # fmt: skip
USER_DOCS = [
    "README.md", "BENCHMARKS.md", "RELIABILITY.md", "docs/*.md", "editors/README.md", "editors/**/README.md",
    "training/*.md", "engine/models/*/LICENSE.md",
]  # fmt: skip
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def run_help(path: tuple[str, ...]) -> tuple[int, str]:
    """``infill PATH --help`` through the real entry point: its exit status and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            status = cli.main([*path, "--help"])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    return status, out.getvalue()


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    answers = {path: run_help(path) for path in HELP_PATHS}
    failed = {" ".join(path): status for path, (status, _) in answers.items() if status != 0}
    assert not failed, f"--help did not exit 0: {failed}"
    return {path: text for path, (_, text) in answers.items()}


def usage_flags(help_text: str) -> set[str]:
    """The flags a help text's usage lines show (argparse lists every option not hidden there)."""
    usages = [block for block in help_text.split("\n\n") if block.startswith("usage:")]
    return {flag for block in usages for flag in FLAG.findall(block)} - {"--help"}


def table_rows() -> list[str]:
    section = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `infill ")]


def row_commands(row: str) -> tuple[list[tuple[str, ...]], set[str]]:
    """The commands a table row names (``a\\|b`` alternatives expanded) and the flags in its first cell."""
    cell = row.split("` |", 1)[0].removeprefix("| `")
    words = cell.replace("\\|", "|").split()
    assert words[0] == "infill", row
    paths: list[tuple[str, ...]] = [()]
    for word in words[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", word):
            break
        paths = [(*path, choice) for path in paths for choice in word.split("|")]
    return paths, set(FLAG.findall(cell))


def row_docs(row: str) -> str:
    """README.md and the documents a table row links to."""
    linked = re.findall(r"\]\(([\w/.-]+\.md)\)|`([\w/.-]+\.md)`", row)
    return "\n".join([README, *((ROOT / (a or b)).read_text(encoding="utf-8") for a, b in linked)])


def test_every_command_of_the_cli_is_checked_and_in_the_table():
    assert {path[0] for path in HELP_PATHS} == set(cli.COMMANDS)
    named = {path for row in table_rows() for path in row_commands(row)[0]}
    assert {path[0] for path in named} == set(cli.COMMANDS), "a command missing from README's command table"
    assert set(named) <= set(HELP_PATHS), f"table commands that do not exist: {set(named) - set(HELP_PATHS)}"


def test_every_command_answers_help_with_its_own_name(helps):
    for path, text in helps.items():
        assert f"infill {' '.join(path)}" in text.split("\n\n")[0], (path, text[:200])
    assert "status|stop|restart" in helps[("engine",)]
    assert "humaneval-infilling" in helps[("eval",)] and "--stride" in helps[("eval",)]


def test_every_flag_in_the_readme_table_is_in_its_commands_help(helps):
    missing = []
    for row in table_rows():
        paths, flags = row_commands(row)
        for path in paths:
            missing += [(" ".join(path), flag) for flag in sorted(flags - usage_flags(helps[path]))]
    assert not missing, f"flags the README table lists that --help does not: {missing}"


def test_every_flag_in_help_is_documented(helps):
    docs_of: dict[str, str] = {}
    for row in table_rows():
        for path in row_commands(row)[0]:
            docs_of[path[0]] = docs_of.get(path[0], README) + "\n" + row_docs(row)
    undocumented = []
    for path, text in helps.items():
        docs = docs_of[path[0]]
        undocumented += [(" ".join(path), flag) for flag in sorted(usage_flags(text))
                         if not re.search(re.escape(flag) + r"(?![\w-])", docs)]  # fmt: skip
    assert not undocumented, f"flags in --help that no user doc mentions: {undocumented}"


def test_test_only_flags_are_hidden_from_help_and_still_work(helps):
    for path in (("engine",), ("engine", "restart"), ("serve-ray",)):
        assert "--core-factory" not in helps[path] and "TESTING" not in helps[path]
    from engine.host.server import parse_args as _parse_args
    from infill_http.ray.command import parse_args

    assert _parse_args(["--core-factory", "fake_core:make_core"])[1].core_factory == "fake_core:make_core"
    assert parse_args(["--core-factory", "fake_core:make_core"])[1].core_factory == "fake_core:make_core"


def test_serve_ray_help_and_flag_errors_need_no_ray():
    """``infill serve-ray --help`` shows its flags where Ray is not installed (``import ray`` fails)."""
    code = ("import sys; sys.modules['ray'] = None\n"  # a None entry makes every `import ray...` fail
            "from infill_lsp.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    helped = subprocess.run([sys.executable, "-c", code, "serve-ray", "--help"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert helped.returncode == 0, helped.stderr
    assert "--replicas" in helped.stdout and "--ray-address" in helped.stdout and "--http" in helped.stdout
    bad = subprocess.run([sys.executable, "-c", code, "serve-ray", "--replicas", "0"], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "--replicas must be at least 1" in bad.stderr, bad.stderr
    run = subprocess.run([sys.executable, "-c", code, "serve-ray"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "pip install 'infill-diffusion[serve]'" in run.stderr, run.stderr


def test_eval_and_train_without_a_subcommand_say_how_to_use_them():
    for path, words in ((("eval",), "humaneval-infilling"), (("train",), "corpus")):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert cli.main(list(path)) == 2
        assert words in err.getvalue()


# ---- the user docs --------------------------------------------------------------------------------------


def user_docs() -> list[Path]:
    found = {path for pattern in USER_DOCS for path in ROOT.glob(pattern)}
    return sorted(path for path in found if "node_modules" not in path.parts)


def test_user_docs_speak_to_users_not_of_how_the_project_was_made():
    process = re.compile(r"\bissue \d|\bsession \d|\.\./shared|\bsessions?\b.*\b(GPU|lease)\b|\blease\b", re.I)
    docs = user_docs()
    assert {"README.md", "BENCHMARKS.md", "RELIABILITY.md", "TRAINING.md", "CORPUS.md"} <= {p.name for p in docs}
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
             for path in docs for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if process.search(line)]  # fmt: skip
    assert not found, "\n".join(found)


def test_the_supported_languages_section_points_at_the_generated_list_and_names_the_trained_languages():
    table = tomllib.loads((ROOT / "grammars" / "languages.toml").read_text(encoding="utf-8"))
    section = README.split("\n## Supported languages\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/SETTINGS.md#languages)" in section  # one list, generated from the table
    assert not [line for line in section.splitlines() if line.startswith("| `")], "a hand-kept language table"
    meta = json.loads((ROOT / "engine" / "models" / "infill-small" / "infill_model.json").read_text())
    trained = set(meta["corpus"]["summary"]["languages"])
    assert trained and trained <= set(table)
    sentence = section.split("The embedded model was trained on ", 1)[1].split(".", 1)[0]
    named = {name for name, row in table.items() if re.search(rf"\b{re.escape(row['title'])}\b", sentence)}
    assert named - {"tsx"} == trained, "README's trained languages differ from the checkpoint's corpus"


# ---- --json: the JSON alone on stdout -------------------------------------------------------------------

# Libraries print while a command works (Ray's driver and its worker processes, model loaders): this
# prelude makes the command's work print to stdout from Python, from a logging handler bound to stdout,
# and from a child process, then runs the real `infill` entry point.
NOISY = """
import logging, os, sys
noisy = logging.getLogger("third.party"); noisy.addHandler(logging.StreamHandler(sys.stdout))
def noise():
    print("\\x1b[36m(library pid=1)\\x1b[0m some log line"); noisy.warning("a library's warning")
    sys.stdout.flush(); os.system("echo a child process writes to stdout")
def wrap(owner, name):
    original = getattr(owner, name)
    def noisy_call(*args, **kwargs):
        noise()
        return original(*args, **kwargs)
    setattr(owner, name, noisy_call)
from engine.host.launch import EngineLaunch
import infill_lsp.doctor
wrap(EngineLaunch, "load_core"); wrap(infill_lsp.doctor, "check_grammars")
from infill_lsp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_json(*argv: str, timeout: float = 600) -> object:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFILL_DTYPE": "float32"}
    done = subprocess.run([sys.executable, "-c", NOISY, *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)  # fmt: skip
    assert "child process writes" in done.stderr and "some log line" in done.stderr, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


def test_doctor_json_is_alone_on_stdout(tmp_path):
    status, findings = run_json("doctor", "--json", "--socket", str(tmp_path / "engine.sock"))
    assert status in (0, 1) and {f["part"] for f in findings} >= {"python", "model", "grammars"}


def test_eval_json_is_alone_on_stdout_and_the_default_is_a_summary():
    status, report = run_json("eval", "humaneval-infilling", "--limit", "1", "--steps", "2", "--json")
    assert status == 0 and report["problems"] == 1 and len(report["outcomes"]) == 1
    from infill_tools.humaneval import summary_lines

    lines = summary_lines(report)
    assert lines[0].startswith("HumanEval-SingleLineInfilling.jsonl.gz: 1 problems") and "pass@1" in lines[1]


def test_bench_json_is_alone_on_stdout():
    status, report = run_json("bench", "--only", "keystroke", "--repeats", "1", "--json")
    assert status == 0 and "keystroke_vs_cold" in report and report["model"]


def test_batch_json_is_alone_on_stdout(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def add(a, b):\n    return <FILL>\n")
    status, report = run_json("batch", str(source), "--marker", "<FILL>", "--json", "--no-journal", "--steps", "2")
    assert status in (0, 1) and isinstance(report, dict) and report, report


def test_the_stdout_guard_sends_python_and_child_output_to_stderr_and_restores_stdout():
    code = ("import os, sys\nfrom infill_lsp.json_stdout import stdout_to_stderr\n"
            "with stdout_to_stderr():\n    print('python noise'); sys.stdout.flush(); os.system('echo child noise')\n"
            "with stdout_to_stderr(False):\n    print('kept')\n"
            "print('{\"ok\": true}')")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)  # fmt: skip
    assert done.stdout == 'kept\n{"ok": true}\n', done.stdout
    assert "python noise" in done.stderr and "child noise" in done.stderr
