"""AdamW with weight decay on matrix weights only, and the linear-warmup-linear-decay schedule (paper §2.3).

Which parameters decay: only the 2-D weight matrices of Linear layers (q/k/v/dense, fc1/fc2, lm_head).
Biases and LayerNorm gains/biases are 1-D: decaying them pulls LayerNorm gains towards 0 and biases
towards 0 for no regularisation benefit (GPT-3 / nanoGPT / litgpt practice). The token embedding is a
lookup table, not a matmul on the input: each row gets a gradient only when its token occurs, so decay
would shrink rare tokens' rows every step while their gradient is zero (minGPT's rule: no decay on
embeddings). The paper does not state its grouping (§2.3 says only "AdamW ... weight decay 0.1").
"""

from __future__ import annotations

import torch
import torch.nn as nn

from textbooks.train.config import OptimizerSection, ScheduleSection


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: decayed matrix weights and everything else (named in `names` for tests/logs)."""
    decay, no_decay, decay_names, no_decay_names = [], [], [], []
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dim() >= 2 and id(p) not in embeddings:
            decay.append(p)
            decay_names.append(name)
        else:
            no_decay.append(p)
            no_decay_names.append(name)
    return [
        {"params": decay, "weight_decay": weight_decay, "names": decay_names},
        {"params": no_decay, "weight_decay": 0.0, "names": no_decay_names},
    ]


def build_optimizer(model: nn.Module, cfg: OptimizerSection, device_type: str) -> torch.optim.AdamW:
    """AdamW over `param_groups`; the fused kernel by default (CUDA: one launch for all tensors instead of
    several per tensor; CPU: one vectorised pass over each tensor, measured faster than foreach)."""
    groups = [{k: v for k, v in g.items() if k != "names"} for g in param_groups(model, cfg.weight_decay)]
    fused = cfg.fused if cfg.fused is not None else device_type in ("cuda", "cpu")
    kwargs = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, **kwargs)


def lr_at(step: int, peak_lr: float, cfg: ScheduleSection) -> float:
    """Learning rate of optimizer update number `step` (1-based; step 0 is the untrained start).

    0 -> peak linearly over warmup_steps, then peak -> min_lr linearly at decay_steps, min_lr after.
    phi-1-base (peak 1e-3, warmup 750, decay 36000): lr(0)=0, lr(750)=1e-3, lr(24000)≈3.40e-4, lr(36000)=0.
    """
    w, n = cfg.warmup_steps, cfg.decay_steps
    if step < w:
        return peak_lr * step / w
    if step >= n:
        return cfg.min_lr
    return cfg.min_lr + (peak_lr - cfg.min_lr) * (n - step) / (n - w)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):  # fused/capturable optimizers may hold a tensor lr
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr
