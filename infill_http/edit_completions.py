"""``POST /v1/edit/completions``: a next edit in the request and answer shape of Mercury's edit endpoint.

The request is OpenAI chat-shaped with one user message holding the edit prompt (``edit_prompt``); the answer
is a ``chat.completion`` whose message is the region (``code_to_edit``) rewritten, or as it was when there is
no edit to suggest. The edit is planned and judged as in the editors (infill_lsp.next_edit), each probe one
engine request of the caller's key, under its in-flight budget and the request timeout.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from engine.protocol import InfillRequest, InfillResult
from infill_http.edit_prompt import EditPromptError, parse_edit_prompt
from infill_http.fills import language_of
from infill_http.settings import HttpSettings
from infill_http.wire import Backend, HttpError, check_context, decode_body, run_fill, to_json
from infill_lsp.next_edit.diffs import history_hunks
from infill_lsp.next_edit.minimal import apply_edits
from infill_lsp.next_edit.predict import NextEditPlan, keeps_parsing
from infill_lsp.next_edit.run import suggest


class Api(Protocol):
    """What this endpoint needs of the HTTP API (infill_http.api.HttpApi)."""

    settings: HttpSettings

    async def read_body(self, request: Request) -> bytes: ...

    def engine(self) -> Backend: ...

    async def wait_or_disconnect(self, request: Request, work: Any) -> Any: ...

    def new_request_id(self) -> str: ...


class EditMessage(msgspec.Struct, forbid_unknown_fields=False):
    role: str = "user"
    content: str = ""


class EditBody(msgspec.Struct, forbid_unknown_fields=False):
    messages: list[EditMessage] = []
    model: str = ""
    max_tokens: int | None = None
    stream: bool = False
    user: str = ""
    language: str = ""  # ours: the file's language, as for /infill (else from the prompt's current_file_path)
    filename: str = ""


edit_decoder = msgspec.json.Decoder(EditBody)


async def edit_completion(api: Api, request: Request, client: str) -> Response:
    body = decode_body(edit_decoder, await api.read_body(request))
    if body.stream:
        raise HttpError(400, "stream is not supported on /v1/edit/completions")
    if len(body.messages) != 1 or body.messages[0].role != "user":
        raise HttpError(400, "send one user message holding the edit prompt (<|code_to_edit|> ... <|/code_to_edit|>)")
    try:
        prompt = parse_edit_prompt(body.messages[0].content)
    except EditPromptError as exc:
        raise HttpError(400, str(exc)) from None
    check_context(api.settings, prompt.text, prompt.snippets, *prompt.diffs)
    support = language_of(body.language, body.filename or prompt.path)
    start, end = prompt.region
    text = prompt.text
    backend = api.engine()
    plan = NextEditPlan(lines_before=text.count("\n", start, prompt.cursor),
                        lines_after=text.count("\n", prompt.cursor, end), rewrite=backend.welcome.rewrites)

    async def send(engine_request: InfillRequest) -> InfillResult | None:
        outcome = await run_fill(backend, engine_request, owner=("http", engine_request.request_id),
                                 timeout_s=api.settings.request_timeout_s)
        return outcome.result

    edits = await api.wait_or_disconnect(request, suggest(
        send, text, prompt.cursor, history_hunks(prompt.diffs, text, prompt.cursor),
        language=support.name if support else body.language, plan=plan, new_id=api.new_request_id,
        document_key=f"http:{client}:{body.user or 'default'}:edit", client=client,
        context="\n".join(prompt.diffs) if backend.welcome.edit_prompt else prompt.snippets))
    edits = [edit for edit in edits if start <= edit.start and edit.end <= end]
    after = apply_edits(text, edits)
    if edits and support is not None and not keeps_parsing(support.parse, text, after):
        edits, after = [], text
    rewritten = after[start : end + len(after) - len(text)]
    answer: dict[str, Any] = {
        "id": "edit-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": backend.welcome.model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": rewritten},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    return Response(to_json(answer), media_type="application/json")
