"""HTTP fills through the editor's fill layer: an HTTP hole is planned, checked, trimmed and gated exactly as
an inline completion in an editor (infill_lsp.completion), so a client of ``/infill`` or
``/v1/completions`` never gets a fill that an editor would have refused.

The language is the request's ``language`` field (a name or an editor language id), else the extension of
the ``filename`` it sends; without either only the checks that need no grammar apply (never a guess from
the text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from engine.protocol import Candidate, InfillRequest, InfillResult, Welcome
from infill_lsp.completion import Plan, Skip, context_budgets, plan_completion
from infill_lsp.config import Settings
from infill_lsp.documents import Document
from infill_lsp.fill import Rejected, finish_fill, ranked
from infill_lsp.languages import LanguageRegistry, LanguageSupport

_REGISTRY = LanguageRegistry()  # grammars load on first use, once per process
_SETTINGS = Settings()  # the editors' defaults: budgets, checks, the confidence gate


def language_of(language: str, filename: str) -> LanguageSupport | None:
    """The grammar for a request's ``language`` (a table name or a language id), else its ``filename``."""
    name = _REGISTRY.name_for(language) if language else None
    if name is None and filename:
        name = _REGISTRY.name_for("", "file:///" + filename.lstrip("/"))
    return _REGISTRY.get(name)


@dataclass(slots=True)
class HttpHole:
    """One HTTP request's hole: the engine request the fill layer plans for it, and its checked fills."""

    document: Document
    plan: Plan
    suffix: str

    @classmethod
    def plan_for(cls, prefix: str, suffix: str, *, language: str, filename: str, context: str,
                 welcome: Welcome | None) -> HttpHole:
        """Plan the hole between ``prefix`` and ``suffix``; raise Skip when the fill layer has none to give."""
        support = language_of(language, filename)
        document = Document("file:///http/" + (filename.lstrip("/") or "hole"), prefix + suffix, language=support)
        budgets, _ = context_budgets(_SETTINGS, welcome)
        plan = plan_completion(document, document.index.position(len(prefix)), _SETTINGS, request_id="",
                               cross_file=context, budgets=budgets)
        return cls(document, plan, suffix)

    def request(self, **fields: Any) -> InfillRequest:
        """The planned engine request with the HTTP request's own fields (id, client, cache, candidates...)."""
        return msgspec.structs.replace(self.plan.request, **fields)

    def fills(self, candidates: tuple[Candidate, ...], wanted: int) -> tuple[tuple[Candidate, ...], str]:
        """The candidates that pass the gate and the checks, best first and at most ``wanted``, each with the
        text to insert at the cursor; and why there is none when every one was refused."""
        kept = ranked(candidates, _SETTINGS.pick, _SETTINGS.min_confidence)
        checked: list[Candidate] = []
        reasons: list[str] = []
        for candidate in kept:
            outcome = finish_fill(candidate.text, self.plan.hole, self.document.language)
            if isinstance(outcome, Rejected):
                reasons.append(outcome.reason)
                continue
            text = outcome.text
            if outcome.replaces:  # the fill ends with text the suffix already has: send only what is new
                overlap = self.suffix[: outcome.replaces]
                text = text[: -len(overlap)] if text.endswith(overlap) else text
            if all(c.text != text for c in checked):
                checked.append(msgspec.structs.replace(candidate, text=text))
        if checked:
            return tuple(checked[: max(1, wanted)]), ""
        if candidates and not kept:
            return (), "every candidate was under the confidence gate"
        return (), reasons[0] if reasons else "the engine returned nothing"


def checked_result(result: InfillResult, hole: HttpHole | None, refusal: str, wanted: int) -> tuple[InfillResult, str]:
    """``result`` with only the candidates the fill layer lets through (none when the hole could not be
    planned: ``refusal`` says why), and why nothing is left when that is so."""
    if hole is None:
        return msgspec.structs.replace(result, candidates=()), refusal or "the hole could not be planned"
    candidates, why = hole.fills(result.candidates, wanted)
    return msgspec.structs.replace(result, candidates=candidates), why


__all__ = ["HttpHole", "Skip", "checked_result", "language_of"]
