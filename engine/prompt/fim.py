"""The fill-in-the-middle layout shared by training and serving: special tokens and prompt order.

The prompt is ``<bos> <lang> <fim_suffix> SUFFIX <fim_prefix> PREFIX <fim_middle>`` and the canvas that
follows it holds the middle, padded to the canvas length with ``<eom>``. Suffix-first order keeps the
part of the prompt that changes while the user types (the end of the prefix) at the end of the token
sequence, so an encoder cache of everything before it stays valid across keystrokes.
"""

from __future__ import annotations

from dataclasses import dataclass

from grammars import default_table

PAD = "<pad>"
EOS = "<eos>"
BOS = "<bos>"
FIM_PREFIX = "<fim_prefix>"
FIM_SUFFIX = "<fim_suffix>"
FIM_MIDDLE = "<fim_middle>"
END_OF_MIDDLE = "<eom>"
FILE_SEP = "<file_sep>"
MASK = "<mask>"
# Reserved so the DiffusionGemma config's image ids point inside our vocabulary; never produced.
IMAGE_RESERVED = ("<boi>", "<eoi>", "<image>")

# The language tags the shipped tokenizer holds, in id order. Requests name a language of the table
# (grammars/languages.toml) and reach the model as that row's ``model_tag``; "tsx" stays only so the
# token ids do not move: no table row produces it (training files .tsx as typescript).
LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust", "text")
TEXT_TAG = "text"

# Order fixes the ids: pad=0, eos=1, bos=2 match DiffusionGemmaTextConfig's defaults.
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD,
    EOS,
    BOS,
    *IMAGE_RESERVED,
    FIM_PREFIX,
    FIM_SUFFIX,
    FIM_MIDDLE,
    END_OF_MIDDLE,
    FILE_SEP,
    MASK,
    *(f"<lang:{name}>" for name in LANGUAGES),
)


def model_tag(language: str) -> str:
    """Return the model's tag for a table language (tsx -> typescript) or for a tag itself; else text.

    The corpus labels files by tag, so training passes tags; the editor side passes table names.
    """
    entry = default_table().get(language)
    if entry is not None:
        return entry.model_tag
    return language if language in LANGUAGES else TEXT_TAG


@dataclass(frozen=True, slots=True)
class SpecialIds:
    """Token ids of the special tokens, resolved once against a tokenizer."""

    pad: int
    eos: int
    bos: int
    fim_prefix: int
    fim_suffix: int
    fim_middle: int
    eom: int
    file_sep: int
    mask: int
    boi: int
    eoi: int
    image: int
    languages: dict[str, int]  # by tag, every tag of LANGUAGES

    @classmethod
    def from_vocab(cls, token_to_id) -> SpecialIds:
        """Resolve ids with ``token_to_id`` (a tokenizers.Tokenizer method or a dict's ``get``)."""

        def need(token: str) -> int:
            value = token_to_id(token)
            if value is None:
                raise ValueError(f"tokenizer lacks the special token {token!r}")
            return int(value)

        return cls(
            pad=need(PAD),
            eos=need(EOS),
            bos=need(BOS),
            fim_prefix=need(FIM_PREFIX),
            fim_suffix=need(FIM_SUFFIX),
            fim_middle=need(FIM_MIDDLE),
            eom=need(END_OF_MIDDLE),
            file_sep=need(FILE_SEP),
            mask=need(MASK),
            boi=need(IMAGE_RESERVED[0]),
            eoi=need(IMAGE_RESERVED[1]),
            image=need(IMAGE_RESERVED[2]),
            languages={name: need(f"<lang:{name}>") for name in LANGUAGES},
        )

    @property
    def never_generated(self) -> list[int]:
        """Ids the denoiser must never place in a canvas (everything special but ``<eom>``)."""
        ids = [self.pad, self.eos, self.bos, self.fim_prefix, self.fim_suffix, self.fim_middle]
        ids += [self.file_sep, self.mask, self.boi, self.eoi, self.image, *self.languages.values()]
        return ids


def build_prompt(
    ids: SpecialIds, prefix_ids: list[int], suffix_ids: list[int], language: str
) -> list[int]:
    """Return the prompt token ids for a hole between ``prefix_ids`` and ``suffix_ids``."""
    lang = ids.languages.get(model_tag(language), ids.languages[TEXT_TAG])
    return [ids.bos, lang, ids.fim_suffix, *suffix_ids, ids.fim_prefix, *prefix_ids, ids.fim_middle]
