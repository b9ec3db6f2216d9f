"""Edit examples and the edit-corruption training mode: corruptions, git edits, draft batches, the loss, the flag."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from pathlib import Path

import pytest
import torch

from training.edit_examples import (
    EDIT_KINDS,
    EditCase,
    EditSampler,
    cut_edit_case,
    missing_argument,
    mutated_name,
    rename,
    token_edit,
)
from training.fim_examples import FimExample, FimRecipe, collate, equal_length_batches

PREFIX = "def area(width, height, scale):\n    return width * height * scale\n\n\ndef report(width, height):\n"
SPAN = "    value = area(width, height, 2)"
SUFFIX = "\n    print(value)\n    return value\n"


def test_rename_replaces_a_name_of_the_context_in_the_span_only():
    seen = set()
    for seed in range(40):
        before = rename(PREFIX, SPAN, SUFFIX, random.Random(seed))
        assert before is not None and before != SPAN
        changed = {w for w in SPAN.replace("(", " ").replace(",", " ").replace(")", " ").split()} - set(
            before.replace("(", " ").replace(",", " ").replace(")", " ").split())
        assert len(changed) == 1  # one name, every occurrence of it in the span
        name = changed.pop()
        assert name in PREFIX + SUFFIX and name not in before.split()
        seen.add(name)
    assert seen <= {"value", "area", "width", "height"} and len(seen) >= 3
    assert rename("x = 1\n", "    return total", "\n", random.Random(0)) is None  # no shared name: no rename


def test_mutated_names_are_identifiers_other_than_the_name():
    rng = random.Random(0)
    for name in ("total_count", "itemCount", "value", "x1", "HTTPServer"):
        for _ in range(10):
            new = mutated_name(name, rng)
            assert new and new != name and new.isidentifier()


def test_missing_argument_drops_one_argument_of_a_call_known_with_that_arity():
    before = missing_argument(PREFIX, SPAN, SUFFIX, random.Random(0))
    assert before in {"    value = area(width, height)", "    value = area(height, 2)", "    value = area(width, 2)"}
    firsts = {missing_argument(PREFIX, SPAN, SUFFIX, random.Random(s)) for s in range(60)}
    assert "    value = area(height, 2)" in firsts  # dropping the first argument takes its comma and space
    assert "    value = area(width, height)" in firsts
    # The callee is known with another arity only (the call already has every argument): nothing to drop.
    assert missing_argument("def area(w, h):\n", "    area(w, h, 3)", "\n", random.Random(0)) is None
    assert missing_argument(PREFIX, "    show(value)", SUFFIX, random.Random(0)) is None  # show( not known


def test_token_edits_swap_drop_or_double_a_token():
    span = "    if count == limit:"
    outcomes = {token_edit("", span, "", random.Random(s)) for s in range(80)}
    assert "    if count != limit:" in outcomes
    assert any(o is not None and len(o) < len(span) for o in outcomes)
    assert any(o is not None and len(o) > len(span) for o in outcomes)
    assert span not in outcomes


def test_cases_are_whole_lines_and_no_edit_cases_keep_the_region():
    text = PREFIX + SPAN + SUFFIX
    kinds = {}
    rng = random.Random(3)
    for i in range(300):
        kind = EDIT_KINDS[i % len(EDIT_KINDS)][0]
        case = cut_edit_case(text, kind, rng, max_chars=80, context_chars=1000)
        if case is None:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        assert case.prefix + case.after + case.suffix in text
        assert case.prefix == "" or case.prefix.endswith("\n")
        assert "\n" not in case.after[-1:] and (case.suffix == "" or case.suffix.startswith("\n"))
        assert (case.before == case.after) == (kind == "none")
    assert set(kinds) == {k for k, _ in EDIT_KINDS}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from engine.prompt.tokenizer import InfillTokenizer
    from training.tokenizer_train import train_tokenizer

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([PREFIX + SPAN + SUFFIX] * 8, vocab_size=300, min_frequency=1).save(str(path))
    return InfillTokenizer.from_file(path)


def test_edit_examples_carry_their_draft_and_collate_with_fills(tokenizer):
    sampler = EditSampler(tokenizer, FimRecipe(max_prefix_tokens=64, max_suffix_tokens=16))
    rename_case = EditCase(PREFIX, SPAN.replace("height", "h"), SPAN, SUFFIX, "rename")
    edit = sampler.example(rename_case, "python", 32)
    keep = sampler.example(EditCase(PREFIX, SPAN, SPAN, SUFFIX, "none"), "python", 32)
    assert edit.kind == "edit:rename" and edit.middle == tokenizer.encode(SPAN)
    assert list(edit.draft) == tokenizer.encode(SPAN.replace("height", "h"))
    assert keep.draft == tuple(keep.middle)
    assert sampler.example(rename_case, "python", 8) is None  # does not fit with room to grow
    fill = FimExample(edit.prompt, tokenizer.encode("x"), "line")
    special = tokenizer.special
    batch = collate([edit, keep, fill], 32, special.pad, special.eom)
    assert batch.draft_lengths.tolist() == [len(edit.draft), len(keep.draft), -1]
    assert batch.draft_ids[0, : len(edit.draft)].tolist() == list(edit.draft)
    assert (batch.draft_ids[0, len(edit.draft) :] == special.eom).all()
    assert torch.equal(batch.draft_ids[1], batch.canvas_ids[1]) and torch.equal(batch.draft_ids[2], batch.canvas_ids[2])
    assert collate([fill], 32, special.pad, special.eom).draft_ids is None  # fills only: the plain batch
    trimmed = equal_length_batches([edit, keep], 2, special)[0]
    assert [e.draft for e in trimmed] == [edit.draft, keep.draft]  # trimming the prompt keeps the draft
    moved = batch.to("cpu")
    assert torch.equal(moved.draft_ids, batch.draft_ids)


def test_sampled_edit_examples_cover_every_kind(tokenizer):
    sampler = EditSampler(tokenizer, FimRecipe(max_prefix_tokens=64, max_suffix_tokens=16))
    rng = random.Random(0)
    kinds = {e.kind for e in (sampler.sample(PREFIX + SPAN + SUFFIX, "python", 32, rng) for _ in range(200)) if e}
    assert kinds == {f"edit:{k}" for k, _ in EDIT_KINDS}


def test_the_loss_with_drafts_runs_and_differs_from_the_plain_loss():
    from engine.model.architecture import SHAPES
    from training.objectives import ObjectiveConfig, diffusion_loss, draft_start
    from training.train import build_model

    shape = SHAPES["tiny"]
    model = build_model(shape, torch.device("cpu"))
    vocab = shape.vocab_size
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randint(10, vocab, (2, 12), generator=gen)
    canvas = torch.randint(10, vocab, (2, 8), generator=gen)
    drafts = canvas.clone()
    drafts[0, :3] = torch.randint(10, vocab, (3,), generator=gen)  # a stale draft on row 0
    drafts[0, 5:] = 1
    lengths = torch.tensor([5, -1])
    from training.fim_examples import FimBatch

    mask = torch.ones_like(prompt, dtype=torch.bool)
    positions = torch.arange(12).expand(2, 12)
    plain = FimBatch(prompt, mask, positions, canvas, torch.tensor([8, 8]))
    edited = FimBatch(prompt, mask, positions, canvas, torch.tensor([8, 8]), drafts, lengths)
    start, free = draft_start(edited)
    assert torch.equal(start, drafts) and free[0].tolist() == [False] * 6 + [True] * 2 and not free[1].any()
    cfg = ObjectiveConfig(self_conditioning_prob=0.0, ar_weight=0.0, min_noise=0.02, noise_low_id=10)
    torch.manual_seed(0)
    loss_plain, stats_plain = diffusion_loss(model, plain, cfg)
    torch.manual_seed(0)
    loss_edit, stats_edit = diffusion_loss(model, edited, cfg)
    assert torch.isfinite(loss_edit) and loss_edit.item() != loss_plain.item()
    assert "stale_acc" in stats_edit and "stale_acc" not in stats_plain
    loss_edit.backward()  # gradients flow through the draft rows
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_the_edit_fraction_flag_parses_and_is_validated(tmp_path, capsys):
    from training.train import TrainConfig, _config_from, build_parser, main

    base = ["--tokenizer", "t.json", "--out", str(tmp_path)]
    cfg = _config_from(build_parser().parse_args([*base, "--edit-fraction", "0.3", "--edit-data", "e.jsonl.gz"]))
    assert (cfg.edit_fraction, cfg.edit_data, cfg.edit_data_share) == (0.3, "e.jsonl.gz", 0.25)
    assert _config_from(build_parser().parse_args(base)).edit_fraction == 0.0  # off by default
    for bad, message in ((["--edit-fraction", "1.5"], "edit_fraction must be in"),
                         (["--objective", "ar", "--edit-fraction", "0.3"], "needs the diffusion objective"),
                         (["--edit-data", "e.jsonl.gz"], "edit_data needs"),
                         (["--edit-fraction", "0.3", "--edit-data-share", "2"], "edit_data_share")):
        with pytest.raises(SystemExit):
            main([*base, *bad])
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="edit_fraction"):
        TrainConfig(edit_fraction=-0.1)


def test_toy_training_with_edit_rows_logs_edit_losses(tmp_path):
    from tests.test_training import SOURCE
    from training.shards import plan_shards, record_line, write_shards
    from training.tokenizer_train import train_tokenizer
    from training.train import TrainConfig, train

    records = [{"text": SOURCE.replace("value", name), "language": "python", "package": "toy", "version": "0",
                "license": "MIT", "path": f"toy/{i}.py", "sha256": str(i)}
               for i, name in enumerate(["value", "item", "entry", "number", "elem"] * 4)]
    lines = [record_line(r) for r in records]
    write_shards(tmp_path / "corpus", lines, plan_shards([len(x) for x in lines], 1 << 20))
    train_tokenizer([r["text"] for r in records], vocab_size=400, min_frequency=1).save(str(tmp_path / "tok.json"))
    cfg = TrainConfig(shape="tiny", steps=4, batch_size=4, lr=1e-3, warmup_steps=1, workers=0, eval_every=100,
                      eval_batches=1, log_every=2, edit_fraction=0.5,
                      recipe=FimRecipe(max_prefix_tokens=64, max_suffix_tokens=16, canvas_lengths=(16, 32)))
    summary = train(cfg, tmp_path / "corpus", tmp_path / "tok.json", tmp_path / "run")
    assert "edit_denoise" in summary["final_eval"] and "edit_stale_acc" in summary["final_eval"]
    assert "denoise" in summary["final_eval"]
    card = json.loads((tmp_path / "run" / "model" / "infill_model.json").read_text())
    assert card["train_config"]["edit_fraction"] == 0.5


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_edits_are_one_hunk_rewrites_with_their_license(tmp_path):
    from training.git_edits import build, license_of_text, load_edit_cases

    work = tmp_path / "owner+name"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "config", "user.email", "t@example.com")
    _git(work, "config", "user.name", "t")
    (work / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person\n")
    (work / "a.py").write_text(PREFIX + SPAN + SUFFIX)
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "one")
    (work / "a.py").write_text(PREFIX + SPAN.replace("2)", "3)") + SUFFIX + "\n\nextra = 1\n" * 1)
    _git(work, "commit", "-q", "-am", "two")
    (work / "LICENSE").write_text("GNU GENERAL PUBLIC LICENSE Version 3\n")
    (work / "a.py").write_text(PREFIX + SPAN.replace("2)", "4)") + SUFFIX)
    _git(work, "commit", "-q", "-am", "three: relicensed, so not used")
    manifest = build([work / ".git"], tmp_path / "edits.jsonl.gz")
    assert manifest["repos"][0]["repo"] == "owner/name" and manifest["repos"][0]["licenses"] == {"MIT": 1}
    assert manifest["repos"][0]["skipped_license"] == 1
    cases = load_edit_cases(tmp_path / "edits.jsonl.gz")
    assert len(cases) == 1  # the pure insertion of the second commit is no rewrite
    case, language = cases[0]
    assert (case.before, case.after, language) == (SPAN, SPAN.replace("2)", "3)"), "python")
    assert case.prefix == PREFIX and case.suffix.startswith(SUFFIX)
    rows = [json.loads(x) for x in gzip.open(tmp_path / "edits.jsonl.gz", "rt")]
    assert rows[0]["license"] == "MIT" and len(rows[0]["commit"]) == 40
    assert license_of_text("Apache License\nVersion 2.0, January 2004") == "Apache-2.0"
    assert license_of_text("Mozilla Public License Version 2.0") is None
    bsd = "Redistribution and use in source and binary forms, with or without modification, are permitted"
    assert license_of_text(bsd) == "BSD-2-Clause"
    assert license_of_text(bsd + " The names of the contributors may not be used to endorse or\n promote") == (
        "BSD-3-Clause")
    with pytest.raises(ValueError, match="kept out"):
        build([tmp_path / "pallets+flask" / "repo"], tmp_path / "x.jsonl.gz")


def test_wilson_intervals_bracket_the_share():
    from training.edit_eval import wilson

    lo, hi = wilson(10, 100)
    assert 0.05 < lo < 0.1 < hi < 0.18
    assert wilson(0, 0) == (0.0, 1.0) and wilson(0, 50)[0] == 0.0
