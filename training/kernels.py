"""Cheaper kernels swapped into a model for training; each computes the same function as the module it replaces.

Only ``forward`` methods of module instances change: parameters, buffers and state dicts stay as they
are, so checkpoints and exports are those of the plain model.
"""

from __future__ import annotations

import sys
import types

import torch


class _RMSNorm(torch.autograd.Function):
    """DiffusionGemma's RMSNorm (fp32 statistics and scale, output in the input dtype), keeping for backward
    only its input and one fp32 scalar per row; backward recomputes the normalised values."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        xf = x.float()
        rstd = xf.pow(2).mean(-1, keepdim=True).add_(eps).rsqrt_()
        out = xf * rstd
        if weight is not None:
            out.mul_(weight.float())
        ctx.save_for_backward(x, weight, rstd)
        return out.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, rstd = ctx.saved_tensors
        normed = x.float() * rstd
        g = grad_out.float()
        grad_weight = None
        if weight is not None:
            if ctx.needs_input_grad[1]:
                grad_weight = (g * normed).reshape(-1, normed.shape[-1]).sum(0).to(weight.dtype)
            g = g * weight.float()
        # d normed / d x = rstd * (I - normed normed^T / D)
        dot = (g * normed).mean(-1, keepdim=True)
        grad_x = normed.mul_(dot).neg_().add_(g).mul_(rstd)
        return grad_x.to(x.dtype), grad_weight, None


def _lean_rms_norm_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
    return _RMSNorm.apply(hidden_states, self.weight if self.with_scale else None, self.eps)


def use_lean_rms_norm(model: torch.nn.Module) -> int:
    """Route every DiffusionGemma RMSNorm through ``_RMSNorm``; return how many were swapped.

    The module's own six-op form keeps the normalised output in fp32 for backward (and, under bf16
    autocast, an fp32 copy of its input too): about a third of the encoder's activation memory.
    """
    from transformers.models.diffusion_gemma.modeling_diffusion_gemma import DiffusionGemmaRMSNorm

    count = 0
    for module in model.modules():
        if isinstance(module, DiffusionGemmaRMSNorm):
            module.forward = types.MethodType(_lean_rms_norm_forward, module)
            count += 1
    return count


def compile_layers(model: torch.nn.Module) -> int:
    """``torch.compile`` each encoder and decoder layer in place; return how many were compiled.

    Whole layers fuse their elementwise work (norms, rotary embedding, gating); the cache, the masks and
    the LM-head loss stay outside the compiled regions, so the model code needs no changes.
    """
    # Layers differ in index and attention kind, and the decoder runs with and without gradients: one
    # compiled graph each, more than dynamo's default of 8 per function.
    layers = len(model.model.decoder.layers)
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 4 * layers)
    count = 0
    for stack in (model.model.encoder.language_model.layers, model.model.decoder.layers):
        for layer in stack:
            layer.compile(dynamic=None)
            count += 1
    print(f"compiled {count} layers", file=sys.stderr)
    return count
