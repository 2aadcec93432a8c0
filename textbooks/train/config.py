"""Typed training config: one dataclass per component, loaded from YAML with `--set key=value` overrides.

    model:     what to train (a preset + overrides, or `init_from` a checkpoint / HF Phi dir to finetune)
    data:      packed datasets with mixture weights, validation dirs, seq_len
    optimizer: AdamW (lr is the *peak* lr of the schedule), weight decay, clipping
    schedule:  linear warmup, linear decay over `decay_steps`, stop at `stop_step` (paper §2.3: 36k / 24k)
    trainer:   batch (micro x accumulation x world), precision, compile, parallelism, checkpoints, validation
    logging:   metrics.jsonl cadence, TensorBoard, progress bar

Each component is built from its own section only (`build_optimizer(model, cfg.optimizer)`, ...).
Unknown keys are errors naming the full key path and the closest valid key; values are checked against
the field types, so `--set trainer.micro_batch_size=abc` fails before anything runs.

Example:
    cfg = load_config("configs/train/demo-tiny.yaml", ["trainer.run_dir=runs/x", "schedule.stop_step=20"])
    cfg.save(Path(cfg.trainer.run_dir) / "config.yaml")
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml


class ConfigError(ValueError):
    """A bad training config: the message names the file/key and suggests the fix."""


DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass
class ModelSection:
    """The network. Either a `preset` (textbooks.model.config presets: phi-1, phi-1-small, mini, tiny) with
    `overrides` of PhiConfig fields, or `init_from` a directory (one of our checkpoints or an HF `phi`
    directory) whose config.json gives the architecture; `overrides` may then change only regularisation
    (dropout). `vocab_size` defaults to the tokenizer's padded size when neither sets it."""

    preset: Optional[str] = None
    overrides: dict = field(default_factory=dict)
    init_from: Optional[str] = None


@dataclass
class DatasetEntry:
    path: str = ""
    weight: float = 1.0


@dataclass
class DataSection:
    """Packed data (`textbooks data pack`). `datasets` is a mixture: each entry a packed dir and a sampling
    weight (paper §2: filtered code + synthetic textbooks). Validation reads the `val` split of `val`
    dirs (default: the training dirs). `tokenizer`: the tokenizer dir copied into checkpoints (default:
    the one recorded in the packed data's meta.json, else `model.init_from`)."""

    datasets: list[DatasetEntry] = field(default_factory=list)
    val: list[str] = field(default_factory=list)
    seq_len: int = 2048  # paper §2.3: "sequence length of 2048"
    tokenizer: Optional[str] = None


@dataclass
class OptimizerSection:
    """AdamW. The paper (§2.3) names AdamW but not its betas/eps; the defaults are phi-1.5's
    ("Adam (momentum 0.9, 0.98), epsilon 1e-7"), the closest documented values from the same group.
    Weight decay applies to matrix weights only (see textbooks/train/optim.py)."""

    lr: float = 1e-3  # peak lr (paper §2.3 pretraining: 1e-3; finetuning: 1e-4)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    eps: float = 1e-7
    weight_decay: float = 0.1  # paper §2.3: 0.1 pretraining, 0.01 finetuning
    grad_clip: Optional[float] = 1.0  # not in the paper; 1.0 is the common choice (nanoGPT, litgpt). null = off
    fused: Optional[bool] = None  # null: the fused AdamW kernel on CUDA and CPU, foreach elsewhere


@dataclass
class ScheduleSection:
    """Linear warmup from 0 to the peak lr over `warmup_steps`, then linear decay to `min_lr` at
    `decay_steps` (the schedule length). Training stops at `stop_step` (default: `decay_steps`), which may
    be earlier (phi-1-base is step 24,000 of a 36,000-step schedule, paper §2.3) but not later: steps past
    the schedule would all run at `min_lr`, which is never what a recipe means."""

    warmup_steps: int = 750
    decay_steps: int = 36000
    stop_step: Optional[int] = None
    min_lr: float = 0.0  # decay endpoint: not in the paper; 0 assumed


@dataclass
class TrainerSection:
    """How to run. The global batch (sequences per optimizer step) = micro_batch_size x grad_accum_steps x
    world size. Give `global_batch_size` and `grad_accum_steps` is derived from the world size (so one config
    runs on 1 or 8 GPUs), or give `grad_accum_steps` directly; giving both checks they agree."""

    micro_batch_size: int = 8
    grad_accum_steps: Optional[int] = None
    global_batch_size: Optional[int] = None
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"  # fp16 (+ GradScaler) is the paper's (§2.3)
    compile: Optional[bool] = None  # null: on for CUDA, off for CPU
    activation_checkpointing: bool = False
    parallel: Literal["none", "ddp", "fsdp"] = "ddp"  # with torchrun and WORLD_SIZE > 1; "none" is refused there
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms (bitwise resume on CPU fp32)
    cpu_threads: Optional[int] = None  # fix torch's intra-op threads (reductions depend on the count)
    checkpoint_every: int = 1000
    keep_last: int = 3
    keep_best_by_val: bool = False
    val_every: int = 1000
    # Validation set: the first val_tokens // data.seq_len windows of each validation split, fixed by tokens so
    # it is the same set (and the same loss, and the same `best`) on any number of ranks and any micro-batch.
    # 327,680 = 160 windows of 2048 (what 20 micro-batches of 8 on one GPU used to read).
    val_tokens: int = 327_680
    max_minutes: Optional[float] = None  # time budget: checkpoint and stop after this much training (null = none)
    run_dir: str = "runs/default"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    peak_flops: Optional[float] = None  # per-device peak for MFU; null: table by GPU name (none on CPU)


