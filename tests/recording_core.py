"""A real EngineCore that also writes every prompt it builds to a file (tests only).

Select it with ``{"engine": {"mode": "inproc", "core_factory": "recording_core:make_core"}}``; the file is
``$RECORD_PROMPTS``. Each line is a JSON object: the prompt decoded to text and its token count.
"""

from __future__ import annotations

import json
import os

from engine.core.loading import load_core


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


def make_logging_core(model_dir=None, **options):
    """A real core that writes what it is asked and answers to ``$RECORD_ENGINE``, one JSON object a line:
    ``add`` (request id, warm flag, document key, the prompt as text), ``cancel`` and ``result`` (prompt and
    cached tokens, finish reason)."""
    core = load_core(model_dir, **options)
    add, cancel, step = core.add, core.cancel, core.step

    def write(**fields):
        with open(os.environ["RECORD_ENGINE"], "a", encoding="utf-8") as out:
            out.write(json.dumps(fields) + "\n")

    def logged_add(request):
        add(request)
        prompt = core.jobs[request.request_id].prompt
        write(event="add", id=request.request_id, warm=request.warm, key=request.document_key,
              prompt=core.tokenizer.decode(prompt), tokens=len(prompt))

    def logged_cancel(request_id):
        write(event="cancel", id=request_id)
        cancel(request_id)

    def logged_step():
        out = step()
        for message in out:
            if hasattr(message, "cached_tokens"):
                write(event="result", id=message.request_id, prompt_tokens=message.prompt_tokens,
                      cached_tokens=message.cached_tokens, finish=int(message.finish_reason))
        return out

    core.add, core.cancel, core.step = logged_add, logged_cancel, logged_step
    return core
