"""Prompt formats: the embedded model's FIM layout, the chat layout for DiffusionGemma-it, the native one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from engine.core.config import EngineConfig
from engine.core.kv import common_prefix_length
from engine.model.checkpoint import default_model_dir
from engine.prompt.fim import build_prompt
from engine.prompt.formats import FormatError, PromptFormat, choose_format, load_formats
from engine.prompt.tokenizer import InfillTokenizer
from engine.protocol import InfillRequest, InfillResult

# Gemma 4's control tokens at their ids (the rest of the first 107 ids are reserved placeholders).
GEMMA_SPECIAL = {0: "<pad>", 1: "<eos>", 2: "<bos>", 50: "<|tool_response>", 100: "<|channel>",
                 101: "<channel|>", 105: "<|turn>", 106: "<turn|>"}
CODE = "def add(a, b):\n    return a + b\n\nclass Stack:\n    def push(self, item):\n        self.items.append(item)\n"


def gemma_like_tokenizer() -> Tokenizer:
    """A byte-level BPE with Gemma 4's control tokens at their ids and no FIM tokens."""
    specials = [GEMMA_SPECIAL.get(i, f"<unused{i}>") for i in range(107)]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, min_frequency=1,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([CODE] * 10, trainer=trainer)
    assert all(tokenizer.token_to_id(t) == i for i, t in GEMMA_SPECIAL.items())
    return tokenizer


@pytest.fixture(scope="module")
def embedded() -> InfillTokenizer:
    return InfillTokenizer.from_file(default_model_dir())


@pytest.fixture(scope="module")
def gemma() -> InfillTokenizer:
    return InfillTokenizer(gemma_like_tokenizer())


def test_the_table_loads_and_native_extends_chat():
    formats = load_formats()
    assert {"fim", "chat", "native"} <= set(formats)
    assert formats["native"].template == formats["chat"].template and formats["native"].suffix_on_canvas > 0


def test_fim_prompt_is_the_training_layout(embedded):
    bound = choose_format(embedded).bind(embedded)
    assert bound.name == "fim"
    prefix, suffix = embedded.encode("x = foo("), embedded.encode(")\nprint(x)\n")
    for language in ("python", "tsx", "cobol"):
        assert bound.prompt(prefix, suffix, language) == build_prompt(embedded.special, prefix, suffix, language)


def test_code_cannot_inject_control_tokens(embedded, gemma):
    fim_middle = embedded.token_id("<fim_middle>")
    assert fim_middle not in embedded.encode("s = '<fim_middle>'")
    assert gemma.token_id("<turn|>") not in gemma.encode("# <turn|> <|turn>model")


def test_a_tokenizer_without_the_format_tokens_is_refused_by_name(gemma):
    with pytest.raises(FormatError, match=r"'fim' needs the tokens .*<fim_prefix>"):
        choose_format(gemma, "fim").bind(gemma)
    bare = Tokenizer(models.BPE())
    bare.add_special_tokens(["<pad>", "<eos>", "<bos>"])
    with pytest.raises(FormatError, match="no prompt format fits"):
        choose_format(InfillTokenizer(bare))
    with pytest.raises(FormatError, match="unknown prompt format"):
        choose_format(gemma, "nonsense")


def test_chat_prompt_keeps_what_typing_changes_last(gemma):
    bound = choose_format(gemma).bind(gemma)
    assert bound.name == "chat" and bound.end_ids == [106, 1]
    prefix, suffix = gemma.encode("def add(a, b):\n    return "), gemma.encode("\n\nclass Stack:\n")
    context = gemma.encode("# file: util.py\ndef helper(): ...\n")
    prompt = bound.prompt(prefix, suffix, "python", context)
    text = gemma.template_backend.decode(prompt, skip_special_tokens=False)
    assert text.startswith("<bos><|turn>user\n") and "util.py" in text
    assert text.index("class Stack") < text.index("<turn|>") < text.index("<|turn>model\n```python\n")
    assert text.endswith("def add(a, b):\n    return ")
    typed = bound.prompt(gemma.encode("def add(a, b):\n    return a"), suffix, "python", context)
    # A keystroke changes only the end: everything before the prefix's tokens stays cached.
    assert common_prefix_length(prompt, typed) >= len(prompt) - len(prefix)
    # The fill ends at the end of the turn, or at a closing code fence.
    canvas = gemma.encode("a + b\n```\nmore") + [106] + gemma.encode("junk")
    assert bound.canvas_text(canvas)[0] == "a + b\n"


