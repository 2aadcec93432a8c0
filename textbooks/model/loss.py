"""The language-model loss, `F.cross_entropy(lm_head(h).float(), targets)`, fused with the lm_head.

At phi-1's vocab (51200) the logits are the biggest tensor of a training step: (n, 51200) floats for n
tokens. The plain autograd graph allocates four such buffers per step (logits, log-softmax, a zero-filled
gradient, the log-softmax backward) and streams over them about a dozen times. Here the forward writes
the logits once and turns them, in place, into `e = exp(logits - rowmax)`; with the row sums
`s = e.sum(-1)` the loss is `rowmax + log(s) - logits[target]` and the gradient of the logits is
`(e - s * one_hot(target)) / s`. The per-row `1/s` (and the mean's `1/n`) are applied to the small
(n, d) operands of the lm_head's backward GEMMs instead of to the (n, V) buffer, and the bias gradient is
one GEMV. Same math, equal up to float rounding (tests/model/test_loss.py and test_parity.py compare the
loss and every gradient with the plain graph and with transformers).

Measured on one CPU thread, fp32, n=2048, d=128, V=51200: lm_head + loss forward+backward 0.95 s vs
1.67 s for the plain graph; the three GEMMs alone take ~0.9 s, so little is left to win without
changing the math.

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


# CPU only. glibc returns a freed buffer this large to the OS, and writing a fresh (2048, 51200) fp32 buffer
# costs ~100k page faults, ~0.15 s: a third of the lm_head GEMM that fills it (and the plain graph pays it for
# four such buffers per step). So the buffer of one step's logits is kept for the next: a backward hands it
# back here and a forward takes it; a forward whose backward never ran simply allocates anew. (CUDA's caching
# allocator already reuses memory; autocast and non-fp32 use the plain allocation.)
_WORKSPACE: list[torch.Tensor] = []  # at most one flat fp32 buffer


def _take_workspace(numel: int, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor | None:
    if h.device.type != "cpu" or h.dtype != torch.float32 or weight.dtype != torch.float32:
        return None
    if torch.is_autocast_enabled("cpu"):
        return None
    buffer = _WORKSPACE.pop() if _WORKSPACE else None
    if buffer is None or buffer.numel() < numel:
        buffer = torch.empty(numel, dtype=torch.float32)  # (n*V,)
    return buffer


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, bias, targets):
        n, V = targets.shape[0], weight.shape[0]
        workspace = _take_workspace(n * V, h, weight)
        if workspace is not None:  # (n, V) view of a reused buffer; same GEMM as F.linear
            out = workspace[: n * V].view(n, V)
            logits = torch.addmm(bias, h, weight.t(), out=out) if bias is not None else torch.mm(h, weight.t(), out=out)
        else:
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
        ctx.workspace = workspace
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        if getattr(ctx, "workspace_returned", False):
            raise RuntimeError("a second backward through linear_cross_entropy (retain_graph=True) is not supported "
                               "on CPU: its buffer was handed to the next step; compute the loss again instead")
        e, s, h, weight = ctx.saved_tensors
        row_scale = (grad_loss / ctx.n) / s  # (n, 1): d loss / d logits = row_scale * e
        grad_h = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_h = (e @ weight.to(e.dtype)).float().mul_(row_scale).to(h.dtype)  # (n, d)
        if ctx.needs_input_grad[1]:
            grad_w = (e.t() @ (h.float() * row_scale).to(e.dtype)).to(weight.dtype)  # (V, d)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_b = (row_scale.t().to(e.dtype) @ e).squeeze(0).to(ctx.bias_dtype)  # (1, n) @ (n, V) -> (V,)
        if ctx.workspace is not None:  # done with e: the next forward may write into it
            _WORKSPACE[:] = [ctx.workspace]
            ctx.workspace = None
            ctx.workspace_returned = True
        return grad_h, grad_w, grad_b, None
