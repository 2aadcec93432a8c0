"""Distributed setup and everything applied to the model from outside: activation checkpointing,
torch.compile, DDP / FSDP2 (torchtitan's `parallelize` pattern; textbooks/model/phi.py stays the math).

Launch: `torchrun --nproc_per_node=N -m textbooks train --config ...` sets RANK / WORLD_SIZE / LOCAL_RANK /
MASTER_ADDR; `init_distributed` reads them (NCCL on CUDA, gloo on CPU). Without them it is one process.

FSDP2 (`trainer.parallel: fsdp`): `fully_shard` on each PhiBlock, then on the root (embedding, final LN,
lm_head). Checkpoints are *consolidated*: every rank joins `get_model_state_dict` /
`get_optimizer_state_dict(full_state_dict=True, cpu_offload=True)` and rank 0 alone writes one HF model dir
plus the full optimizer state, so a checkpoint from 8 GPUs resumes on 4 (or exports) unchanged. This costs
one full copy in rank 0's CPU memory (~17 GB for phi-1 with AdamW state), fine at 1.3B parameters.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from textbooks.train.config import ConfigError, TrainerSection


class RankError(ConfigError):
    """A config error that only some ranks meet (the CLI prints it on the rank itself, not only on rank 0)."""


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"trainer.device={name!r} must be auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name!r} but CUDA is not available on this machine; use trainer.device=cpu (or auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"trainer.device={name!r} but this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def launched_world_size() -> int:
    """Processes in this launch: torchrun's WORLD_SIZE, 1 without it. ConfigError if the environment is not a
    torchrun launch (WORLD_SIZE > 1 without RANK, or not a number)."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        world = int(raw)
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={raw!r} is not a number; unset it, or launch with torchrun") from None
    if world < 1:
        raise ConfigError(f"WORLD_SIZE={raw} must be >= 1; unset it, or launch with torchrun")
    if world > 1 and "RANK" not in os.environ:
        raise ConfigError(
            f"WORLD_SIZE={world} is set but RANK is not: multi-process training is launched with torchrun, which "
            f"sets RANK, LOCAL_RANK and MASTER_ADDR (`torchrun --nproc_per_node={world} -m textbooks train ...`); "
            f"unset WORLD_SIZE to train in one process"
        )
    return world


