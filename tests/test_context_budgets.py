"""Context budgets are the engine's, in tokens: the server's syntax-aware cut is what the model reads.

The engine announces its prefix and suffix budgets in tokens and a characters-per-token figure for code in
its Welcome; the server cuts its context (cross-file block included) to fit, so the engine's own trim, which
cuts from the front where the cross-file block sits, does not fire.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest_lsp
from lsp_helpers import ROOT, complete, initialize, open_document, server_config, status
from pytest_lsp import LanguageClient

from engine.protocol import Welcome
from infill_lsp.completion import context_budgets
from infill_lsp.config import Settings
from infill_lsp.context import Budgets

RECORD = Path("/tmp") / f"infill-prompts-{__import__('os').getpid()}.jsonl"


def test_budgets_shrink_to_the_engine_token_budgets():
    welcome = Welcome(1, "m", "cpu", "torch", max_prefix_tokens=768, max_suffix_tokens=256, chars_per_token=3.0)
    budgets, cross_file = context_budgets(Settings(), welcome)
    assert budgets == Budgets(prefix_chars=2304, suffix_chars=768)
    assert cross_file == Settings().cross_file_chars * 2304 // Settings().prefix_chars  # the same share
    assert context_budgets(Settings(), None)[0] == Budgets(prefix_chars=4000, suffix_chars=1500)
    small = Settings(prefix_chars=1000, suffix_chars=100, cross_file_chars=300)
    assert context_budgets(small, welcome) == (Budgets(prefix_chars=1000, suffix_chars=100), 300)


def test_the_embedded_model_announces_its_budgets():
    from engine.core.engine_core import code_samples
    from engine.model.checkpoint import default_model_dir
    from engine.prompt.tokenizer import InfillTokenizer

    tokenizer = InfillTokenizer.from_file(default_model_dir())
    ratio = tokenizer.chars_per_token(code_samples())
    text = "".join(path.read_text() for path in sorted((ROOT / "infill_lsp").glob("*.py")))
    average = len(text) / len(tokenizer.encode(text))
    assert 2.0 < ratio < average  # a low quantile: most code has more characters per token


@pytest_lsp.fixture(config=server_config(RECORD_PROMPTS=str(RECORD)))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_cross_file_context_reaches_the_model_prompt(client: LanguageClient):
    RECORD.unlink(missing_ok=True)
    options = {"engine": {"mode": "inproc", "core_factory": "recording_core:make_core", "start_timeout_ms": 60_000},
               "debounce_ms": 0, "request_timeout_ms": 60_000, "max_steps": 2}
    await initialize(client, "neovim", options)
    models = "file:///work/app/models.py"
    main = "file:///work/app/main.py"
    open_document(client, models, "class User:\n    name: str\n    email: str\n\n\ndef unrelated():\n    pass\n")
    # A long document: its own code alone fills more than the engine's prefix budget.
    body = (ROOT / "engine" / "core" / "engine_core.py").read_text()[:9000]
    text = "from app.models import User\n\n" + body + "\n\ndef make_user():\n    return \n"
    open_document(client, main, text)
    line = text.count("\n") - 1
    for _ in range(240):  # the model loads in the server's process: wait for it (a loaded machine is slow)
        if (await status(client))["engine"]["state"] == "ready":
            break
        await asyncio.sleep(0.25)
    await complete(client, main, line, len("    return "))
    info = await status(client)
    engine = info["engine"]
    assert engine["max_prefix_tokens"] > 0 and engine["chars_per_token"] > 0
    prompts = [json.loads(x) for x in RECORD.read_text().splitlines()]
    RECORD.unlink()
    assert prompts, "the engine built no prompt"
    prompt = prompts[-1]["text"]
    assert "# file: app/models.py" in prompt or "# file: models.py" in prompt
    assert "class User:" in prompt and "unrelated" not in prompt
    assert prompt.rstrip().endswith("def make_user():\n    return")  # the cursor's line, not cut
    assert engine["trimmed_prompts"] == 0  # the engine's guard did not have to cut anything
