"""What may change when a run is resumed, and the run's history of launches.

    changes = compare_for_resume(old_cfg, new_cfg, old_global_batch=8, new_global_batch=8,
                                 allowed=["optimizer.lr"], checkpoint=path)   # ConfigError if refused
    append_history(run_dir, event="resume", step=6, changes=changes, ...)

A resumed run must train what the checkpoint was training. `--resume` compares the resolved config with
the checkpoint's own `config.yaml`, key by key (`model.overrides` and other mappings key by key, lists
whole), and refuses every difference except:

- RESUME_MAY_CHANGE: settings of *this launch* that do not change what is trained: the time budget, where
  to stop, logging / validation / checkpoint cadence, where the run lives, and how the step is computed
  (parallelism, compile, activation checkpointing, threads, determinism, peak FLOPs for MFU);
- LAYOUT: how the global batch is split (micro_batch_size, grad_accum_steps, global_batch_size), so the
  number of ranks may change, as long as the global batch (sequences per optimizer step) stays the same;
- keys named with `--allow-config-change KEY` (repeatable; a key, or a section such as `optimizer`).

Every launch appends one JSON line to `run_dir/history.jsonl`: when, fresh start or resume, from which
checkpoint and step, on how many ranks, and each changed setting with what allowed it. `config.yaml` in the
run dir is then the config of the latest launch; each checkpoint keeps the config it was written with.
"""

from __future__ import annotations

import datetime
import difflib
import json
import sys
from pathlib import Path

from textbooks.train.config import ConfigError, TrainConfig, load_config

RESUME_MAY_CHANGE = {
    "trainer.max_minutes": "time budget of this launch",
    "schedule.stop_step": "where this launch stops (the schedule is warmup_steps, decay_steps, min_lr)",
    "trainer.checkpoint_every": "checkpoint cadence",
    "trainer.keep_last": "how many old checkpoints are kept",
    "trainer.val_every": "validation cadence",
    "logging.log_every": "logging cadence",
    "logging.tensorboard": "logging output",
    "logging.progress": "logging output",
    "trainer.run_dir": "where the run lives (a moved or copied run)",
    "trainer.parallel": "how the step is computed: DDP or FSDP (a multi-process launch cannot use none)",
    "trainer.compile": "how the step is computed",
    "trainer.activation_checkpointing": "how the step is computed",
    "trainer.cpu_threads": "how the step is computed",
    "trainer.deterministic": "how the step is computed",
    "trainer.peak_flops": "only the logged MFU",
}
LAYOUT = ("trainer.micro_batch_size", "trainer.grad_accum_steps", "trainer.global_batch_size")
HISTORY_FILE = "history.jsonl"
_UNSET = "(unset)"


def flatten(values: dict, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 1e-3}, "model": {"overrides": {"n_layer": 2}}} -> {"optimizer.lr": 1e-3, "model.overrides.n_layer": 2}."""
    out = {}
    for k, v in values.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _covered(key: str, allowed: list[str]) -> str | None:
    for a in allowed:
        if key == a or key.startswith(a + "."):
            return a
    return None


def check_allow_keys(allowed: list[str], *configs: TrainConfig) -> None:
    """Each `--allow-config-change` key must name a setting (or a section) of the configs."""
    keys = set()
    for cfg in configs:
        keys |= set(flatten(cfg.to_dict()))
    prefixes = {k.rsplit(".", i)[0] for k in keys for i in range(1, k.count(".") + 1)}
    for a in allowed:
        if a not in keys and a not in prefixes:
            hint = difflib.get_close_matches(a, sorted(keys | prefixes), n=1, cutoff=0.5)
            raise ConfigError(
                f"--allow-config-change {a}: no such setting" + (f"; did you mean {hint[0]}?" if hint else "")
                + " (give a key such as optimizer.lr, or a section such as optimizer)"
            )


def compare_for_resume(old: TrainConfig, new: TrainConfig, *, old_global_batch: int, new_global_batch: int,
                       allowed: list[str], checkpoint: Path) -> list[dict]:
    """The differences between the checkpoint's config and this launch's, each with what allows it.

    Raises ConfigError listing every refused difference and how to proceed."""
    check_allow_keys(allowed, old, new)
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    changes, refused = [], []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, _UNSET), b.get(key, _UNSET)
        if before == after:
            continue
        if key in RESUME_MAY_CHANGE:
            by = "may change on resume"
        elif key in LAYOUT and old_global_batch == new_global_batch:
            by = "batch layout (same global batch)"
        elif _covered(key, allowed):
            by = f"--allow-config-change {_covered(key, allowed)}"
        else:
            by = None
        (changes if by else refused).append({"key": key, "from": before, "to": after, "allowed_by": by})
    if old_global_batch != new_global_batch:
        key = "trainer.global_batch_size"
        entry = {"key": f"{key} (resolved: micro x accumulation x ranks)", "from": old_global_batch, "to": new_global_batch}
        if _covered(key, allowed):
            changes.append({**entry, "allowed_by": f"--allow-config-change {_covered(key, allowed)}"})
        else:
            refused.append({**entry, "allowed_by": None})
    if refused:
        listing = "; ".join(f"{c['key']}: {c['from']!r} -> {c['to']!r}" for c in refused)
        flags = " ".join(f"--allow-config-change {c['key'].split(' ')[0]}" for c in refused)
        hint = ""
        if any(c["key"].startswith("trainer.global_batch_size") for c in refused):
            hint = (f" (the global batch changed with the number of ranks: set trainer.global_batch_size={old_global_batch} "
                    f"so accumulation is derived from the world size)")
        raise ConfigError(
            f"--resume: this config differs from the checkpoint's ({checkpoint / 'config.yaml'}) in settings that change "
            f"what is trained: {listing}{hint}. Resume with the checkpoint's values, or change them knowingly with "
            f"`{flags}` (recorded in the run's {HISTORY_FILE}). Settings that may change on resume: "
            f"{', '.join(RESUME_MAY_CHANGE)}, and {', '.join(LAYOUT)} while the global batch stays the same"
        )
    return changes


def checkpoint_config(path: Path) -> TrainConfig:
    """The config a checkpoint was written with (its config.yaml), to compare with on resume."""
    if not (path / "config.yaml").is_file():
        raise ConfigError(f"{path}/config.yaml is missing: cannot check that --resume continues the same training; "
                          f"restore it from the run's other checkpoints or start a new run with model.init_from={path}")
    return load_config(path / "config.yaml")


def append_history(run_dir: Path, *, event: str, step: int, checkpoint: Path | None, world_size: int,
                   global_batch: int, changes: list[dict]) -> dict:
    """Append this launch to run_dir/history.jsonl (rank 0) and return the record."""
    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "event": event,
        "step": step,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "world_size": world_size,
        "global_batch": global_batch,
        "argv": sys.argv,
        "changes": changes,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / HISTORY_FILE).open("a") as f:
        f.write(json.dumps(record, default=str) + "\n")
    return record


def read_history(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
