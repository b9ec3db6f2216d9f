"""The torch runner: ``encode(prompt) -> cache`` and ``denoise(canvases, caches) -> logits`` in torch.

``TorchRunner`` wraps transformers' ``DiffusionGemmaForBlockDiffusion`` loaded from a local model
directory (safetensors only, no remote code). Encoding is chunked so every layer's full KV history can be
kept for reuse; denoising runs the canvases of many requests in one forward pass, left-padding their
caches and masking the padding per layer type.
"""

from __future__ import annotations

import time

import torch
from transformers.cache_utils import DynamicCache

from engine.core.kv import PromptKV, encode_in_chunks, new_entries, to_hf_cache
from engine.model.checkpoint import LoadedModel


class TorchRunner:
    """Encode prompts and denoise batches of canvases with the transformers model class."""

    backend = "torch"

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.device = loaded.device
        self.text_config = self.model.config.text_config
        self.vocab_size = self.text_config.vocab_size
        self.window = self.text_config.sliding_window
        # Chunks must fit the sliding window so each chunk's new entries stay visible in the cache.
        self.chunk = max(1, self.window - 1)
        self.layer_is_sliding = [t == "sliding_attention" for t in self.text_config.layer_types]
        self.forward_passes = 0
        self.step_seconds = 0.0

    @property
    def dtype(self) -> torch.dtype:
        return self.loaded.dtype

    @torch.inference_mode()
    def encode(self, base: PromptKV, ids: list[int], budget: int | None = None) -> PromptKV:
        """Extend ``base`` (a prefix of ``ids``) by encoding up to ``budget`` more tokens of ``ids``."""

        def encode_chunk(kv: PromptKV, start: int, count: int):
            cache = to_hf_cache(kv, self.text_config)
            chunk = torch.tensor([ids[start : start + count]], device=self.device)
            positions = torch.arange(start, start + count, device=self.device)[None]
            self.model.model.encoder(input_ids=chunk, past_key_values=cache, position_ids=positions)
            return new_entries(cache, count)

        return encode_in_chunks(base, ids, budget, self.chunk, encode_chunk)

    @torch.inference_mode()
    def encode_batch(self, items: list[tuple[PromptKV, list[int]]]) -> list[PromptKV]:
        """Extend several caches at once: each ``(base, ids)`` gets ``ids[len(base.ids):]`` encoded.

        For the few tokens a keystroke changes in many documents: one encoder pass over all of them
        instead of one each. Caches are left-padded to a common length and the new tokens right-padded;
        per-layer masks hide the padding and apply causality and the sliding window, so every row gets
        exactly the entries its own ``encode`` would give. Each row's new tokens must fit one chunk.
        """
        news = [ids[len(base.ids) :] for base, ids in items]
        if any(not n or len(n) > self.chunk for n in news):
            raise ValueError(f"encode_batch takes 1 to {self.chunk} new tokens per row")
        rows, width = len(items), max(len(n) for n in news)
        batched, lengths = self._left_padded_cache([base for base, _ in items])
        query = torch.arange(width, device=self.device)
        causal = query[None, :] <= query[:, None]  # (width, width): new token k visible to query j
        masks: dict[str, torch.Tensor] = {}
        for index, counts in enumerate(lengths):
            kind = "sliding_attention" if self.layer_is_sliding[index] else "full_attention"
            if kind in masks:
                continue
            longest = batched.layers[index].keys.shape[2]
            slot = torch.arange(longest, device=self.device)
            cached = (slot[None, :] >= (longest - counts)[:, None])[:, None, :].expand(rows, width, longest)
            if kind == "sliding_attention":  # key slot s is visible to query j while j + longest - s < window
                cached = cached & (slot[None, None, :] > query[None, :, None] + longest - self.window)
            masks[kind] = torch.cat([cached, causal[None].expand(rows, -1, -1)], dim=-1)[:, None]
        tokens = torch.zeros((rows, width), dtype=torch.long, device=self.device)
        for row, n in enumerate(news):
            tokens[row, : len(n)] = torch.tensor(n, device=self.device)
        starts = torch.tensor([len(base.ids) for base, _ in items], device=self.device)
        positions = starts[:, None] + query[None, :]
        self.model.model.encoder(input_ids=tokens, attention_mask=masks, past_key_values=batched,
                                 position_ids=positions)
        keys, values = new_entries(batched, width)
        return [
            base.appended(
                n, [k[row : row + 1, :, : len(n)] for k in keys], [v[row : row + 1, :, : len(n)] for v in values]
            )
            for row, ((base, _), n) in enumerate(zip(items, news, strict=True))
        ]

    @torch.inference_mode()
    def denoise(
        self,
        canvases: torch.Tensor,
        prompts: list[PromptKV],
        self_conditioning: torch.Tensor | None,
        decided: torch.Tensor | None = None,
        self_conditioning_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return logits (B, C, V) for canvases (B, C), each reading its own prompt cache.

        Positions marked ``decided`` skip the LM head: their logits are exactly their token (a one-hot
        row), which is all the sampler and the self-conditioning signal need from them. Rows that
        ``self_conditioning_rows`` leaves out get no self-conditioning (the model's mask zeroes their
        signal, as at a first step), whatever their rows of ``self_conditioning`` hold.
        """
        started = time.perf_counter()
        rows, width = canvases.shape
        if rows == 1:
            cache = to_hf_cache(prompts[0], self.text_config)
            positions = torch.arange(len(prompts[0].ids), len(prompts[0].ids) + width, device=self.device)[None]
            masks = None
        else:
            cache, masks, positions = self._batched_cache(prompts, width)
        hidden = self.model.model(
            decoder_input_ids=canvases.to(self.device),
            past_key_values=cache,
            decoder_attention_mask=masks,
            decoder_position_ids=positions,
            self_conditioning_logits=self_conditioning,
            self_conditioning_mask=None if self_conditioning_rows is None else self_conditioning_rows.to(self.device),
        ).last_hidden_state
        if decided is None or not bool(decided.any()):
            logits = self._head(hidden)
        else:
            decided = decided.to(self.device)
            tokens = canvases.to(self.device)
            logits = torch.full((rows, width, self.vocab_size), float("-inf"), device=self.device)
            logits.scatter_(-1, tokens[..., None], 0.0)
            logits[~decided] = self._head(hidden[~decided])
        self.forward_passes += 1
        self.step_seconds += time.perf_counter() - started
        return logits

    @torch.inference_mode()
    def score(self, base: PromptKV, continuations: list[list[int]]) -> list[float]:
        """The encoder's causal log-likelihood of each continuation after ``base``: mean log-probability
        per token. The last token of ``base`` is encoded again (from a cache one shorter), so its output
        predicts the continuation's first token."""
        if len(base.ids) < 2:
            raise ValueError("score needs a base of at least two tokens")
        start = len(base.ids) - 1
        scores = []
        for tokens in continuations:
            if not tokens:
                scores.append(float("-inf"))
                continue
            cache = to_hf_cache(base.truncated(start), self.text_config)
            ids = torch.tensor([[base.ids[-1], *tokens[: self.chunk - 1]]], device=self.device)
            positions = torch.arange(start, start + ids.shape[1], device=self.device)[None]
            hidden = self.model.model.encoder(input_ids=ids, past_key_values=cache, position_ids=positions)
            logits = self._head(hidden.last_hidden_state[0, :-1])
            targets = ids[0, 1:]
            log_probs = torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None])
            scores.append(float(log_probs.mean()))
        return scores

    def _head(self, hidden: torch.Tensor) -> torch.Tensor:
        """The model's LM head with its final logit soft-capping, in fp32 (as its forward computes it)."""
        logits = self.model.lm_head(hidden).float()
        cap = self.model.final_logit_softcapping
        return torch.tanh(logits / cap) * cap if cap else logits

    def _left_padded_cache(self, prompts: list[PromptKV]) -> tuple[DynamicCache, list[torch.Tensor]]:
        """One cache holding every prompt's entries, left-padded per layer to the longest row's, and for
        each layer the (rows,) count of real entries in it (sliding layers hold at most their window)."""
        caches = [to_hf_cache(p, self.text_config) for p in prompts]
        batched = to_hf_cache(PromptKV(), self.text_config)
        counts: list[torch.Tensor] = []
        for index, layer in enumerate(batched.layers):
            per_row = [c.layers[index] for c in caches]
            lengths = [lay.keys.shape[2] if lay.is_initialized else 0 for lay in per_row]
            longest = max(lengths)
            shape = self.text_config.per_layer_config[index]
            dtype = next((lay.keys.dtype for lay in per_row if lay.is_initialized), self.loaded.dtype)
            keys = torch.zeros((len(prompts), shape.num_key_value_heads, longest, shape.head_dim), dtype=dtype,
                               device=self.device)
            values = torch.zeros_like(keys)
            for row, (lay, n) in enumerate(zip(per_row, lengths, strict=True)):
                if n:
                    keys[row, :, longest - n :] = lay.keys[0]
                    values[row, :, longest - n :] = lay.values[0]
            layer.lazy_initialization(keys, values)
            layer.keys, layer.values = keys, values
            if hasattr(layer, "cumulative_length"):
                layer.cumulative_length = max(len(p.ids) for p in prompts)
            counts.append(torch.tensor(lengths, device=self.device))
        return batched, counts

    def _batched_cache(self, prompts: list[PromptKV], width: int):
        """Left-pad per-request caches into one, with a 4D mask per layer type hiding the padding."""
        batched, lengths = self._left_padded_cache(prompts)
        masks: dict[str, torch.Tensor] = {}
        for index, counts in enumerate(lengths):
            kind = "sliding_attention" if self.layer_is_sliding[index] else "full_attention"
            if kind not in masks:
                longest = batched.layers[index].keys.shape[2]
                slot = torch.arange(longest + width, device=self.device)
                valid = slot[None, :] >= (longest - counts)[:, None]
                masks[kind] = valid[:, None, None, :].expand(-1, 1, width, -1)
        positions = torch.stack(
            [torch.arange(len(p.ids), len(p.ids) + width, device=self.device) for p in prompts]
        )
        return batched, masks, positions