def launch_rank() -> int:
    """This process's rank from torchrun's RANK (0 without it), for deciding who prints."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def check_parallel_mode(mode: str, world_size: int, launch: str | None = None) -> None:
    """`trainer.parallel: none` under a multi-process launch would train unsynchronised copies: refuse it.

    `launch` names where the world size came from in the message (default `WORLD_SIZE=N`)."""
    if mode == "none" and world_size > 1:
        launch = launch or f"WORLD_SIZE={world_size}"
        raise ConfigError(
            f"trainer.parallel=none but this launch has {world_size} processes ({launch}): each would "
            f"train its own unsynchronised copy and only rank 0's would be saved; set trainer.parallel=ddp (or fsdp "
            f"to shard a model too big for one GPU), or launch a single process"
        )


def init_distributed(device_name: str) -> DistInfo:
    """One process, or the torchrun group described by the environment."""
    world = launched_world_size()
    if world <= 1:
        device = resolve_device(device_name)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return DistInfo(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    try:
        device = resolve_device(device_name, local_rank)
    except ConfigError as e:  # e.g. more processes per node than GPUs: only some ranks meet it
        raise RankError(f"rank {rank} (LOCAL_RANK={local_rank}): {e}") from None
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=device)


def shutdown_distributed(synchronize: bool = True) -> None:
    """Tear the process group down. With `synchronize`, every rank first meets at a barrier: a rank that
    destroys its group while a peer still talks to it over gloo aborted now and then at exit ("terminate called
    without an active exception", SIGABRT after a finished run). Pass False after an error, when a peer may be
    gone and a barrier would wait for it."""
    if dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def blocks(model: nn.Module) -> nn.ModuleList:
    return model.model.layers


def parallelize(model: nn.Module, cfg: TrainerSection, info: DistInfo, precision_dtype: torch.dtype) -> nn.Module:
    """Apply activation checkpointing, compile and DDP/FSDP2 in that order; returns the module to call.

    The returned module may be a DDP wrapper; the original `model` still owns the parameters (for DDP
    and single-process), or holds DTensor shards (FSDP2, sharded in place).
    """
    if cfg.activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointImpl, checkpoint_wrapper

        layers = blocks(model)
        for i, block in enumerate(layers):
            # Non-reentrant checkpointing recomputes each block in backward and replays its RNG state,
            # so dropout masks match. The wrapper's state-dict hooks strip its name prefix.
            layers[i] = checkpoint_wrapper(block, checkpoint_impl=CheckpointImpl.NO_REENTRANT)
    compile_on = compile_enabled(cfg, info)
    mode = cfg.parallel if info.distributed else "none"
    if compile_on:
        if mode == "fsdp":  # compile per block so FSDP's all-gathers sit between compiled regions
            for block in blocks(model):
                block.compile()
        else:
            model.compile()  # in place: parameter names (and checkpoints) keep their keys
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        device_ids = [info.device.index] if info.device.type == "cuda" else None
        return DDP(model, device_ids=device_ids)
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        # Parameters stay fp32 (the master copy); compute in the training precision, reduce grads in fp32.
        mp = MixedPrecisionPolicy(param_dtype=precision_dtype, reduce_dtype=torch.float32)
        for block in blocks(model):
            fully_shard(block, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        return model
    return model


def compile_enabled(cfg: TrainerSection, info: DistInfo) -> bool:
    """trainer.compile, defaulting to on for CUDA and off for CPU (compiling costs minutes on a small CPU)."""
    return cfg.compile if cfg.compile is not None else info.device.type == "cuda"


def sync_context(wrapped: nn.Module, cfg: TrainerSection, info: DistInfo, last_micro_step: bool):
    """Skip the gradient all-reduce on all but the last micro-step of an accumulation."""
    if not info.distributed:
        return contextlib.nullcontext()
    mode = cfg.parallel
    if mode == "ddp":
        return contextlib.nullcontext() if last_micro_step else wrapped.no_sync()
    if mode == "fsdp":
        wrapped.set_requires_gradient_sync(last_micro_step)
    return contextlib.nullcontext()


def clip_grad_norm(model: nn.Module, max_norm: float | None) -> torch.Tensor:
    """Clip to `max_norm` (None: only measure); returns the total grad norm before clipping (a 0-d tensor,
    so reading it does not force a device sync every step)."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm is not None else float("inf"))
    if hasattr(norm, "full_tensor"):  # FSDP2: a DTensor holding the global norm
        norm = norm.full_tensor()
    return norm


def is_fsdp(cfg: TrainerSection, info: DistInfo) -> bool:
    return info.distributed and cfg.parallel == "fsdp"


def full_model_state(model: nn.Module, cfg: TrainerSection, info: DistInfo) -> dict[str, torch.Tensor] | None:
    """Full (unsharded) CPU state dict on rank 0, None elsewhere. Collective under FSDP."""
    if is_fsdp(cfg, info):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return sd if info.is_main else None
    if not info.is_main:
        return None
    return {k: v.detach().to("cpu", copy=True) for k, v in _plain_state_dict(model).items()}


def _plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    # torch.compile (in place) and the checkpoint wrapper both keep the keys of the plain module.
    return {k.replace("_orig_mod.", ""): v for k, v in model.state_dict().items()}


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, cfg: TrainerSection, info: DistInfo):
    """Full optimizer state on rank 0 (None elsewhere), keyed by parameter name in every mode, so a checkpoint
    of one process, DDP or FSDP resumes under any of them. Collective under FSDP."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    if is_fsdp(cfg, info):
        sd = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return sd if info.is_main else None
    # Unsharded (one process or DDP): every rank holds the full state; names instead of optimizer.state_dict()'s
    # parameter indices are what FSDP's loader expects.
    return get_optimizer_state_dict(model, optimizer) if info.is_main else None


def load_optimizer_state(model, optimizer, state, cfg: TrainerSection, info: DistInfo) -> None:
    """Load a `full_optimizer_state` (from any mode) into this rank's optimizer."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True) if is_fsdp(cfg, info) else None
    set_optimizer_state_dict(model, optimizer, optim_state_dict=state, options=options)


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= info.world_size
    return value


def all_reduce_sum(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def any_rank(flags: tuple[bool, ...], info: DistInfo) -> tuple[bool, ...]:
    """Each flag: True if set on any rank (one all-reduce), so every rank stops at the same step."""
    if not info.distributed:
        return tuple(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in t.tolist())


def gather_objects(obj, info: DistInfo) -> list:
    if not info.distributed:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()
