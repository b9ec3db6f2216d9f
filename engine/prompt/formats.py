"""Prompt formats: the token layout of a hole for a checkpoint, read from ``formats.toml`` (data, not code).

A ``PromptFormat`` is a table row; ``PromptFormat.bind(tokenizer)`` checks the tokenizer has what the
format needs (refusing with the format's name and the missing tokens) and returns a ``BoundFormat`` that
builds prompt ids, knows the ids that end a fill and the ids never to sample, and turns a canvas back into
text. ``choose_format`` picks the format for a tokenizer: a name, a user template, or the first whose
``detect`` tokens the tokenizer has.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from engine.prompt.fim import TEXT_TAG, model_tag
from engine.prompt.tokenizer import InfillTokenizer
from grammars import entry_for_language

FORMATS_FILE = Path(__file__).with_name("formats.toml")
TEXT_PLACEHOLDERS = ("prefix", "suffix", "context", "draft")  # the request's text, encoded with specials as text
NAME_PLACEHOLDERS = ("language", "tag", "fence")  # filled into the template before tokenizing
CANVAS_MODES = ("hint", "config")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(TEXT_PLACEHOLDERS) + r")\}")


class FormatError(ValueError):
    """A format that does not exist, is malformed, or does not fit the tokenizer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptFormat:
    """One row of the format table."""

    name: str
    template: str
    description: str = ""
    context: str = "{context}"
    requires: tuple[str, ...] = ()
    end: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    canvas: str = "hint"
    suffix_on_canvas: int = 0
    detect: tuple[str, ...] = ()
    edit_template: str = ""  # the prompt of a request with a draft (next edit); "": the template
    edit_context: str = "{context}"  # how {context} is written in it (the recent changes)

    def __post_init__(self) -> None:
        if "{prefix}" not in self.template:
            raise FormatError(f"format {self.name!r}: the template must hold {{prefix}}")
        if not self.end:
            raise FormatError(f"format {self.name!r}: 'end' must name at least one token")
        if self.canvas not in CANVAS_MODES:
            raise FormatError(f"format {self.name!r}: 'canvas' must be one of {', '.join(CANVAS_MODES)}")
        if not 0 <= self.suffix_on_canvas <= 64:
            raise FormatError(f"format {self.name!r}: 'suffix_on_canvas' must be in [0, 64]")
        for name, template in (("template", self.template), ("edit_template", self.edit_template)):
            unknown = set(re.findall(r"\{(\w+)\}", template)) - set(TEXT_PLACEHOLDERS) - set(NAME_PLACEHOLDERS)
            if unknown:
                raise FormatError(f"format {self.name!r}: unknown placeholders in its {name}: "
                                  f"{', '.join(sorted(unknown))}")
        if "{draft}" in self.template:
            raise FormatError(f"format {self.name!r}: only the edit_template holds {{draft}}")
        missing = [p for p in ("{prefix}", "{suffix}", "{draft}") if self.edit_template and p not in self.edit_template]
        if missing:
            raise FormatError(f"format {self.name!r}: the edit_template must hold {', '.join(missing)}")

    def bind(self, tokenizer: InfillTokenizer) -> BoundFormat:
        """This format resolved against ``tokenizer``; FormatError names what the tokenizer lacks."""
        missing = [t for t in (*self.requires, *self.end) if tokenizer.token_id(t) is None]
        if missing:
            raise FormatError(
                f"the prompt format {self.name!r} needs the tokens {', '.join(missing)}, which this model's "
                f"tokenizer does not have; choose another format (formats: {', '.join(load_formats())})"
            )
        return BoundFormat(self, tokenizer)