@dataclass
class LoggingSection:
    log_every: int = 10
    tensorboard: bool = True
    progress: Literal["auto", "bar", "lines"] = "auto"  # auto: a tqdm bar when stderr is a terminal


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    trainer: TrainerSection = field(default_factory=TrainerSection)
    logging: LoggingSection = field(default_factory=LoggingSection)

    def __post_init__(self):
        _validate_values(self)

    @property
    def stop_step(self) -> int:
        return self.schedule.stop_step if self.schedule.stop_step is not None else self.schedule.decay_steps

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, values: dict, source: "str | _Source" = "config") -> "TrainConfig":
        return _build(cls, values, prefix="", source=source if isinstance(source, _Source) else _Source(source))


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """YAML file (or defaults when None) + `section.key=value` overrides (values parsed as YAML)."""
    return load_dataclass_config(TrainConfig, path, overrides, shipped="configs/train/",
                                 example="trainer.micro_batch_size=4")


def load_dataclass_config(cls, path: str | Path | None, overrides: list[str] | tuple[str, ...] = (), *,
                          shipped: str = "configs/", example: str = "section.key=value"):
    """Any dataclass config from a YAML file (or its defaults when `path` is None) + `--set key=value`
    overrides; unknown keys and bad values are ConfigErrors naming the file or `--set` and the key."""
    values: dict = {}
    source = str(path) if path is not None else "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p} (shipped configs are in {shipped})")
        try:
            values = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as e:
            raise ConfigError(f"{p}: not UTF-8 text (byte {e.start}); save the config as UTF-8") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections")
    origins: dict[str, str] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set {example}")
        _set_path(values, key.strip().split("."), _parse_scalar(raw), item)
        origins[key.strip()] = f"--set {item}"
    src = _Source(source, origins)
    if hasattr(cls, "from_dict"):
        return cls.from_dict(values, source=src)
    return _build(cls, values, prefix="", source=src)


# Keys of earlier versions, with what replaces them (a plain "unknown key" would not say what to write instead).
REMOVED_KEYS = {
    "trainer.val_batches": "use trainer.val_tokens, the validation tokens per split (old value x micro_batch_size x "
                           "number of processes x data.seq_len), which does not change with the world size or micro-batch",
}


# --- typed building --------------------------------------------------------------------------------


class _Source:
    """Names where a key's value came from in errors: the `--set` argument that gave it, else the file."""

    def __init__(self, file: str, origins: dict[str, str] | None = None):
        self.file, self.origins = file, origins or {}

    def __call__(self, key: str) -> str:
        parts = key.replace("[", ".[").split(".")
        for i in range(len(parts), 0, -1):  # the key itself, then its sections (`--set model.overrides={...}`)
            origin = self.origins.get(".".join(parts[:i]).replace(".[", "["))
            if origin:
                return origin
        return self.file


