"""Edit examples: a span of a file as the user left it just before a follow-up edit, and the span after it.

An edit example is ``(prefix, before, after, suffix)``: ``after`` is the file's own text and ``before`` a
corrupted copy of it, the way a region looks when an edit elsewhere in the file has made it stale. The
model's canvas starts from ``before`` (the draft, as the engine serves ``InfillRequest.draft``) and is
trained toward ``after``. Corruptions, cut from any source file:

- ``rename``: an identifier of the span that also occurs around it takes another plausible name in the span
  only (its old name before a rename: another identifier of the file, or a mutated form of it);
- ``missing_arg``: one argument of a call in the span is dropped, where the callee is called or defined
  elsewhere in the file with the call's arity (a parameter was added and this call not yet updated);
- ``token``: a small token edit (a dropped or doubled token, a swapped operator);
- ``none``: no edit at all, ``before == after``, so the model learns to keep what is right.

Spans are whole lines without their last line end, as the next-edit predictor asks about them. Real edits
from git histories (``training.git_edits``) come in as the same ``EditCase``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from engine.prompt.fim import build_prompt
from engine.prompt.formats import BoundFormat
from engine.prompt.tokenizer import InfillTokenizer
from training.fim_examples import FimExample, FimRecipe

# Corruption kinds and how often each is drawn.
EDIT_KINDS = (("rename", 0.35), ("missing_arg", 0.2), ("token", 0.1), ("none", 0.35))

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that are syntax, not names, in the corpus languages: never renamed.
KEYWORDS = frozenset(
    "and as assert async await break case catch class const continue def default del do elif else enum "
    "except export extends false final finally fn for from func function go if impl import in interface "
    "is lambda let loop match mod mut new nil none nonlocal not null of or package pass pub raise return "
    "self static struct super switch this throw true try type typeof use var void while with yield "
    "None True False".split()
)
# Operator swaps of the token corruption (each way).
_SWAPS = (("==", "!="), ("<=", "<"), (">=", ">"), ("+", "-"), ("and", "or"), ("True", "False"), ("is", "is not"))
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|==|!=|<=|>=|->|\*\*|//|[^\sA-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class EditCase:
    """A region before and after an edit, with the text around it (``before == after``: no edit)."""

    prefix: str
    before: str
    after: str
    suffix: str
    kind: str


def _words(text: str) -> list[re.Match[str]]:
    return [m for m in IDENTIFIER.finditer(text) if m.group() not in KEYWORDS]


def _replace_word(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", new, text)


def mutated_name(name: str, rng: random.Random) -> str | None:
    """A plausible earlier name of ``name``: a part dropped, a shortening, a suffix or a prefix added."""
    parts = [p for p in re.split(r"_|(?<=[a-z0-9])(?=[A-Z])", name) if p]
    options = []
    if len(parts) > 1:
        keep = parts[:-1] if rng.random() < 0.5 else parts[1:]  # a part dropped
        if "_" in name:
            options.append("_".join(keep))
        else:
            options.append(keep[0] + "".join(p[:1].upper() + p[1:] for p in keep[1:]))
    if len(name) > 4:
        options.append(name[: max(2, len(name) // 2)])
    options.append(name + rng.choice(("_old", "2", "_", "s")) if name.islower() or "_" in name
                   else name + rng.choice(("Old", "2", "s")))
    options.append(rng.choice(("old_", "tmp_", "my_")) + name if name.islower() else rng.choice(("old", "tmp")) + name)
    options = [o for o in options if o and o != name and IDENTIFIER.fullmatch(o) and o not in KEYWORDS]
    return rng.choice(options) if options else None


def rename(prefix: str, span: str, suffix: str, rng: random.Random) -> str | None:
    """``span`` with one of its names that also occurs around it replaced by another name, or None."""
    around = {m.group() for m in _words(prefix)} | {m.group() for m in _words(suffix)}
    names = sorted({m.group() for m in _words(span) if len(m.group()) > 1 and m.group() in around})
    if not names:
        return None
    name = rng.choice(names)
    in_span = {m.group() for m in _words(span)}
    others = sorted(n for n in around if n not in in_span and len(n) > 1 and n[0].isupper() == name[0].isupper())
    new = rng.choice(others) if others and rng.random() < 0.4 else mutated_name(name, rng)
    if not new or new in in_span:
        return None
    return _replace_word(span, name, new)


def _call_arguments(text: str, open_paren: int) -> tuple[list[tuple[int, int]], int] | None:
    """The (start, end) spans of the top-level arguments of the call whose ``(`` is at ``open_paren``, and
    the index of its ``)``; None when the parentheses do not close within ``text``."""
    depth, start, args = 0, open_paren + 1, []
    quote = ""
    for i in range(open_paren, len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                if text[start:i].strip():
                    args.append((start, i))
                return args, i
        elif ch == "," and depth == 1:
            args.append((start, i))
            start = i + 1
    return None


def _arities(text: str) -> dict[str, set[int]]:
    """How many arguments each name is called (or defined) with in ``text``."""
    out: dict[str, set[int]] = {}
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", text):
        parsed = _call_arguments(text, match.end() - 1)
        if parsed is None:
            continue
        args = [a for a in parsed[0] if text[a[0] : a[1]].strip() not in ("self", "cls")]
        out.setdefault(match.group(1), set()).add(len(args))
    return out


def missing_argument(prefix: str, span: str, suffix: str, rng: random.Random) -> str | None:
    """``span`` with one argument dropped from a call whose callee has the call's arity elsewhere, or None."""
    elsewhere = _arities(prefix + "\n" + suffix)
    calls = []
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", span):
        if match.group(1) in KEYWORDS:
            continue
        parsed = _call_arguments(span, match.end() - 1)
        if parsed is None or not parsed[0]:
            continue
        args = parsed[0]
        if len(args) in elsewhere.get(match.group(1), ()):
            calls.append(args)
    if not calls:
        return None
    args = rng.choice(calls)
    index = len(args) - 1 if rng.random() < 0.7 else rng.randrange(len(args))
    start, end = args[index]
    if index > 0:  # drop the comma before it
        start = args[index - 1][1]
    elif len(args) > 1:  # the first of several: drop it and the comma after it, and the space that follows
        end = args[1][0]
        while end < len(span) and span[end] == " ":
            end += 1
    before = span[:start] + span[end:]
    return before if before != span else None


