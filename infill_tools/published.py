"""A test checkpoint laid out like the published ``google/diffusiongemma-26B-A4B-it``, with random weights.

``build_published_checkpoint`` writes what the published directory holds: ``config.json`` (the published
text stack cut to ``layers`` layers, a Gemma 4 vision tower), ``generation_config.json`` with the published
sampler values, sharded safetensors with their index, a Gemma 4-like ``tokenizer.json`` (the special tokens
at Gemma 4's ids, a byte-level BPE for text, no FIM tokens) and ``tokenizer_config.json``; no
``infill_model.json`` card. ``width="ci"`` also cuts the width so it builds in about a second on a CPU;
``width="published"`` keeps the published width (2816 hidden, 128 experts top-8, 262,144 ids):

    python -m infill_tools.published /tmp/dg-published --width published

Nothing here downloads anything: the sizes are the published config's, the weights are random.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from infill_tools.model_builders import SAMPLE_CODE

# The published text stack (config.json's text_config), 30 layers deep.
PUBLISHED_TEXT: dict[str, Any] = {
    "vocab_size": 262_144,
    "hidden_size": 2816,
    "intermediate_size": 2112,
    "num_hidden_layers": 30,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "global_head_dim": 512,
    "num_global_key_value_heads": 2,  # full-attention layers: 2 KV heads whose V is their K
    "num_experts": 128,
    "top_k_experts": 8,
    "moe_intermediate_size": 704,
    "sliding_window": 1024,
    "max_position_embeddings": 262_144,
    "final_logit_softcapping": 30.0,
    "tie_word_embeddings": True,
    "hidden_activation": "gelu_pytorch_tanh",
    "rms_norm_eps": 1e-6,
    "use_bidirectional_attention": "vision",
    "pad_token_id": 0,
    "eos_token_id": [1, 106, 50],
    "bos_token_id": 2,
}
# The CI cut of the width: same structure, tiny sizes.
CI_TEXT: dict[str, Any] = {
    **PUBLISHED_TEXT,
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "global_head_dim": 32,
    "num_global_key_value_heads": 1,
    "num_experts": 8,
    "top_k_experts": 2,
    "moe_intermediate_size": 32,
}
CI_VISION: dict[str, Any] = {
    "model_type": "gemma4_vision",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "patch_size": 4,
    "position_embedding_size": 64,
    "pooling_kernel_size": 2,
}
CANVAS_LENGTH = 256
# Published image ids (boi, image, eoi); the CI vocabulary keeps them at its top instead.
PUBLISHED_IMAGE_IDS = {"boi": 255_999, "image": 258_880, "eoi": 258_882}

GENERATION: dict[str, Any] = {
    "max_denoising_steps": 48,
    "entropy_bound": 0.1,
    "t_max": 0.8,
    "t_min": 0.4,
    "stability_threshold": 1,
    "confidence_threshold": 0.005,
}

# Gemma 4's special tokens at their ids. The ids of pad, eos, bos, <|tool_response>, the channel and turn
# tokens are the published ones; <|think|> sits at an unused id below 106 here (its published id is not
# among the facts this builder knows); every other id below 107 is a reserved unused token.
GEMMA4_SPECIALS: dict[int, str] = {
    0: "<pad>",
    1: "<eos>",
    2: "<bos>",
    3: "<unk>",
    4: "<mask>",
    50: "<|tool_response>",
    98: "<|think|>",
    100: "<|channel>",
    101: "<channel|>",
    105: "<|turn>",
    106: "<turn|>",
}
SPECIAL_COUNT = 107
IMAGE_TOKENS = {"boi": "<|image>", "image": "<|image|>", "eoi": "<image|>"}
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<|turn>{{ role }}\n{{ message['content'] }}<turn|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)

_TEXT_SAMPLE = SAMPLE_CODE + '''The sky is blue because air scatters short wavelengths of sunlight more than long ones.
'''


def special_tokens() -> list[str]:
    """The tokens of ids 0..106, in id order."""
    return [GEMMA4_SPECIALS.get(i, f"<unused{i}>") for i in range(SPECIAL_COUNT)]


def image_token_ids(vocab_size: int) -> dict[str, int]:
    """boi / image / eoi ids: the published ones in the published vocabulary, else the top three ids."""
    if vocab_size > max(PUBLISHED_IMAGE_IDS.values()):
        return dict(PUBLISHED_IMAGE_IDS)
    return {"boi": vocab_size - 3, "image": vocab_size - 2, "eoi": vocab_size - 1}


def published_config(width: str = "ci", layers: int = 2):
    """The ``DiffusionGemmaConfig`` of the published checkpoint, cut to ``layers`` layers (and, for
    ``ci``, to a small width). Every 6th layer is full attention and the last one always is, so two
    layers are one sliding and one full-attention layer."""
    from transformers import DiffusionGemmaConfig, Gemma4VisionConfig

    if width not in ("ci", "published"):
        raise ValueError(f"width must be ci or published, got {width!r}")
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    text = dict(CI_TEXT if width == "ci" else PUBLISHED_TEXT)
    text["num_hidden_layers"] = layers
    types = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)]
    types[-1] = "full_attention"
    text["layer_types"] = types
    vision = Gemma4VisionConfig(**{k: v for k, v in CI_VISION.items() if k != "model_type"}) if width == "ci" \
        else Gemma4VisionConfig()
    images = image_token_ids(text["vocab_size"])
    config = DiffusionGemmaConfig(
        text_config=text,
        vision_config=vision.to_dict(),
        canvas_length=CANVAS_LENGTH,
        boi_token_id=images["boi"],
        eoi_token_id=images["eoi"],
        image_token_id=images["image"],
        tie_word_embeddings=True,
    )
    config.eos_token_id = list(PUBLISHED_TEXT["eos_token_id"])
    config._attn_implementation = "sdpa"
    return config


def generation_config():
    """The published ``generation_config.json`` values as transformers' own generation config."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        DiffusionGemmaGenerationConfig,
        EntropyBoundSamplerConfig,
    )

    return DiffusionGemmaGenerationConfig(
        max_denoising_steps=GENERATION["max_denoising_steps"],
        sampler_config=EntropyBoundSamplerConfig(entropy_bound=GENERATION["entropy_bound"]),
        t_min=GENERATION["t_min"],
        t_max=GENERATION["t_max"],
        stability_threshold=GENERATION["stability_threshold"],
        confidence_threshold=GENERATION["confidence_threshold"],
        bos_token_id=2,
        pad_token_id=0,
        eos_token_id=list(PUBLISHED_TEXT["eos_token_id"]),
    )