def _short(value: Any) -> str:
    """A value as errors quote it: bounded, so a huge (or YAML-alias-bomb) structure is not expanded."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 2, 4, 4, 80, 80
    return r.repr(value)


def _parse_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def _set_path(values: dict, parts: list[str], value: Any, item: str) -> None:
    node = values
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {item!r}: {part!r} is not a section")
        node = nxt
    node[parts[-1]] = value


def _suggest(key: str, valid: list[str]) -> str:
    hint = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _build(cls, values: Any, prefix: str, source: _Source):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source(prefix.rstrip('.'))}: {prefix.rstrip('.') or 'config'} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if prefix + str(key) in REMOVED_KEYS:
            raise ConfigError(f"{source(prefix + str(key))}: {prefix + str(key)} was removed: {REMOVED_KEYS[prefix + str(key)]}")
        if key not in fields:
            full = [prefix + f for f in fields]
            raise ConfigError(
                f"{source(prefix + str(key))}: unknown key {prefix + str(key)!r}{_suggest(prefix + str(key), full)} "
                f"(valid keys here: {', '.join(fields)})"
            )
        kwargs[key] = _coerce(value, hints[key], prefix + key, source)
    return cls(**kwargs)


def _coerce(value: Any, tp: Any, key: str, source: _Source) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:  # Optional[X], X | None
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key, source)
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                f"{source(key)}: {key}={_short(value)} is not one of {', '.join(map(repr, args))}"
                + (_suggest(value, [str(a) for a in args]) if isinstance(value, str) else "")
            )
        return value
    if dataclasses.is_dataclass(tp):
        if tp is DatasetEntry and isinstance(value, str):  # shorthand: a bare path, weight 1
            value = {"path": value}
        return _build(tp, value, key + ".", source)
    if origin is list:
        if isinstance(value, str) and args and args[0] in (str, DatasetEntry):
            value = [value]  # `--set data.datasets=DIR` means a one-element list
        if isinstance(value, (str, dict)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source(key)}: {key} must be a list, got {_short(value)}")
        return [_coerce(v, args[0] if args else Any, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source(key)}: {key} must be a mapping, got {_short(value)}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source(key)}: {key} must be true or false, got {_short(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{source(key)}: {key} must be an integer, got {_short(value)}")
        return int(value)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-3` as a string; accept it as a number
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source(key)}: {key} must be a number, got {_short(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{source(key)}: {key} must be a string, got {_short(value)}")
        return str(value)
    return value


def _validate_values(cfg: TrainConfig) -> None:
    """Range checks that need no files (those that do happen in the trainer, before the first step)."""
    t, s, o, d = cfg.trainer, cfg.schedule, cfg.optimizer, cfg.data
    checks = [
        (t.micro_batch_size > 0, "trainer.micro_batch_size must be > 0"),
        (t.grad_accum_steps is None or t.grad_accum_steps > 0, "trainer.grad_accum_steps must be > 0"),
        (t.global_batch_size is None or t.global_batch_size > 0, "trainer.global_batch_size must be > 0"),
        (t.checkpoint_every > 0, "trainer.checkpoint_every must be > 0"),
        (t.keep_last >= 1, "trainer.keep_last must be >= 1"),
        (t.val_every >= 0, "trainer.val_every must be >= 0 (0 = no validation)"),
        (t.val_every == 0 or t.val_tokens >= d.seq_len, f"trainer.val_tokens={t.val_tokens} must be >= data.seq_len={d.seq_len} (one window)"),
        (t.max_minutes is None or t.max_minutes > 0, "trainer.max_minutes must be > 0 or null"),
        (t.cpu_threads is None or t.cpu_threads >= 1, f"trainer.cpu_threads={t.cpu_threads} must be >= 1 or null (torch's default)"),
        (bool(DEVICE_RE.match(t.device)), f"trainer.device={t.device!r} must be auto, cpu, cuda or cuda:N"),
        (t.peak_flops is None or t.peak_flops > 0, f"trainer.peak_flops={t.peak_flops} must be > 0 FLOP/s or null"),
        (s.warmup_steps >= 0, "schedule.warmup_steps must be >= 0"),
        (s.decay_steps > s.warmup_steps, "schedule.decay_steps (schedule length) must be > schedule.warmup_steps"),
        (s.stop_step is None or 0 < s.stop_step, "schedule.stop_step must be > 0"),
        (s.stop_step is None or s.stop_step <= s.decay_steps,
         f"schedule.stop_step={s.stop_step} is past schedule.decay_steps={s.decay_steps}: the steps after decay_steps "
         f"would all train at schedule.min_lr; raise schedule.decay_steps (the schedule length) or lower schedule.stop_step"),
        (0 <= s.min_lr <= o.lr, "schedule.min_lr must be in [0, optimizer.lr]"),
        (o.lr > 0, "optimizer.lr must be > 0"),
        (len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas), "optimizer.betas must be two numbers in [0, 1)"),
        (o.eps > 0, f"optimizer.eps={o.eps} must be > 0 (it keeps AdamW's division finite)"),
        (o.weight_decay >= 0, "optimizer.weight_decay must be >= 0"),
        (o.grad_clip is None or o.grad_clip > 0, "optimizer.grad_clip must be > 0 or null"),
        (d.seq_len > 0, "data.seq_len must be > 0"),
        (cfg.logging.log_every > 0, "logging.log_every must be > 0"),
        (not (t.keep_best_by_val and t.val_every == 0), "trainer.keep_best_by_val needs validation: set trainer.val_every > 0"),
        (all(e.weight > 0 for e in d.datasets), "data.datasets[*].weight must be > 0"),
        (all(e.path for e in d.datasets), "data.datasets[*].path must be set"),
    ]
    problems = [msg for ok, msg in checks if not ok]
    if problems:
        raise ConfigError("invalid training config: " + "; ".join(problems))


def resolve_grad_accum(trainer: TrainerSection, world_size: int) -> int:
    """Micro-steps per optimizer step so that micro x accum x world = global batch."""
    mb = trainer.micro_batch_size
    if trainer.global_batch_size is None:
        return trainer.grad_accum_steps or 1
    per_step = mb * world_size
    if trainer.global_batch_size % per_step:
        raise ConfigError(
            f"trainer.global_batch_size={trainer.global_batch_size} is not divisible by micro_batch_size x world_size "
            f"= {mb} x {world_size} = {per_step}; choose a micro_batch_size (or number of processes) that divides it"
        )
    accum = trainer.global_batch_size // per_step
    if trainer.grad_accum_steps is not None and trainer.grad_accum_steps != accum:
        raise ConfigError(
            f"trainer.grad_accum_steps={trainer.grad_accum_steps} disagrees with global_batch_size / (micro_batch_size x "
            f"world_size) = {trainer.global_batch_size} / ({mb} x {world_size}) = {accum}; set one of them to null"
        )
    return accum