def token_edit(prefix: str, span: str, suffix: str, rng: random.Random) -> str | None:
    """``span`` with one small token edit: an operator swapped, a token dropped or doubled, or None."""
    tokens = list(_TOKEN.finditer(span))
    if not tokens:
        return None
    swaps = [(t, b) for t in tokens for a, b in _SWAPS if t.group() == a] + [
        (t, a) for t in tokens for a, b in _SWAPS if t.group() == b]
    roll = rng.random()
    if swaps and roll < 0.5:
        token, new = rng.choice(swaps)
        return span[: token.start()] + new + span[token.end() :]
    token = rng.choice(tokens)
    if roll < 0.75:
        return span[: token.start()] + span[token.end() :]
    return span[: token.end()] + token.group() + span[token.end() :]


CORRUPTIONS = {"rename": rename, "missing_arg": missing_argument, "token": token_edit}


def choose_lines(text: str, rng: random.Random, max_chars: int, max_lines: int = 3) -> tuple[int, int] | None:
    """The (start, end) of 1 to ``max_lines`` whole non-blank lines of ``text``, without the last line end."""
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 < len(text)]
    for _ in range(4):
        first = rng.randrange(len(starts))
        count = min(rng.choice([n for n in (1, 1, 1, 2, 3) if n <= max_lines]), len(starts) - first)
        start = starts[first]
        end = starts[first + count] - 1 if first + count < len(starts) else len(text.rstrip("\n"))
        if end - start > max_chars:
            count, end = 1, (starts[first + 1] - 1 if first + 1 < len(starts) else len(text.rstrip("\n")))
        while start < end and text[start] == "\n":  # blank lines at either end are not part of the region
            start += 1
        while end > start and text[end - 1] == "\n":
            end -= 1
        if 0 < end - start <= max_chars and text[start:end].strip():
            return start, end
    return None


