"""`textbooks train --dry-run`: what a launch would do, and what it would cost, without training.

    plan = make_plan(cfg, world_size=8, mfu=0.4, gpu="H100")
    print(format_plan(plan))

Prints the resolved config, the batch (micro-batch x accumulation x ranks), tokens per step and in total,
the compute and the hours at a given MFU. It also runs the checks a real launch runs first (packed data,
tokenizer, model shape, and with --resume the config comparison with the checkpoint), reporting a problem
instead of stopping at it, so the estimate is there even on a machine without the data.

Compute: FLOPs = 6 x N x D (Kaplan et al. 2020, "Scaling Laws", §2.1: forward 2N + backward 4N per token),
with N the non-embedding parameters (the lm_head included, as in textbooks.model.phi.model_flops_per_token)
and D the tokens trained. Attention's own FLOPs (12 x L x d x T per token, PaLM appendix B, which the
trainer's logged MFU includes) are shown beside it. Hours = FLOPs / (ranks x peak FLOP/s per device x MFU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from textbooks.train.config import ConfigError, TrainConfig, resolve_grad_accum


@dataclass
class Plan:
    config: TrainConfig
    world_size: int
    micro_batch: int
    grad_accum: int
    seq_len: int
    start_step: int
    stop_step: int
    model: str  # how the model's shape was found
    params: int  # all parameters
    params_non_embedding: int  # N of 6ND
    attention_flops_per_token: int
    peak_flops: float | None  # per device
    peak_source: str
    mfu: float
    problems: list[str]
    resume_from: Path | None = None
    resume_refused: bool = False  # --resume whose checks failed: the steps shown are not a plan
    warnings: list[str] = field(default_factory=list)
    validation: str | None = None  # "val: N windows (...)"

    @property
    def global_batch(self) -> int:
        return self.micro_batch * self.grad_accum * self.world_size

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    @property
    def steps(self) -> int:
        return max(0, self.stop_step - self.start_step)

    @property
    def total_tokens(self) -> int:
        return self.steps * self.tokens_per_step

    @property
    def flops(self) -> float:
        return 6 * self.params_non_embedding * self.total_tokens

    @property
    def hours(self) -> float | None:
        if not self.peak_flops:
            return None
        return self.flops / (self.world_size * self.peak_flops * self.mfu) / 3600


def make_plan(cfg: TrainConfig, *, world_size: int, mfu: float, peak_flops: float | None = None,
              gpu: str | None = None, resume: bool = False, allow_config_change: list[str] = (),
              world_source: str | None = None) -> Plan:
    """The plan of a launch of `cfg` on `world_size` ranks; ConfigError only for errors no estimate survives.

    `world_source` names where the world size came from in messages (e.g. "--world-size 2")."""
    from textbooks.model.phi import model_flops_per_token
    from textbooks.train import parallel
    from textbooks.train.engine import peak_flops_by_name

    if not 0 < mfu <= 1:
        raise ConfigError(f"--mfu {mfu}: must be in (0, 1], e.g. 0.4 for 40% model FLOPs utilization")
    if world_size < 1:
        raise ConfigError(f"--world-size {world_size}: must be >= 1")
    if peak_flops is not None and not peak_flops > 0:
        raise ConfigError(f"--peak-flops {peak_flops}: must be > 0 FLOP/s per device, e.g. 989e12 for an H100")
    if allow_config_change and not resume:
        raise ConfigError("--allow-config-change only applies with --resume (it allows differences from a checkpoint)")
    parallel.check_parallel_mode(cfg.trainer.parallel, world_size, world_source)
    accum = resolve_grad_accum(cfg.trainer, world_size)
    problems: list[str] = []
    warnings: list[str] = []
    try:
        parallel.resolve_device(cfg.trainer.device)
    except ConfigError as e:
        problems.append(f"device: {e}")
    model_config, model_source, validation = _model_config(cfg, problems, warnings)

    peak, source = None, "unknown: pass --peak-flops FLOP/s or --gpu NAME for hours"
    if peak_flops is not None:
        peak, source = peak_flops, "--peak-flops"
    elif gpu is not None:
        peak = peak_flops_by_name(gpu)
        if peak is None:
            from textbooks.train.engine import PEAK_FLOPS

            raise ConfigError(f"--gpu {gpu}: no peak FLOP/s known for it (known: {', '.join(k for k, _ in PEAK_FLOPS)}); "
                              f"pass --peak-flops instead")
        source = f"--gpu {gpu} (dense bf16 peak, textbooks/train/engine.py PEAK_FLOPS)"
    elif cfg.trainer.peak_flops is not None:
        peak, source = cfg.trainer.peak_flops, "trainer.peak_flops"
    else:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            peak = peak_flops_by_name(name)
            source = f"this machine's {name}" if peak else f"this machine's {name} is not in the table: pass --peak-flops"

    start, resume_from, refused = 0, None, False
    if resume:
        start, resume_from, refused = _resume_point(cfg, world_size, accum, allow_config_change, problems, warnings)
    per_token = model_flops_per_token(model_config, cfg.data.seq_len)
    n = model_config.num_params(embeddings=False)
    return Plan(
        config=cfg, world_size=world_size, micro_batch=cfg.trainer.micro_batch_size, grad_accum=accum,
        seq_len=cfg.data.seq_len, start_step=start, stop_step=cfg.stop_step, model=model_source,
        params=model_config.num_params(), params_non_embedding=n, attention_flops_per_token=int(per_token - 6 * n),
        peak_flops=peak, peak_source=source, mfu=mfu, problems=problems, resume_from=resume_from,
        resume_refused=refused, warnings=warnings, validation=validation,
    )


def _model_config(cfg: TrainConfig, problems: list[str], warnings: list[str]):
    """The model's shape after the launch's own input checks; without a tokenizer, the preset's vocab_size.
    Also the validation set's size line (None without data or validation)."""
    from textbooks.train.data import ValidationSet
    from textbooks.train.inputs import find_tokenizer, open_datasets, resolve_model_config

    tokenizer = validation = None
    try:
        train_sets, val_sets = open_datasets(cfg.data, validate=cfg.trainer.val_every > 0)
        if val_sets:
            validation, val_warnings = ValidationSet(val_sets, cfg.data.seq_len, cfg.trainer.val_tokens).describe(
                cfg.trainer.val_tokens)
            warnings.extend(val_warnings)
        tokenizer = find_tokenizer(cfg, train_sets, val_sets)
    except ConfigError as e:
        problems.append(f"inputs: {e}")
    config = resolve_model_config(cfg, tokenizer)  # a shape error leaves nothing to estimate: raise it
    what = f"model.init_from={cfg.model.init_from}" if cfg.model.init_from else f"model.preset={cfg.model.preset}"
    if tokenizer is None and not cfg.model.init_from and "vocab_size" not in cfg.model.overrides:
        what += f" (vocab_size {config.vocab_size} from the preset: the tokenizer was not found)"
    return config, what, validation


