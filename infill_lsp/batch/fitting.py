"""Each hole's request fitted to the engine that fills it, as an editor's request would be.

Holes are planned before any engine is reached (a run whose holes are all in the journal needs none).
Once the engine has announced its token budgets, every hole still to fill gets its prompt the way the
language server builds one: the repository context (definitions and code from the repository's other
files) packed within the cross-file share of the prefix budget, then the hole's own prefix cut at a syntax
boundary within what is left and its suffix within the suffix budget. A prompt the engine had to trim
would lose the repository context first (the engine drops it before any of the prefix), and its prefix
would start wherever a token count fell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import msgspec
import tree_sitter

from engine.protocol import InfillRequest, Welcome
from infill_lsp.batch.planning import PlannedHole
from infill_lsp.checks import words
from infill_lsp.completion import context_budgets
from infill_lsp.config import Settings
from infill_lsp.context import Budgets, fresh_prefix_start, suffix_cut
from infill_lsp.languages import LanguageRegistry, LanguageSupport


def fit_holes(
    holes: list[PlannedHole], registry: LanguageRegistry, welcome: Welcome | None, index=None
) -> list[PlannedHole]:
    """``holes`` with their requests cut to ``welcome``'s budgets (the settings' when it is None) and, with a
    workspace ``index``, given the repository context; in the order given."""
    settings = Settings()
    budgets, cross_file_chars = context_budgets(settings, welcome)
    out: list[PlannedHole] = []
    key, fit = "", None  # one file's fitter at a time (plans come file by file): one parse kept, not all
    for planned in holes:
        if fit is None or str(planned.file.path) != key:
            language = registry.get(planned.file.language)
            assert language is not None  # plans exist only for languages that compiled
            key, fit = str(planned.file.path), _file_fitter(planned, language, settings, budgets, cross_file_chars,
                                                            index)  # fmt: skip
        out.append(fit(planned))
    return out


def _file_fitter(
    first: PlannedHole, language: LanguageSupport, settings: Settings, budgets: Budgets, cross_file_chars: int, index
) -> Callable[[PlannedHole], PlannedHole]:
    """A function fitting the holes of ``first``'s file: parsed once (lazily without an index), its
    repository context looked up per hole, as an editor's fill there would get it (the file as read, not as
    the index saw it)."""
    from infill_lsp.documents import Document
    from infill_lsp.retrieval.gather import context_block

    source = first.file
    document = None if index is None else Document(source.path.resolve().as_uri(), source.text, language=language)
    parsed: list[tree_sitter.Tree] = []

    def tree() -> tree_sitter.Tree:
        if not parsed:
            known = document.tree if document is not None else None
            parsed.append(known or language.parse(source.text.encode("utf-8", "surrogatepass")))
        return parsed[0]

    def fit(planned: PlannedHole) -> PlannedHole:
        block = ""
        if document is not None:
            packed, _ = context_block(document, planned.hole.start, [], settings, budget=cross_file_chars,
                                      prefix_chars=budgets.prefix_chars, suffix_chars=budgets.suffix_chars,
                                      index=index, display=index.relative)  # fmt: skip
            block = packed.block
        request = fitted_request(planned, language, tree, budgets, block)
        # As in the editor, the context's names count as names in reach when the fill is judged.
        plan = dataclasses.replace(planned.plan, context=request.context,
                                   known_names=planned.plan.known_names | words(request.context))
        return dataclasses.replace(planned, request=request, plan=plan)

    return fit


def fitted_request(
    planned: PlannedHole,
    language: LanguageSupport,
    tree: Callable[[], tree_sitter.Tree],
    budgets: Budgets,
    block: str = "",
) -> InfillRequest:
    """``planned``'s request with ``block`` as its context (left out when it would fill the whole prefix
    budget) and its prefix and suffix cut within ``budgets``: at syntax boundaries when they are the file's
    own text around the hole (``tree`` parses the file), else at line boundaries."""
    request = planned.request
    prefix, suffix = request.prefix, request.suffix
    block = block if len(block) < budgets.prefix_chars else ""
    own = budgets.prefix_chars - len(block)
    text, start, end = planned.file.text, planned.hole.start, planned.hole.end
    if len(prefix) <= own and len(suffix) <= budgets.suffix_chars:
        return msgspec.structs.replace(request, context=block)
    if len(prefix) == start and len(suffix) == len(text) - end and text.startswith(prefix) and text.endswith(suffix):
        head = fresh_prefix_start(text, start, own, language, tree())
        tail = suffix_cut(text, end, budgets.suffix_chars, language, tree())
        prefix, suffix = text[head:start], text[end:tail]
    else:  # the planner's own text (markers removed, a docstring's plan): no parse of it to cut at
        joined, cursor = prefix + suffix, len(prefix)
        head = fresh_prefix_start(joined, cursor, own, language, None)
        tail = suffix_cut(joined, cursor, budgets.suffix_chars, language, None)
        prefix, suffix = joined[head:cursor], joined[cursor:tail]
    return msgspec.structs.replace(request, prefix=prefix, suffix=suffix, context=block)