def cut_edit_case(text: str, kind: str, rng: random.Random, max_chars: int, context_chars: int) -> EditCase | None:
    """An edit case of ``kind`` (a key of ``CORRUPTIONS`` or ``"none"``) cut from ``text``, or None."""
    span = choose_lines(text, rng, max_chars)
    if span is None:
        return None
    start, end = span
    prefix, after = text[max(0, start - context_chars) : start], text[start:end]
    suffix = text[end : end + context_chars]
    if kind == "none":
        return EditCase(prefix, after, after, suffix, kind)
    before = CORRUPTIONS[kind](prefix, after, suffix, rng)
    if before is None or before == after:
        return None
    return EditCase(prefix, before, after, suffix, kind)


def draft_room(tokens: int) -> int:
    """The canvas a draft of ``tokens`` needs as the engine serves it: the draft, its end and a quarter more
    (at least 4) to grow into (``EngineCore._draft_widths``)."""
    return tokens + 1 + max(4, tokens // 4)


class EditSampler:
    """Cut edit examples (``FimExample`` with a ``draft``) from source files, or build them from edit cases."""

    def __init__(self, tokenizer: InfillTokenizer, recipe: FimRecipe, fmt: BoundFormat | None = None,
                 kinds: tuple[tuple[str, float], ...] = EDIT_KINDS) -> None:
        self.tokenizer = tokenizer
        self.recipe = recipe
        self.format = fmt
        self._kinds = [k for k, _ in kinds]
        self._weights = [w for _, w in kinds]

    def sample(self, text: str, language: str, canvas_length: int, rng: random.Random) -> FimExample | None:
        """One synthetic edit example whose draft and middle fit ``canvas_length``, or None."""
        recipe = self.recipe
        max_chars = int((canvas_length - 1) * recipe.chars_per_token * 0.8)
        context = int(max(recipe.max_prefix_tokens, recipe.max_suffix_tokens) * recipe.chars_per_token * 1.5)
        for _ in range(4):
            kind = rng.choices(self._kinds, self._weights)[0]
            case = cut_edit_case(text, kind, rng, max_chars, context)
            if case is not None and (example := self.example(case, language, canvas_length)) is not None:
                return example
        return None

    def example(self, case: EditCase, language: str, canvas_length: int) -> FimExample | None:
        """The training example of ``case``: the prompt around it, ``after`` as the middle and ``before`` as the
        draft; None when either does not fit ``canvas_length`` with its end."""
        encode, recipe = self.tokenizer.encode, self.recipe
        middle, draft = encode(case.after), encode(case.before)
        if len(middle) >= canvas_length or draft_room(len(draft)) > canvas_length:
            return None
        prefix = encode(case.prefix[-int(recipe.max_prefix_tokens * recipe.chars_per_token * 1.5) :])
        suffix = encode(case.suffix[: int(recipe.max_suffix_tokens * recipe.chars_per_token * 1.5)])
        prefix, suffix = prefix[-recipe.max_prefix_tokens :], suffix[: recipe.max_suffix_tokens]
        if self.format is None:
            prompt = build_prompt(self.tokenizer.special, prefix, suffix, language)
            return FimExample(prompt, middle, f"edit:{case.kind}", draft=tuple(draft))
        prompt = self.format.prompt(prefix, suffix, language)
        return FimExample(prompt, middle, f"edit:{case.kind}", tuple(prefix), tuple(suffix), language, tuple(draft))
