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
- keys named with `--allow-config-change KEY` (repeatable; a key, or a section such as `optimizer`),
  except RESUME_NEVER: `data.seq_len`, `data.datasets` (other than moving the same data to another path)
  and `trainer.seed` define the data order the checkpoint's loader position points into, so they are
  refused even when allowed (moved data, the same weights at new paths, passes: the loader checks its
  token counts); to train on with other data, start a new run with `model.init_from=CHECKPOINT`.

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
# What the data order is made of (textbooks/train/data.py TokenWindowLoader): the loader position saved in a
# checkpoint means nothing under other values, so no flag allows them.
RESUME_NEVER = {
    "data.seq_len": "the windows the loader position counts",
    "data.datasets": "the mixture the loader position points into",
    "trainer.seed": "the data order (and the initial weights)",
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
        if a in RESUME_NEVER:
            raise ConfigError(_never_message([a]))
        if a not in keys and a not in prefixes:
            hint = difflib.get_close_matches(a, sorted(keys | prefixes), n=1, cutoff=0.5)
            raise ConfigError(
                f"--allow-config-change {a}: no such setting" + (f"; did you mean {hint[0]}?" if hint else "")
                + " (give a key such as optimizer.lr, or a section such as optimizer)"
            )


def _never_message(keys: list[str], checkpoint: Path | None = None) -> str:
    why = "; ".join(f"{k} is {RESUME_NEVER[k]}" for k in keys)
    init = f"model.init_from={checkpoint}" if checkpoint else "model.init_from=<checkpoint>"
    return (f"--resume cannot change {', '.join(keys)}: {why}, and the checkpoint's data-loader position only has a "
            f"meaning under the values it was saved with (no --allow-config-change allows it). Resume with the "
            f"checkpoint's values, or start a new run (another trainer.run_dir) from these weights with {init} "
            f"(fresh optimizer, schedule and data order)")


def _moved_datasets(before, after) -> bool:
    """Only the paths of data.datasets differ (the same packed data moved): the loader checks it is the same."""
    if not (isinstance(before, list) and isinstance(after, list) and len(before) == len(after)):
        return False
    return all(isinstance(x, dict) and isinstance(y, dict) and x.get("weight") == y.get("weight")
               for x, y in zip(before, after))


def check_stop_step(cfg: TrainConfig, step: int, checkpoint: Path) -> None:
    """A resumed run cannot stop before the step its checkpoint is at."""
    if cfg.stop_step < step:
        raise ConfigError(
            f"--resume: schedule.stop_step={cfg.stop_step} is before the checkpoint's step {step} ({checkpoint}): a run "
            f"cannot go back. Set schedule.stop_step >= {step} (or leave it at the schedule length), or, to continue from an "
            f"earlier checkpoint, move the later ones out of {checkpoint.parent}"
        )


def compare_for_resume(old: TrainConfig, new: TrainConfig, *, old_global_batch: int, new_global_batch: int,
                       allowed: list[str], checkpoint: Path, old_world_size: int | None = None,
                       new_world_size: int | None = None) -> list[dict]:
    """The differences between the checkpoint's config and this launch's, each with what allows it.

    Raises ConfigError listing every refused difference and how to proceed."""
    check_allow_keys(allowed, old, new)
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    changes, refused = [], []
    never = [k for k in RESUME_NEVER if a.get(k, _UNSET) != b.get(k, _UNSET)
             and not (k == "data.datasets" and _moved_datasets(a.get(k), b.get(k)))]
    if never:
        raise ConfigError(_never_message(never, checkpoint))
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, _UNSET), b.get(key, _UNSET)
        if before == after:
            continue
        if key in RESUME_MAY_CHANGE:
            by = "may change on resume"
        elif key == "data.datasets":  # only the paths differ (RESUME_NEVER let it through)
            by = "the same data at another path (the loader checks its splits and token counts)"
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
        flags = " ".join(dict.fromkeys(f"--allow-config-change {c['key'].split(' ')[0]}" for c in refused))
        hint = ""
        if old_global_batch != new_global_batch and not _covered("trainer.global_batch_size", allowed):
            if old_world_size is not None and new_world_size is not None and old_world_size != new_world_size:
                hint = (f" (the global batch changed with the number of ranks, {old_world_size} -> {new_world_size}: set "
                        f"trainer.global_batch_size={old_global_batch} so accumulation is derived from the world size)")
            else:
                hint = (f" (micro-batch x accumulation x ranks is {new_global_batch} sequences, the checkpoint's "
                        f"{old_global_batch}: set trainer.global_batch_size={old_global_batch} to keep it)")
        raise ConfigError(
            f"--resume: this config differs from the checkpoint's ({checkpoint / 'config.yaml'}) in settings that change "
            f"what is trained: {listing}{hint}. Resume with the checkpoint's values, or allow the changes with `{flags}` "
            f"(recorded in the run's {HISTORY_FILE}); what may change without a flag: README, Training, \"Resume checks "
            f"the config\""
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