def test_the_chat_instruction_names_the_language_as_people_write_it(gemma):
    bound = choose_format(gemma, "chat").bind(gemma)

    def text(language: str) -> str:
        return gemma.template_backend.decode(bound.prompt([], [], language), skip_special_tokens=False)

    cpp = text("cpp")
    assert "You are completing C++ code at the cursor." in cpp and "```cpp\n" in cpp and "```C++" not in cpp
    assert "You are completing C# code at the cursor." in text("csharp") and "```csharp\n" in text("csharp")
    # An editor's language id names the same language as its table name.
    assert "You are completing TSX code" in text("typescriptreact") and "```tsx\n" in text("typescriptreact")
    assert "You are completing Bash code" in text("shellscript")
    for unknown in ("text", ""):
        plain = text(unknown)
        assert "You are completing code at the cursor." in plain and "```\n" in plain, unknown
        assert "text code" not in plain and "  " not in plain.split("\n")[1]
    assert "You are completing cobol code" in text("cobol")  # a name the table does not know is said as given


def test_every_table_language_has_a_title_and_bad_titles_are_refused(tmp_path):
    from grammars import GrammarTableError, default_table, grammars_dir, load_table

    table = default_table()
    assert table["cpp"].title == "C++" and table["javascript"].title == "JavaScript"
    assert all(entry.title.strip() for entry in table.values())
    python = (grammars_dir() / "languages.toml").read_text().split("[javascript]")[0]
    for bad in ('""', "3", '" Python"', '"Py\\nthon"'):
        path = tmp_path / "languages.toml"
        path.write_text(python.replace('title = "Python"', f"title = {bad}"))
        (tmp_path / "python").mkdir(exist_ok=True)
        for kind in ("boundaries", "holes"):
            (tmp_path / "python" / f"{kind}.scm").write_text("")
        with pytest.raises(GrammarTableError, match="'title' must be"):
            load_table(path)
    path.write_text(python.replace('title = "Python"\n', ""))
    assert load_table(path)["python"].title == "python"  # the table name when no title is given


def test_a_user_template_replaces_the_prompt(gemma):
    fmt = choose_format(gemma, "chat", "<bos>{suffix}<|turn>{prefix}")
    bound = fmt.bind(gemma)
    assert fmt.name == "chat+template"
    assert bound.prompt([200], [300], "python") == [2, 300, 105, 200]


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory) -> Path:
    """A tiny random DiffusionGemma whose tokenizer has chat turns and no FIM tokens."""
    from transformers import DiffusionGemmaForBlockDiffusion

    from engine.model.architecture import SHAPES, ModelShape

    path = tmp_path_factory.mktemp("chat") / "model"
    tokenizer = gemma_like_tokenizer()
    torch.manual_seed(0)
    shape = ModelShape(**{**SHAPES["tiny"].to_dict(), "vocab_size": tokenizer.get_vocab_size(), "canvas_length": 12})
    DiffusionGemmaForBlockDiffusion(shape.to_config()).save_pretrained(path)
    tokenizer.save(str(path / "tokenizer.json"))
    return path


def _serve(core, request: InfillRequest) -> InfillResult:
    core.add(request)
    results = []
    while core.has_work():
        results += [m for m in core.step() if isinstance(m, InfillResult)]
    return results[-1]


def test_a_chat_checkpoint_is_served_with_its_canvas_length(chat_model_dir):
    from engine.core.loading import load_core

    core = load_core(chat_model_dir, device="cpu")
    assert core.welcome.prompt_format == "chat" and core.canvas_length == 12
    result = _serve(core, InfillRequest("1", "def add(a, b):\n    return ", "\n", language="python", max_steps=3,
                                        canvas_lengths=(8,)))
    assert {c.canvas_length for c in result.candidates} == {12}  # trained on one length: that one
    short = load_core(chat_model_dir, device="cpu", config=EngineConfig(short_canvases=True))
    result = _serve(short, InfillRequest("2", "x = ", "\n", max_steps=2, canvas_lengths=(8,)))
    assert {c.canvas_length for c in result.candidates} == {8}