@dataclass(slots=True)
class BoundFormat:
    """A format bound to a tokenizer: prompt ids, end ids, ids never sampled, canvas text."""

    format: PromptFormat
    tokenizer: InfillTokenizer
    end_ids: list[int] = field(init=False)
    never_generated: list[int] = field(init=False)
    noise_low: int = field(init=False)
    _literals: dict[str, list[tuple[str, list[int]]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        ids = [self.tokenizer.token_id(t) for t in self.format.end]
        self.end_ids = [i for i in ids if i is not None]
        special = self.tokenizer.special_ids()
        self.never_generated = sorted(special - set(self.end_ids))
        # Noise is drawn above the block of control tokens that opens the vocabulary.
        taken = special | set(self.end_ids)
        self.noise_low = next(i for i in range(len(taken) + 1) if i not in taken)

    @property
    def name(self) -> str:
        return self.format.name

    @property
    def suffix_on_canvas(self) -> int:
        return self.format.suffix_on_canvas

    def _pieces(self, language: str, edit: bool = False) -> list[tuple[str, list[int]]]:
        """The template (``edit``: the edit template) for ``language`` cut at its text placeholders:
        (placeholder or "", literal ids)."""
        key = ("edit:" if edit else "") + language
        pieces = self._literals.get(key)
        if pieces is None:
            names = language_names(language)
            if self.tokenizer.token_id(f"<lang:{names['tag']}>") is None:
                names["tag"] = TEXT_TAG
            text = self.format.edit_template if edit else self.format.template
            if not names["language"]:  # no language: "completing {language} code" reads "completing code"
                text = text.replace("{language} ", "")
            for key, value in names.items():
                text = text.replace("{" + key + "}", value)
            pieces = []
            for index, part in enumerate(_PLACEHOLDER.split(text)):
                if index % 2:
                    pieces.append((part, []))
                elif part:
                    pieces.append(("", self.tokenizer.encode_template(part)))
            self._literals[key] = pieces
        return pieces

    @property
    def edits(self) -> bool:
        """Whether this format has a prompt of its own for drafts (next edit)."""
        return bool(self.format.edit_template)

    def prompt(
        self, prefix: list[int], suffix: list[int], language: str, context: list[int] | None = None,
        draft: list[int] | None = None,
    ) -> list[int]:
        """The prompt ids for a hole between ``prefix`` and ``suffix`` (already tokenized and trimmed); with a
        ``draft`` (the hole's current text) and an edit template, the next-edit prompt."""
        edit = draft is not None and self.edits
        wrapper = self.format.edit_context if edit else self.format.context
        context_ids = self._context_ids(context or [], language, wrapper)
        values = {"prefix": prefix, "suffix": suffix, "context": context_ids, "draft": draft or []}
        out: list[int] = []
        for placeholder, ids in self._pieces(language, edit):
            out.extend(values[placeholder] if placeholder else ids)
        return out

    def after_prefix(self, language: str) -> int:
        """How many template tokens follow the prefix in the prompt (where a continuation of it starts)."""
        pieces = self._pieces(language)
        index = next(i for i, (placeholder, _) in enumerate(pieces) if placeholder == "prefix")
        return sum(len(ids) for placeholder, ids in pieces[index + 1 :] if not placeholder)

    def _context_ids(self, context: list[int], language: str, wrapper: str | None = None) -> list[int]:
        if not context:
            return []
        head, _, tail = (self.format.context if wrapper is None else wrapper).partition("{context}")
        return [*self.tokenizer.encode_template(head), *context, *self.tokenizer.encode_template(tail)]

    def canvas_text(self, ids: list[int]) -> tuple[str, int]:
        """The fill a canvas holds: its text up to the first end token (and stop text), and its token count."""
        ends = set(self.end_ids)
        length = next((i for i, token in enumerate(ids) if token in ends), len(ids))
        text = self.tokenizer.decode(ids[:length])
        for stop in self.format.stop:
            if stop in text:
                text = text[: text.index(stop)]
        return text, length


def language_names(language: str) -> dict[str, str]:
    """What a template's name placeholders say for a request's ``language`` (a table name, an editor language
    id, a model tag or anything else): ``language`` the name people write ("C++"; "" for text, or a file of no
    known language), ``tag`` the model's tag, ``fence`` the code fence's name ("cpp"; "" for text)."""
    entry = entry_for_language(language)
    if entry is not None:
        return {"language": entry.title, "tag": entry.model_tag, "fence": entry.name}
    known = language not in ("", TEXT_TAG)
    return {"language": language if known else "", "tag": model_tag(language), "fence": language if known else ""}


@cache
def load_formats(path: Path = FORMATS_FILE) -> dict[str, PromptFormat]:
    """The format table, by name."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FormatError(f"cannot read the format table {path}: {exc}") from None
    formats: dict[str, PromptFormat] = {}
    for name, row in raw.items():
        if not isinstance(row, dict):
            raise FormatError(f"format {name!r}: expected a table")
        base = row.get("extends")
        fields: dict[str, Any] = {}
        if base is not None:
            if base not in raw:
                raise FormatError(f"format {name!r} extends {base!r}, which the table lacks")
            fields.update({k: v for k, v in raw[base].items() if k != "extends"})
        fields.update({k: v for k, v in row.items() if k != "extends"})
        for key in ("requires", "end", "stop", "detect"):
            if key in fields:
                fields[key] = tuple(fields[key])
        try:
            formats[name] = PromptFormat(name=name, **fields)
        except TypeError as exc:
            raise FormatError(f"format {name!r}: {exc}") from None
    return formats


def choose_format(tokenizer: InfillTokenizer, name: str = "auto", template: str = "") -> PromptFormat:
    """The format to serve ``tokenizer`` with: ``name`` (``auto``: the first whose ``detect`` tokens the
    tokenizer has), with the prompt ``template`` replaced when one is given (a user's template)."""
    formats = load_formats()
    if name == "auto":
        found = next((f for f in formats.values() if f.detect and all(tokenizer.token_id(t) is not None
                                                                       for t in f.detect)), None)
        if found is None:
            raise FormatError(
                "no prompt format fits this model's tokenizer: it has neither fill-in-the-middle tokens "
                "(<fim_prefix>, <fim_suffix>, <fim_middle>, <eom>) nor chat turns (<|turn>, <turn|>); "
                "give a prompt template"
            )
        chosen = found
    elif name in formats:
        chosen = formats[name]
    else:
        raise FormatError(f"unknown prompt format {name!r}; known: auto, {', '.join(formats)}")
    return replace(chosen, template=template, name=f"{chosen.name}+template") if template else chosen


def format_name_for(model_dir: str | Path, name: str = "auto") -> str:
    """The name of the format a model directory is served with (for ``infill engine --check``)."""
    return choose_format(InfillTokenizer.from_file(model_dir), name).name
