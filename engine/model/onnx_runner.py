"""The ONNX Runtime runner: prompts encoded and single-canvas steps run on exported graphs, the rest on torch.

The graphs come from ``engine.model.onnx_export`` (exported on first use into a per-user cache). Batched work
(several canvases in one step, several prompts in one encoder pass) stays on torch, whose caches the
graphs read and write, so the model is loaded in fp32 to match them. Needs the ``onnx`` extra.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from engine.core.kv import PromptKV, encode_in_chunks
from engine.host.launch import ONNX_EXTRA_MISSING
from engine.model.checkpoint import LoadedModel
from engine.model.onnx_export import ENCODER_FILE, ensure_onnx, layer_windows, onnx_path_for
from engine.model.torch_runner import TorchRunner

try:
    import onnxruntime
except ImportError:
    raise ImportError(ONNX_EXTRA_MISSING) from None


class OnnxDenoiser:
    """Run an exported decoder step with ONNX Runtime (CPU, or CUDA with the ``gpu`` extra)."""

    backend = "onnxruntime"

    def __init__(self, path: Path, providers: list[str] | None = None) -> None:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=providers or ["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        self.vocab_size = self.session.get_outputs()[0].shape[-1]

    @classmethod
    def for_model(cls, model_dir: str | Path, export: bool = True) -> OnnxDenoiser | None:
        """The denoiser for ``model_dir`` (exported on first use unless ``export`` is False)."""
        path = ensure_onnx(model_dir) if export else onnx_path_for(model_dir)
        return cls(path) if path.is_file() else None

    def denoise(self, canvas: torch.Tensor, prompt: PromptKV, sc_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (1, C, V) for one canvas reading ``prompt``'s cache (sliding layers trimmed as the model does)."""
        length = len(prompt.ids)
        width = canvas.shape[1]
        if sc_logits is None:
            sc = np.zeros((1, width, self.vocab_size), dtype=np.float32)
        else:
            sc = sc_logits.float().numpy()
        feeds = {"canvas": canvas.numpy().astype(np.int64),
                 "positions": np.arange(length, length + width, dtype=np.int64)[None],
                 "sc_logits": sc, "sc_on": np.array([sc_logits is not None])}
        windows = getattr(self, "_windows", None)
        for index, (keys, values) in enumerate(zip(prompt.keys, prompt.values, strict=True)):
            window = windows[index] if windows else None
            if window:
                keys, values = keys[:, :, -(window - 1) :], values[:, :, -(window - 1) :]
            feeds[f"key{index}"] = keys.float().numpy()
            feeds[f"value{index}"] = values.float().numpy()
        return torch.from_numpy(self.session.run(["logits"], feeds)[0])

    def use_windows(self, text_config) -> OnnxDenoiser:
        """Trim sliding layers' caches to their window, as the torch runner's cache does."""
        self._windows = layer_windows(text_config)
        return self


class OnnxEncoder:
    """Run the exported encoder chunk with ONNX Runtime: ``encode`` as ``TorchRunner.encode`` does it."""

    def __init__(self, path: Path, text_config, chunk: int, providers: list[str] | None = None) -> None:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=providers or ["CPUExecutionProvider"])
        self.windows = layer_windows(text_config)
        self.shapes = [(c.num_key_value_heads, c.head_dim) for c in
                       (text_config.per_layer_config[i] for i in range(len(self.windows)))]
        self.chunk = chunk

    @classmethod
    def for_model(cls, model_dir: str | Path, text_config, chunk: int) -> OnnxEncoder:
        return cls(ensure_onnx(model_dir, ENCODER_FILE), text_config, chunk)

    def encode(self, base: PromptKV, ids: list[int], budget: int | None = None) -> PromptKV:
        """Extend ``base`` (a prefix of ``ids``) by up to ``budget`` more tokens of ``ids``, chunk by chunk."""

        def encode_chunk(kv: PromptKV, start: int, count: int):
            feeds = {"ids": np.array([ids[start : start + count]], dtype=np.int64),
                     "positions": np.arange(start, start + count, dtype=np.int64)[None]}
            for index, ((heads, dim), window) in enumerate(zip(self.shapes, self.windows, strict=True)):
                if kv.keys:
                    keys, values = kv.keys[index], kv.values[index]
                    if window:
                        keys, values = keys[:, :, -(window - 1) :], values[:, :, -(window - 1) :]
                    feeds[f"key{index}"], feeds[f"value{index}"] = keys.float().numpy(), values.float().numpy()
                else:
                    empty = np.zeros((1, heads, 0, dim), dtype=np.float32)
                    feeds[f"key{index}"], feeds[f"value{index}"] = empty, empty
            new = [torch.from_numpy(array) for array in self.session.run(None, feeds)]
            return new[0::2], new[1::2]

        return encode_in_chunks(base, ids, budget, self.chunk, encode_chunk)


class OnnxRunner(TorchRunner):
    """A TorchRunner whose prompt encoding and single-canvas denoising steps run on ONNX Runtime."""

    backend = "onnx"

    def __init__(self, loaded: LoadedModel) -> None:
        if loaded.dtype != torch.float32:
            raise ValueError("the ONNX backend runs fp32 graphs: load the model with dtype float32")
        super().__init__(loaded)
        self.denoiser = OnnxDenoiser.for_model(loaded.path).use_windows(self.text_config)
        self.encoder = OnnxEncoder.for_model(loaded.path, self.text_config, self.chunk)

    @torch.inference_mode()
    def encode(self, base: PromptKV, ids: list[int], budget: int | None = None) -> PromptKV:
        return self.encoder.encode(base, ids, budget)

    @torch.inference_mode()
    def denoise(
        self,
        canvases: torch.Tensor,
        prompts: list[PromptKV],
        self_conditioning: torch.Tensor | None,
        decided: torch.Tensor | None = None,
        self_conditioning_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One canvas on ONNX Runtime; a batch of them on torch (``TorchRunner.denoise``)."""
        if canvases.shape[0] != 1:
            return super().denoise(canvases, prompts, self_conditioning, decided, self_conditioning_rows)
        if self_conditioning_rows is not None and not bool(self_conditioning_rows[0]):
            self_conditioning = None
        started = time.perf_counter()
        logits = self.denoiser.denoise(canvases.cpu(), prompts[0], self_conditioning)
        if decided is not None and bool(decided.any()):  # one-hot rows, as the torch path gives them
            decided = decided.cpu()
            logits[decided] = torch.full_like(logits[decided], float("-inf")).scatter_(
                -1, canvases.cpu()[decided][:, None], 0.0)
        self.forward_passes += 1
        self.step_seconds += time.perf_counter() - started
        return logits
