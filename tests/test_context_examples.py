"""Repository context in training examples: built from the other files of the package as the language server
builds it, never holding the hole's own file or its answer; packages read together from shuffled shards; the
``infill train run`` flag."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from training.context_examples import ContextBuilder, package_key, serving_budgets
from training.fim_examples import FimExample, FimRecipe, FimSampler, equal_length_batches, trim_prompt
from training.shards import iter_packages, plan_shards, record_line, write_shards

A = '''from billing import total_price


def checkout(cart):
    """Charge the cart."""
    amount = total_price(cart.items, cart.discount)
    return amount
'''
B = '''def total_price(items, discount=0.0):
    """The price of items after a discount."""
    return sum(item.price for item in items) * (1 - discount)


def unrelated():
    return 42
'''
HOLE = "    amount = total_price(cart.items, cart.discount)\n"


def _builder(texts: list[tuple[str, str]], places: list[tuple[str, str]]) -> ContextBuilder:
    budget, prefix_chars, suffix_chars = serving_budgets(640, 192, 3.2)
    return ContextBuilder(texts, places, budget=budget, prefix_chars=prefix_chars, suffix_chars=suffix_chars)


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory) -> Path:
    from training.tokenizer_train import train_tokenizer

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([A, B, "# file: a.py\n"] * 3, vocab_size=400, min_frequency=1).save(str(path))
    return path


@pytest.fixture(scope="module")
def tokenizer(tokenizer_path):
    from engine.prompt.tokenizer import InfillTokenizer

    return InfillTokenizer.from_file(tokenizer_path)


def test_a_hole_that_calls_another_files_function_gets_its_definition_under_a_marker():
    builder = _builder([(A, "python"), (B, "python")], [("shop==1", "a.py"), ("shop==1", "b.py")])
    start = A.index(HOLE)
    block = builder.block(0, start, start + len(HOLE), random.Random(0))
    assert block.startswith("# file: b.py\n")
    assert 'def total_price(items, discount=0.0):\n    """The price of items after a discount."""' in block
    assert "# file: a.py" not in block and "def checkout" not in block  # never the hole's own file
    assert len(block) <= serving_budgets(640, 192, 3.2)[0]
    # A file alone in its package, or with no package, gets no context.
    assert _builder([(A, "python")], [("shop==1", "a.py")]).block(0, start, start + 4, random.Random(0)) == ""
    assert _builder([(A, "python"), (B, "python")], [("", "a.py"), ("", "b.py")]).block(
        0, start, start + 4, random.Random(0)) == ""


def test_the_sampler_puts_the_block_in_the_prompts_context_slot(tokenizer):
    from engine.prompt.fim import build_prompt

    builder = _builder([(A, "python"), (B, "python")], [("shop==1", "a.py"), ("shop==1", "b.py")])
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=100))
    rng = random.Random(3)
    seen = 0
    for _ in range(60):
        example = sampler.sample(A, "python", 32, rng, builder.hook(0, rng, tokenizer.encode))
        assert example is not None
        split = example.prompt.index(tokenizer.special.fim_prefix)
        suffix = example.prompt[3:split]
        slot_and_prefix = example.prompt[split + 1 : -1]
        assert example.prompt == build_prompt(tokenizer.special, slot_and_prefix, suffix, "python")
        assert slot_and_prefix[: len(example.context)] == list(example.context)
        prefix = tokenizer.decode(slot_and_prefix[len(example.context) :])
        assert prefix + tokenizer.decode(example.middle) + tokenizer.decode(suffix) == A
        if example.context:
            seen += 1
            context = tokenizer.decode(list(example.context))
            assert context.startswith("# file: b.py\n") and "# file: a.py" not in context
    assert seen > 30


def test_the_answer_never_appears_in_the_context(tokenizer):
    # b.py repeats the hole's line word for word: the similar-windows source would offer it.
    copy = B + "\n\ndef checkout_again(cart):\n" + HOLE + "    return amount\n"
    builder = _builder([(A, "python"), (copy, "python")], [("shop==1", "pkg/a.py"), ("shop==1", "pkg/b.py")])
    start = A.index(HOLE)
    block = builder.block(0, start, start + len(HOLE), random.Random(0))
    assert HOLE.strip() not in block
    assert "# file: pkg/b.py" in block and "def total_price" in block  # the definition stays
    sampler = FimSampler(tokenizer, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=100))
    rng = random.Random(5)
    checked = 0
    for _ in range(150):
        example = sampler.sample(A, "python", 32, rng, builder.hook(0, rng, tokenizer.encode))
        middle = tokenizer.decode(example.middle).strip()
        if example.context and len("".join(middle.split())) >= 8:
            checked += 1
            assert middle not in tokenizer.decode(list(example.context))
    assert checked > 10


def test_trimming_keeps_the_context_whole_while_the_prefix_or_suffix_can_give():
    prompt = [2, 50, 8, 60, 61, 62, 7, 70, 71, 72, 80, 81, 82, 83, 9]  # bos lang suf S S S pre C C C P P P P mid
    assert trim_prompt(prompt, len(prompt) - 3, 7, context=3) == [2, 50, 8, 60, 61, 62, 7, 70, 71, 72, 83, 9]
    assert trim_prompt(prompt, len(prompt) - 6, 7, context=3) == [2, 50, 8, 60, 7, 70, 71, 72, 9]
    assert trim_prompt(prompt, len(prompt) - 8, 7, context=3) == [2, 50, 8, 7, 71, 72, 9]  # then the context's start
    # Without a context the oldest tokens after <fim_prefix> go first, as before.
    assert trim_prompt(prompt, len(prompt) - 3, 7) == [2, 50, 8, 60, 61, 62, 7, 80, 81, 82, 83, 9]
    example = FimExample(prompt, [5], "line", context=(70, 71, 72))
    short = FimExample([2, 50, 8, 60, 7, 70, 83, 9], [5], "line")
    (batch,) = equal_length_batches([example, short] * 2, 4, type("Special", (), {"fim_prefix": 7})())
    assert [e.prompt for e in batch].count([2, 50, 8, 7, 70, 71, 72, 9]) == 2


def test_under_a_prompt_format_the_block_fills_its_context_slot_and_survives_trimming(tokenizer_path, tmp_path):
    from engine.prompt.tokenizer import InfillTokenizer
    from infill_tools.chat_model import chat_tokenizer
    from training.fim_examples import trim_parts
    from training.train import bind_training_format

    chat_tokenizer(tokenizer_path, tmp_path / "chat.json")
    chat = InfillTokenizer.from_file(tmp_path / "chat.json")
    fmt = bind_training_format(chat, "chat")
    builder = _builder([(A, "python"), (B, "python")], [("shop==1", "a.py"), ("shop==1", "b.py")])
    sampler = FimSampler(chat, FimRecipe(max_prefix_tokens=400, max_suffix_tokens=100), fmt)
    rng = random.Random(1)
    examples = [sampler.sample(A, "python", 32, rng, builder.hook(0, rng, chat.encode)) for _ in range(20)]
    with_context = [e for e in examples if e.context]
    assert len(with_context) > 10
    for e in with_context:
        assert e.prompt == fmt.prompt(list(e.prefix), list(e.suffix), "python", list(e.context))
        assert "# file: b.py" in chat.decode(e.prompt)
        cut = trim_parts(e, len(e.prompt) - len(e.prefix) - 1, fmt)  # all the prefix and one suffix token
        if e.suffix:
            assert cut.context == e.context and cut.prefix == () and cut.suffix == e.suffix[:-1]
        else:  # nothing after the hole: the context's first token goes
            assert cut.context == e.context[1:] and cut.prefix == ()
        assert cut.prompt == fmt.prompt([], list(cut.suffix), "python", list(cut.context))


def test_the_context_fraction_sets_how_many_batches_rows_carry_context(tokenizer, tokenizer_path):
    from training.train import FimBatches

    texts = [(A, "python"), (B, "python")] * 4
    places = [("shop==1", "a.py"), ("shop==1", "b.py")] * 4
    places = [(p, f"{i // 2}/{path}") if i >= 2 else (p, path) for i, (p, path) in enumerate(places)]

    def rows_with_context(fraction: float, places) -> int:
        recipe = FimRecipe(max_prefix_tokens=200, max_suffix_tokens=50, canvas_lengths=(32,),
                           context_fraction=fraction)  # fmt: skip
        stream = iter(FimBatches(texts, str(tokenizer_path), recipe, 8, seed=1, places=places))
        rows = [row for _ in range(4) for row in next(stream).prompt_ids]  # one draw: 4 buckets of 8 rows
        return sum("# file:" in tokenizer.decode(row.tolist()) for row in rows)

    assert rows_with_context(0.0, places) == 0
    assert rows_with_context(1.0, None) == 0  # no package information: no context
    assert rows_with_context(1.0, places) >= 12
    with pytest.raises(ValueError, match="context_fraction"):
        FimRecipe(context_fraction=1.5)


def test_held_out_holes_take_context_from_files_they_are_not_cut_from(tokenizer_path, monkeypatch):
    from training.train import FimBatches

    cut_from = []
    real_sample = FimSampler.sample

    def spy(self, text, language, canvas_length, rng, context=None):
        cut_from.append(text)
        return real_sample(self, text, language, canvas_length, rng, context)

    monkeypatch.setattr(FimSampler, "sample", spy)
    recipe = FimRecipe(max_prefix_tokens=200, max_suffix_tokens=50, canvas_lengths=(32,), context_fraction=1.0)
    stream = FimBatches([(A, "python"), (B, "python")], str(tokenizer_path), recipe, 4, seed=0,
                        places=[("shop==1", "a.py"), ("shop==1", "b.py")], sampled=1)  # fmt: skip
    batches = iter(stream)
    prompts = [row for _ in range(4) for row in next(batches).prompt_ids]  # one draw: 4 buckets of 4 rows
    assert set(cut_from) == {A}
    from engine.prompt.tokenizer import InfillTokenizer

    decode = InfillTokenizer.from_file(tokenizer_path).decode
    assert any("# file: b.py" in decode(row.tolist()) for row in prompts)


def _write_corpus(root: Path, records: list[dict], *, manifest: bool = True) -> None:
    lines = [record_line(r) for r in records]
    write_shards(root, lines, plan_shards([len(x) for x in lines], 300))  # tiny shards: several of them
    if manifest:
        rows = sorted((r["package"], r["version"], r["license"], r["path"], r["sha256"], str(len(r["text"])),
                       r["language"]) for r in records)  # fmt: skip
        head = "package\tversion\tlicense\tpath\tsha256\tbytes\tlanguage\n"
        (root / "manifest.tsv").write_text(head + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def _records() -> list[dict]:
    records = []
    for package, count in (("alpha", 3), ("beta", 2), ("gamma", 4)):
        for n in range(count):
            language = "go" if package == "gamma" and n == 3 else "python"
            records.append({"text": f"# {package} {n}\n" + "x = 1\n" * 20, "language": language, "package": package,
                            "version": "1.0", "license": "MIT", "path": f"{package}/m{n}.py", "sha256": f"{n}"})
    random.Random(0).shuffle(records)  # shards are shuffled: a package's files are spread over them
    return records


@pytest.mark.parametrize("manifest", [True, False])
@pytest.mark.parametrize("max_bytes", [1 << 20, 200])
def test_iter_packages_groups_each_packages_files_from_shuffled_shards(tmp_path, manifest, max_bytes):
    _write_corpus(tmp_path, _records(), manifest=manifest)
    assert len(list(tmp_path.glob("shard-*.jsonl.gz"))) > 2
    packages = {(name, version): files for name, version, files in iter_packages(tmp_path, max_bytes=max_bytes)}
    assert sorted(packages) == [("alpha", "1.0"), ("beta", "1.0"), ("gamma", "1.0")]
    assert sorted(packages["alpha", "1.0"]) == ["alpha/m0.py", "alpha/m1.py", "alpha/m2.py"]
    assert len(packages["gamma", "1.0"]) == 4
    assert packages["beta", "1.0"]["beta/m1.py"].startswith("# beta 1\n")
    python = {name: files for name, _, files in iter_packages(tmp_path, {"python"}, max_bytes=max_bytes)}
    assert sorted(python["gamma"]) == ["gamma/m0.py", "gamma/m1.py", "gamma/m2.py"]
    with pytest.raises(ValueError, match="max_bytes"):
        next(iter_packages(tmp_path, max_bytes=0))


def test_iter_packages_holds_one_group_at_a_time(tmp_path, monkeypatch):
    """With a small pass budget, each pass reads the shards again for its own packages only."""
    import training.shards as shards

    _write_corpus(tmp_path, _records())
    opened = []
    real_open = gzip.open
    monkeypatch.setattr(shards.gzip, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    names = [name for name, _, _ in iter_packages(tmp_path, max_bytes=300)]
    assert sorted(names) == ["alpha", "beta", "gamma"]
    one_pass = len(list(tmp_path.glob("shard-*.jsonl.gz")))
    assert one_pass < len(opened) <= 3 * one_pass  # a pass per package here, each stopping once its package is whole


def test_package_key_names_the_version():
    assert package_key({"package": "rich", "version": "13.0"}) == "rich==13.0"
    assert package_key({"path": "x.py"}) == ""


def test_train_run_flag_is_validated_and_reaches_the_sampler(tmp_path, monkeypatch, capsys):
    import training.train as train_module
    from training.tokenizer_train import train_tokenizer

    real_train = train_module.train
    with pytest.raises(SystemExit):
        train_module.main(["--tokenizer", "t", "--out", "o", "--context-fraction", "1.5"])
    assert "--context-fraction: must lie in [0, 1], got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_module.main(["--tokenizer", "t", "--out", "o", "--context-fraction", "half"])
    captured = {}
    monkeypatch.setattr(train_module, "train", lambda cfg, *args: captured.update(cfg=cfg))
    train_module.main(["--tokenizer", "t", "--out", "o", "--context-fraction", "0.25"])
    assert captured["cfg"].recipe.context_fraction == 0.25
    train_module.main(["--tokenizer", "t", "--out", "o2"])
    assert captured["cfg"].recipe.context_fraction == FimRecipe().context_fraction == 0.5

    # A few steps of the tiny shape with every example given context, through the DataLoader path.
    sampled = []
    real_sample = FimSampler.sample

    def spy(self, text, language, canvas_length, rng, context=None):
        example = real_sample(self, text, language, canvas_length, rng, context)
        sampled.append(example)
        return example

    monkeypatch.setattr(train_module, "train", real_train)
    monkeypatch.setattr(FimSampler, "sample", spy)
    corpus = tmp_path / "corpus"
    records = [{"text": text, "language": "python", "package": "shop", "version": "1", "license": "MIT",
                "path": path, "sha256": path} for text, path in ((A, "a.py"), (B, "b.py"))] * 6  # fmt: skip
    records = [{**r, "path": f"{n}/{r['path']}"} if n >= 2 else r for n, r in enumerate(records)]
    _write_corpus(corpus, records)
    tokenizer = tmp_path / "tokenizer.json"
    train_tokenizer([A, B], vocab_size=400, min_frequency=1).save(str(tokenizer))
    code = train_module.main(["--corpus", str(corpus), "--tokenizer", str(tokenizer), "--out", str(tmp_path / "run"),
                              "--shape", "tiny", "--steps", "3", "--batch-size", "4", "--warmup", "1", "--workers",
                              "0", "--max-prefix-tokens", "160", "--max-suffix-tokens", "32", "--canvas-lengths", "16",
                              "--context-fraction", "1", "--eval-every", "100", "--save-every", "100"])  # fmt: skip
    assert code == 0
    assert any(e is not None and e.context for e in sampled)
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["config"]["recipe"]["context_fraction"] == 1.0
    assert log[-1]["event"] == "done" and log[-1]["step"] == 3



def test_the_context_probe_scores_the_same_holes_with_and_without_their_block(tiny_model_dir, capsys):
    from infill_tools.context_probe import main

    assert main([str(tiny_model_dir), "--holes", "4", "--prefix-tokens", "64", "--canvas", "16", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[str(tiny_model_dir)]
    assert row["holes"] == 4 and row["pairs"] == 2  # one batch of 4 holes, two noise seeds
    assert row["delta"] == pytest.approx(row["with_context"] - row["without"], abs=2e-4)
    low, high = row["delta_95"]
    assert low <= row["delta"] <= high