def test_native_format_fixes_the_suffix_start_at_the_end_of_each_canvas(chat_model_dir):
    from engine.core.loading import load_core

    core = load_core(chat_model_dir, device="cpu", config=EngineConfig(prompt_format="native"))
    k = core.format.suffix_on_canvas
    suffix = "\nclass Stack:\n    def push(self, item):\n"
    tail = core.tokenizer.encode(suffix)[:k]
    core.add(
        InfillRequest("3", "def add(a, b):\n    return ", suffix, max_steps=2, canvas_lengths=(16,), num_candidates=1)
    )
    job = core.jobs["3"]
    assert job.widths == (8 + k, 16 + k, 32 + k)  # three fill lengths, each followed by the suffix's start
    while core.has_work():
        core.step()
        for slot in job.slots:
            assert slot.canvas[-k:].tolist() == tail and bool(slot.decided[-k:].all())


def test_the_launch_carries_the_prompt_settings_to_the_core(chat_model_dir, tmp_path):
    from engine.host.launch import EngineLaunch

    template = tmp_path / "prompt.txt"
    template.write_text("<bos>{suffix}<|turn>{prefix}")
    launch = EngineLaunch(model_dir=chat_model_dir, device="cpu", prompt_format="chat", prompt_template=template,
                          short_canvases=True)
    core = launch.load_core()
    assert core.format.name == "chat+template" and core.config.short_canvases
    assert core.format.prompt([200], [300], "python") == [2, 300, 105, 200]
    argv = launch.to_argv()
    assert argv[argv.index("--prompt-format") + 1] == "chat" and "--short-canvases" in argv
    native = EngineLaunch(model_dir=chat_model_dir, device="cpu", prompt_format="native").load_core()
    assert native.format.name == "native"


def test_a_draft_gets_the_edit_prompt_in_the_chat_format_and_the_plain_one_in_fim(gemma, embedded):
    bound = choose_format(gemma, "chat").bind(gemma)
    prefix, suffix = gemma.encode("def area(width, size):\n"), gemma.encode("\n\nprint(area(2, 3))\n")
    draft = gemma.encode("    return width * height")
    diff = gemma.encode("@@ -1 +1 @@\n-def area(width, height):\n+def area(width, size):\n")
    text = gemma.template_backend.decode(bound.prompt(prefix, suffix, "python", diff, draft), skip_special_tokens=False)
    assert "You are helping edit Python code" in text and "The recent changes, oldest first:\n```diff\n@@" in text
    assert ("def area(width, size):\n<|code_to_edit|>    return width * height<|/code_to_edit|>\n\nprint(area(2, 3))"
            in text)
    assert text.endswith("<|turn>model\n```python\n")  # the answer, seeded with the draft, is the region
    plain = gemma.template_backend.decode(bound.prompt(prefix, suffix, "python", diff), skip_special_tokens=False)
    assert "code_to_edit" not in plain and "Code from other files" in plain
    fim = choose_format(embedded).bind(embedded)
    ids = [embedded.encode(t) for t in ("a = ", "\n", "1")]
    assert fim.prompt(ids[0], ids[1], "python", None, ids[2]) == fim.prompt(ids[0], ids[1], "python")
    with pytest.raises(FormatError, match="edit_template must hold"):
        PromptFormat(name="x", template="{prefix}", end=("<eos>",), edit_template="{prefix}{suffix}")
    with pytest.raises(FormatError, match="only the edit_template"):
        PromptFormat(name="x", template="{prefix}{draft}", end=("<eos>",))


def test_a_chat_checkpoint_rewrites_a_draft_end_to_end(chat_model_dir):
    """The chat-format edit path on a random-weight checkpoint: the edit prompt, the canvas seeded with the draft,
    an answer (native too, where the suffix's start is not put on an edit's canvas)."""
    from engine.core.loading import load_core

    for name in ("chat", "native"):
        core = load_core(chat_model_dir, device="cpu", config=EngineConfig(prompt_format=name))
        core.add(InfillRequest("1", "def area(width, size):\n", "\n", language="python", draft="x = 1",
                               context="@@ -1 +1 @@\n-a\n+b\n", max_steps=3))
        job = core.jobs["1"]
        assert "<|code_to_edit|>x = 1<|/code_to_edit|>" in core.tokenizer.decode(job.prompt)
        assert job.tail_ids == [] and job.seed_ids == core.tokenizer.encode("x = 1")
        result = _serve(core, InfillRequest("2", "def f():\n", "\n", language="python", draft="pass", max_steps=3))
        assert result.candidates and core.welcome.edit_prompt