def build_gemma4_like_tokenizer(vocab_size: int):
    """A ``tokenizers.Tokenizer`` of exactly ``vocab_size`` ids: Gemma 4's special tokens at ids 0..106,
    a byte-level BPE trained on a little text, unused ids up to the image tokens, no FIM tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    images = image_token_ids(vocab_size)
    text_ids = min(vocab_size - 3, 1024)  # the BPE proper; what lies above it is reserved
    if text_ids < SPECIAL_COUNT + 256 + 1:
        raise ValueError(f"vocab_size must exceed {SPECIAL_COUNT + 256 + 3}, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=text_ids,
        min_frequency=1,
        special_tokens=special_tokens(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([_TEXT_SAMPLE] * 20, trainer=trainer)
    # Fill the rest of the vocabulary (reserved ids, then the image tokens at their ids) in the model's
    # vocab table: entries without merges are never produced from text.
    data = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    by_id = {i: name for name, i in images.items()}
    for index in range(len(vocab), vocab_size):
        vocab[IMAGE_TOKENS[by_id[index]] if index in by_id else f"<unused{index}>"] = index
    tokenizer = Tokenizer.from_str(json.dumps(data))
    tokenizer.add_special_tokens([AddedToken(IMAGE_TOKENS[name], special=True, normalized=False)
                                  for name in ("boi", "image", "eoi")])
    for index, token in enumerate(special_tokens()):
        if tokenizer.token_to_id(token) != index:
            raise RuntimeError(f"special token {token} did not get id {index}")
    if tokenizer.get_vocab_size() != vocab_size:
        raise RuntimeError(f"tokenizer has {tokenizer.get_vocab_size()} ids, not {vocab_size}")
    return tokenizer


def _tokenizer_config() -> dict[str, Any]:
    return {
        "tokenizer_class": "GemmaTokenizer",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "add_bos_token": True,
        "add_eos_token": False,
        "model_max_length": PUBLISHED_TEXT["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
    }


def build_published_checkpoint(path: str | Path, *, width: str = "ci", layers: int = 2, seed: int = 0,
                               shards: int = 4) -> Path:
    """Write a random-weight checkpoint in the published layout to ``path`` and return it.

    Weights are bf16 (as published), saved by ``save_pretrained`` in about ``shards`` safetensors shards
    with ``model.safetensors.index.json``.
    """
    import torch
    from transformers import DiffusionGemmaForBlockDiffusion

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = published_config(width, layers)
    torch.manual_seed(seed)
    model = DiffusionGemmaForBlockDiffusion._from_config(config, dtype=torch.bfloat16).eval()
    unique = {p.data_ptr(): p.numel() * p.element_size() for p in model.parameters()}
    model.save_pretrained(path, max_shard_size=max(1, sum(unique.values()) // shards + 1))
    generation_config().save_pretrained(path)
    build_gemma4_like_tokenizer(config.text_config.vocab_size).save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(), indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infill_tools.published", description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--width", choices=("ci", "published"), default="ci")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    build_published_checkpoint(args.path, width=args.width, layers=args.layers, seed=args.seed)
    size = sum(f.stat().st_size for f in args.path.iterdir())
    print(f"wrote {args.path} ({size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
