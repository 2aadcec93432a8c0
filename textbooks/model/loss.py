"""The language-model loss, `F.cross_entropy(lm_head(h).float(), targets)`, fused with the lm_head.

At phi-1's vocab (51200) the logits are the biggest tensor of a training step: (n, 51200) floats for n
tokens. The plain autograd graph streams over that buffer a dozen times (bias copy, log-softmax and its
saved output, a zero-filled gradient, scatter, log-softmax backward, the GEMMs' reads). Here the forward
writes the logits once and turns them, in place, into `e = exp(logits - rowmax)`; with the row sums
`s = e.sum(-1)` the loss is `rowmax + log(s) - logits[target]` and the gradient of the logits is
`(e - s * one_hot(target)) / s`. The per-row `1/s` (and the mean's `1/n`) are applied to the small
(n, d) operands of the lm_head's backward GEMMs instead of to the (n, V) buffer, and the bias gradient is
one GEMV. Same math, equal up to float rounding (tests/model/test_loss.py and test_parity.py compare the
loss and every gradient with the plain graph and with transformers); on CPU the lm_head + loss step takes
~2/3 of the plain graph's time (benchmarks/bench_model.py) and keeps one (n, V) buffer alive, not three.

Positions whose target is `ignore_index` are dropped *before* the lm_head, so a completion-only
finetuning batch also skips their share of the (n x d x V) GEMMs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_cross_entropy(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Mean cross-entropy of `F.linear(h, weight, bias)` against `targets`, over non-ignored positions.

    h (..., d), weight (V, d), bias (V,), targets (...) long. Like `F.cross_entropy`, NaN if every target
    is ignored.
    """
    h = h.reshape(-1, h.shape[-1])  # (N, d)
    targets = targets.reshape(-1)  # (N,)
    if torch.compiler.is_compiling():  # a compiler fuses the plain graph itself
        return F.cross_entropy(F.linear(h, weight, bias).float(), targets, ignore_index=ignore_index)
    keep = targets != ignore_index
    if not bool(keep.all()):
        h, targets = h[keep], targets[keep]  # (n, d), (n,)
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (h, weight, bias))
    if not needs_grad:  # evaluation: no gradient to prepare
        return F.cross_entropy(F.linear(h, weight, bias).float(), targets)
    return _LinearCrossEntropy.apply(h, weight, bias, targets)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, bias, targets):
        n = targets.shape[0]
        logits = F.linear(h, weight, bias)  # (n, V); under autocast in its dtype, like the plain graph
        compute_dtype = logits.dtype
        logits = logits.float()  # the softmax in fp32, as the reference's .float() (no copy in fp32)
        row_max = logits.amax(dim=-1, keepdim=True)  # (n, 1)
        target_logit = logits.gather(1, targets[:, None])  # (n, 1)
        e = logits.sub_(row_max).exp_()  # (n, V) in place: exp(logits - max), in (0, 1]
        s = e.sum(dim=-1, keepdim=True)  # (n, 1), >= 1
        loss = (row_max + s.log() - target_logit).sum() / n  # logsumexp - target logit, averaged
        # softmax - one_hot = (e - s * one_hot) / s: subtract s at the targets, keep 1/s for the backward
        e[torch.arange(n, device=targets.device), targets] -= s.squeeze(1)
        ctx.save_for_backward(e.to(compute_dtype), s, h, weight)  # .to: no-op in fp32; bf16 GEMMs under autocast
        ctx.bias_dtype = bias.dtype if bias is not None else None
        ctx.n = n
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        e, s, h, weight = ctx.saved_tensors
        row_scale = (grad_loss / ctx.n) / s  # (n, 1): d loss / d logits = row_scale * e
        grad_h = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_h = (e @ weight.to(e.dtype)).float().mul_(row_scale).to(h.dtype)  # (n, d)
        if ctx.needs_input_grad[1]:
            grad_w = (e.t() @ (h.float() * row_scale).to(e.dtype)).to(weight.dtype)  # (V, d)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_b = (row_scale.t().to(e.dtype) @ e).squeeze(0).to(ctx.bias_dtype)  # (1, n) @ (n, V) -> (V,)
        return grad_h, grad_w, grad_b, None