def _resume_point(cfg: TrainConfig, world_size: int, accum: int, allowed, problems: list[str], warnings: list[str]):
    """(start step, checkpoint, refused): what the launch's recover() + latest() would resume, read-only."""
    from textbooks.train.checkpoint import Checkpointer, latest_after_recovery, skipped_checkpoints
    from textbooks.train.resume import check_stop_step, checkpoint_config, compare_for_resume

    root = Path(cfg.trainer.run_dir) / "checkpoints"
    path = latest_after_recovery(root)
    for skipped in skipped_checkpoints(root, path):
        warnings.append(f"skipping {skipped}: it has no trainer_state.json (an incomplete or damaged checkpoint)")
    if path is None:
        return 0, None, False
    step = 0
    try:
        state = Checkpointer.load_state(path)
        step = state["step"]
        check_stop_step(cfg, step, path)
        compare_for_resume(checkpoint_config(path), cfg, old_global_batch=state["global_batch"],
                           new_global_batch=cfg.trainer.micro_batch_size * accum * world_size,
                           allowed=list(allowed), checkpoint=path, old_world_size=state["world_size"],
                           new_world_size=world_size)
    except ConfigError as e:
        problems.append(f"resume: {e}")
        return step, path, True
    if step >= cfg.stop_step:
        warnings.append(f"already at step {step} = stop_step; nothing to do (raise schedule.stop_step to train on)")
    return step, path, False


def _si(x: float) -> str:
    for unit, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_plan(plan: Plan) -> str:
    p = plan
    lines = ["resolved config:", *("  " + line for line in yaml.safe_dump(p.config.to_dict(), sort_keys=False).splitlines())]
    lines += [
        "",
        f"batch:        {p.micro_batch} micro-batch x {p.grad_accum} accumulation x {p.world_size} ranks = "
        f"{p.global_batch:,} sequences of {p.seq_len:,} tokens",
        f"tokens/step:  {p.tokens_per_step:,}",
        f"steps:        {p.start_step:,} -> {p.stop_step:,} = {p.steps:,}"
        + (f" (resuming {p.resume_from})" if p.resume_from and not p.resume_refused else "")
        + (f" (if the resume from {p.resume_from} were allowed: it is refused, see the problem below)"
           if p.resume_refused else "")
        + f"; schedule length {p.config.schedule.decay_steps:,}",
        f"total tokens: {p.total_tokens:,} ({_si(p.total_tokens)})",
        f"model:        {p.model}: {p.params:,} parameters, N = {p.params_non_embedding:,} without the embedding",
        f"compute:      6 x N x tokens = 6 x {p.params_non_embedding:,} x {p.total_tokens:,} = {p.flops:.3e} FLOPs "
        f"({_si(p.flops)} FLOP); attention adds 12 x L x d x T = {p.attention_flops_per_token:,} FLOPs per token "
        f"(+{p.attention_flops_per_token / (6 * p.params_non_embedding):.0%}; the trainer's logged MFU counts it)",
    ]
    if p.hours is None:
        lines.append(f"time:         peak FLOP/s {p.peak_source}")
    else:
        lines.append(
            f"time:         {p.hours:,.1f} hours = 6ND / ({p.world_size} ranks x {p.peak_flops / 1e12:,.4g} TFLOP/s [{p.peak_source}] "
            f"x MFU {p.mfu:.0%}); {p.hours * p.world_size:,.1f} device-hours"
        )
    if p.validation:
        lines.append(p.validation)
    for warning in p.warnings:
        lines.append(f"warning:      {warning}")
    for problem in p.problems:
        lines.append(f"problem:      {problem}")
    lines.append("dry run: nothing was trained" + ("; fix the problems above before launching" if p.problems else ""))
    return "\n".join(lines)
