"""Cross-entropy through the LM head and its logit soft-cap, without keeping full-vocabulary fp32 logits.

The plain path (``lm_head`` -> fp32 -> ``tanh(x / cap) * cap`` -> ``F.cross_entropy``) keeps four or five
(rows x vocab) tensors alive until backward. Here the rows are processed in chunks, and each chunk's
gradient with respect to the LM head's output is computed in the forward pass already: only that one
(rows x vocab) tensor, in the matmul dtype, is kept, and backward is two matmuls. The loss, its gradient
and the dtypes of the matmuls are those of the plain path (bf16 under autocast, fp32 otherwise).
"""

from __future__ import annotations

import torch

# fp32 elements of one chunk's temporaries (16 Mi: 64 MB, 1024 rows of a 16k vocabulary); two are alive.
CHUNK_ELEMENTS = 1 << 24


def matmul_dtype(tensor: torch.Tensor) -> torch.dtype:
    """The dtype a linear layer computes in here: the autocast dtype where autocast is on."""
    device_type = tensor.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return tensor.dtype


class _SoftcappedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, cap, dtype, keep_grad):
        rows, vocab = hidden.shape[0], weight.shape[0]
        w = weight.to(dtype)
        losses = torch.empty(rows, dtype=torch.float32, device=hidden.device)
        predictions = torch.empty(rows, dtype=torch.long, device=hidden.device)
        grad_logits = torch.empty((rows, vocab), dtype=dtype, device=hidden.device) if keep_grad else None
        step = max(1, CHUNK_ELEMENTS // vocab)
        for start in range(0, rows, step):
            end = min(rows, start + step)
            y = targets[start:end, None]
            raw = (hidden[start:end].to(dtype) @ w.t()).float()
            if cap:
                squashed = raw.div_(cap).tanh_()  # in place: ``raw`` is ours (a copy when dtype is not fp32)
                z = squashed * cap
            else:
                squashed, z = None, raw
            losses[start:end] = -z.gather(1, y).squeeze(1)
            top = z.max(dim=-1, keepdim=True)
            predictions[start:end] = top.indices.squeeze(1)
            # In place from here: z becomes exp(z - max), then softmax(z) - onehot(y) (d loss / d z).
            exp = z.sub_(top.values).exp_()
            total = exp.sum(dim=-1, keepdim=True)
            losses[start:end] += (top.values + total.log()).squeeze(1)
            if keep_grad:
                grad = exp.div_(total)
                grad.scatter_add_(1, y, torch.full_like(y, -1, dtype=grad.dtype))
                if squashed is not None:  # d z / d raw = 1 - tanh^2
                    grad.mul_(squashed.mul_(squashed).neg_().add_(1))
                grad_logits[start:end] = grad
        ctx.mark_non_differentiable(predictions)
        ctx.save_for_backward(hidden, weight, grad_logits)
        ctx.dtype = dtype
        return losses, predictions

    @staticmethod
    def backward(ctx, grad_losses, _grad_predictions):
        hidden, weight, grad_logits = ctx.saved_tensors
        if grad_logits is None:
            raise RuntimeError(
                "softcapped_cross_entropy was called without gradients and cannot run backward"
            )
        dtype = ctx.dtype
        scale = grad_losses.reshape(-1, 1).float()
        grad_hidden = grad_weight = None
        # Scaling rows by the incoming gradient commutes with the matmuls, so the kept tensor is used as is.
        if ctx.needs_input_grad[0]:
            grad_hidden = ((grad_logits @ weight.to(dtype)).float() * scale).to(hidden.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad_logits.t() @ (hidden.float() * scale).to(dtype)).to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None, None


def softcapped_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, cap: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position loss and argmax prediction of ``softcap(hidden @ weight.T)`` against ``targets``.

    ``hidden`` is (..., D), ``weight`` the LM head's (V, D), ``targets`` (...); both results have the
    shape of ``targets`` (losses in fp32). Equal to ``F.cross_entropy(softcapped_logits(...), targets,
    reduction="none")`` and ``logits.argmax(-1)``, gradients included.
    """
    shape = targets.shape
    flat = hidden.reshape(-1, hidden.shape[-1])
    keep_grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    losses, predictions = _SoftcappedCrossEntropy.apply(
        flat, weight, targets.reshape(-1), cap, matmul_dtype(flat), keep_grad
    )
    return losses.view(shape), predictions.view(shape)
