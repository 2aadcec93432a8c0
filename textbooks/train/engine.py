"""The compute of training: one optimizer update (`TrainStep`), the validation loss, and runtime settings.

    configure_runtime(trainer_section, info)
    step = TrainStep(model, trainer_section, optimizer_section, info)
    loss, grad_norm = step(batches, lr)                      # one update over grad_accum micro-batches
    val = step.evaluate(num_windows, window)                 # window(i) -> (x, y) of shape (1, T)

Knows nothing of files, configs beyond its sections, or logging: `Trainer` (textbooks/train/trainer.py)
and benchmarks/bench_train*.py drive it.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Callable

import torch

from textbooks.model.phi import Phi
from textbooks.train import parallel
from textbooks.train.config import ConfigError, OptimizerSection, TrainerSection
from textbooks.train.optim import build_optimizer, set_lr

# Dense bf16/fp16 peak FLOP/s per GPU (torchtitan tools/utils.py get_peak_flops; no 2:4 sparsity).
# Checked in order: the first name that is a substring of torch.cuda.get_device_name() wins.
PEAK_FLOPS = [
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H800", 989e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("A10G", 125e12),
    ("L4", 121e12),
]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def peak_flops_by_name(name: str) -> float | None:
    """Peak of the first PEAK_FLOPS entry whose name occurs in `name` (case-insensitive), e.g. "H100"."""
    for key, flops in PEAK_FLOPS:
        if key.lower() in name.lower():
            return flops
    return None


def peak_flops_for(device: torch.device, configured: float | None) -> float | None:
    if configured is not None:
        return configured
    if device.type != "cuda":
        return None  # no meaningful table for CPUs: MFU is null unless trainer.peak_flops is set
    return peak_flops_by_name(torch.cuda.get_device_name(device))


def configure_runtime(t: TrainerSection, info: parallel.DistInfo) -> None:
    """Process-wide torch settings from the trainer section (threads, determinism, TF32)."""
    if t.cpu_threads:
        torch.set_num_threads(t.cpu_threads)
    if t.deterministic:
        torch.use_deterministic_algorithms(True)
    if info.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls (outside autocast) on tensor cores
        torch.backends.cudnn.allow_tf32 = True
    if t.precision == "fp16" and info.device.type != "cuda":
        raise ConfigError("trainer.precision=fp16 needs a GPU (fp16 autocast + GradScaler); use fp32 or bf16 on CPU")


class TrainStep:
    """The work of one optimizer update, shared by `Trainer` and benchmarks/bench_train.py.

    Owns the parallelized model (activation checkpointing, compile, DDP/FSDP2 applied in
    textbooks/train/parallel.py), the AdamW optimizer and the fp16 GradScaler.
    `engine(batches, lr)`: forward/backward over the micro-batches (gradient sync only on the last),
    unscale, clip, optimizer step. The loss is the model's own (`model(x, y)`: lm_head fused with the
    cross-entropy, textbooks/model/loss.py; under compile, the plain graph that inductor fuses).

    The loss is token-weighted over the whole step: the sum of per-token losses over all micro-batches
    and ranks / the number of loss tokens. That is the plain mean when every token counts (pretraining)
    and weighs each completion token equally with completion-only masks (-100 targets).
    """

    def __init__(self, model: Phi, t: TrainerSection, optim: OptimizerSection, info: parallel.DistInfo):
        self.model, self.t, self.info = model, t, info
        self.grad_clip = optim.grad_clip
        self.amp_dtype = DTYPES[t.precision]
        model.to(info.device)
        model.train()
        self.wrapped = parallel.parallelize(model, t, info, self.amp_dtype)
        self.optimizer = build_optimizer(model, optim, info.device.type)
        self.scaler = None
        if t.precision == "fp16":
            if parallel.is_fsdp(t, info):
                from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

                self.scaler = ShardedGradScaler()
            else:
                self.scaler = torch.amp.GradScaler(info.device.type)

    @staticmethod
    def _loss_sum(model, x: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
        """Summed loss over the n targets != -100 of a micro-batch: the model's mean loss (its fused
        lm_head + cross-entropy, textbooks/model/loss.py) times n."""
        if n == 0:  # nothing to learn here, but every rank must still run forward/backward in step (DDP/FSDP)
            return model(x).float().sum() * 0.0
        return model(x, y).float() * n

    def autocast(self):
        if self.t.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.info.device.type, dtype=self.amp_dtype)

    def __call__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """batches: micro-batches (x, y), each (B, T) on CPU. Returns (loss, grad norm before clipping) tensors."""
        info = self.info
        set_lr(self.optimizer, lr)
        n_tokens = torch.tensor(float(sum(int((y != -100).sum()) for _, y in batches)), device=info.device)
        # Loss tokens of the whole step over all ranks; DDP/FSDP *average* gradients over ranks, hence x world.
        n_total = parallel.all_reduce_mean(n_tokens, info).clamp(min=1.0 / info.world_size) * info.world_size
        loss_sum = torch.zeros((), device=info.device)
        for micro, (x, y) in enumerate(batches):
            n_micro = int((y != -100).sum())
            x = x.to(info.device, non_blocking=True)
            y = y.to(info.device, non_blocking=True)
            with parallel.sync_context(self.wrapped, self.t, info, micro == len(batches) - 1):
                with self.autocast():
                    summed = self._loss_sum(self.wrapped, x, y, n_micro)
                scaled = summed * (info.world_size / n_total)
                if self.scaler is not None:
                    self.scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            loss_sum += summed.detach()
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        grad_norm = parallel.clip_grad_norm(self.model, self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped when the scaled grads overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        loss = parallel.all_reduce_mean(loss_sum, info) * info.world_size / n_total
        return loss, grad_norm

    @torch.no_grad()
    def evaluate(self, num_windows: int, window: Callable[[int], tuple[torch.Tensor, torch.Tensor]]) -> float:
        """Token-weighted loss over windows 0..num_windows-1 (`window(i)` -> (x, y), each (1, T)); collective.

        The result depends only on the weights and the windows, not on the world size or micro-batch:
        - window i is evaluated by rank i % world_size, one window per forward, so its loss never depends on
          which windows share a batch (kernels choose their algorithm, and rounding, by shape);
        - each window's (mean loss, targets) lands in row i of a float64 table that one all-reduce fills
          (every other rank adds exact zeros), and the total is summed in window order with math.fsum.
        Ranks with one window fewer run a forward without targets, because FSDP all-gathers inside every
        forward and all ranks must join each one. Runs the unwrapped model: DDP's wrapper is only needed for
        gradient sync (FSDP2 shards in place, so `self.model` is the sharded module).
        """
        info = self.info
        self.model.eval()
        table = torch.zeros(num_windows, 2, dtype=torch.float64, device=info.device)  # (mean loss, loss tokens)
        per_rank = math.ceil(num_windows / info.world_size)
        for i in range(info.rank, per_rank * info.world_size, info.world_size):
            x, y = window(min(i, num_windows - 1))
            n = int((y != -100).sum()) if i < num_windows else 0
            x, y = x.to(info.device), y.to(info.device)
            with self.autocast():
                if n:
                    table[i, 0], table[i, 1] = self.model(x, y).double(), float(n)
                else:  # padding (or a window without loss targets): join FSDP's collectives, count nothing
                    self.model(x)
        self.model.train()
        rows = parallel.all_reduce_sum(table, info).cpu().tolist()
        tokens = math.fsum(n for _, n in rows)
        return math.fsum(loss * n for loss, n in rows) / max(tokens, 1.0)
