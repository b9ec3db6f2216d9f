"""A real EngineCore that also writes every prompt it builds to a file (tests only).

Select it with ``{"engine": {"mode": "inproc", "core_factory": "recording_core:make_core"}}``; the file is
``$RECORD_PROMPTS``. Each line is a JSON object: the prompt decoded to text and its token count.
"""

from __future__ import annotations

import json
import os

from engine.core.engine_core import load_core


def make_core(model_dir=None, **options):
    core = load_core(model_dir, **options)
    build = core._prompt

    def recorded(request):
        ids = build(request)
        with open(os.environ["RECORD_PROMPTS"], "a", encoding="utf-8") as out:
            out.write(json.dumps({"text": core.tokenizer.decode(ids), "tokens": len(ids)}) + "\n")
        return ids

    core._prompt = recorded
    return core
