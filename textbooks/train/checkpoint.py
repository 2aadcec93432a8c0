"""Checkpoint directories: atomic saves, crash recovery, listing, keep-last-K pruning, and the `best` link.

    ckpt = Checkpointer(run_dir / "checkpoints", keep_last=3, keep_best=True)
    ckpt.recover()                                   # rank 0, before reading: finish what a crash interrupted
    path = ckpt.save(step, model_state=..., model_config=..., tokenizer=..., trainer_state={...},
                     config=cfg, is_best=True)       # rank 0
    state = ckpt.load_state(ckpt.latest())           # every rank

Layout (one directory per saved step; every one is an HF model dir that transformers loads):

    run_dir/checkpoints/step_000123/
        config.json, model.safetensors            Phi.save_pretrained (PhiForCausalLM-compatible)
        generation_config.json                     bos/eos ids (textbooks.model.hf.save_model_dir)
        tokenizer.json, tokenizer_config.json, special_tokens_map.json
        trainer_state.json, trainer_state.safetensors
                                                   optimizer, schedule, scaler, RNG (per rank), data position,
                                                   step, partial log window; no pickle (textbooks/train/state.py)
        config.yaml                                the resolved training config
    run_dir/checkpoints/best -> step_000100        (with trainer.keep_best_by_val) a relative symlink

Atomicity: at every instant of a save, the previous checkpoint or the new one is complete on disk.
1. Everything is written into `.tmp-step_000123-<pid>/`, each file and the directory fsync'd.
2. Re-saving a step that exists: the old directory is first renamed to `.old-step_000123`. If the process
   dies before step 3, `recover()` renames it back; after step 3, it deletes it.
3. The temporary directory is renamed to `step_000123` (rename is atomic on POSIX), the parent fsync'd.
4. `best` is swapped with os.replace of a fresh symlink (atomic).
5. Pruning renames a checkpoint to `.trash-...` (atomic) before deleting its files, so a half-deleted
   checkpoint is never listed as complete.
`recover()` (run by rank 0 before resuming and before each save) finishes any of these left half done, and
removes `.tmp-*` / `.trash-*` leftovers (safe because one launch holds the run_dir: textbooks/train/lock.py).
A save that fails (disk full: OSError / SafetensorError) is cleaned up the same way and raised as
CheckpointSaveError naming the intact previous checkpoint; the new one is published before old ones are
pruned, so a save needs room for one more checkpoint. `load_state` checks the state's shape
(`check_trainer_state`: the keys the trainer writes, and a `step` equal to the folder's). tests/train/test_checkpoint.py kills a save at every filesystem
call it makes and resumes from what is left.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable

from textbooks.train.config import ConfigError
from textbooks.train.state import JSON_FILE, TENSOR_FILE, StateError, load_state, save_state

STEP_RE = re.compile(r"^step_(\d+)$")
OLD_RE = re.compile(r"^\.old-(step_\d+)$")
STATE_FILE = JSON_FILE  # a step_* directory holding this is a checkpoint (directories appear complete or not at all)
LEGACY_STATE_FILE = "trainer_state.pt"  # the pickled trainer state of earlier versions: listed, refused on load
BEST = "best"


def step_dir_name(step: int) -> str:
    return f"step_{step:06d}"


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _is_checkpoint(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and ((path / STATE_FILE).is_file() or (path / LEGACY_STATE_FILE).is_file())


def recover(root: str | Path) -> None:
    """Finish a save or prune a crash interrupted (see the module docstring). Rank 0 only."""
    root = Path(root)
    if not root.is_dir():
        return
    for p in sorted(root.iterdir()):
        m = OLD_RE.match(p.name)
        if m:
            final = root / m.group(1)
            if _is_checkpoint(final):  # the replacement was published: the old copy is garbage
                _remove(p)
            else:  # died between the two renames: the old copy is still the newest checkpoint of that step
                if final.exists():
                    _remove(final)
                os.rename(p, final)
                _fsync_dir(root)
    for p in list(root.glob(".tmp-*")) + list(root.glob(".trash-*")):
        _remove(p)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def write_checkpoint(root: str | Path, step: int, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` to fill a temporary dir, then atomically publish it as root/step_NNNNNN."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    recover(root)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    tmp.mkdir()
    write(tmp)
    _fsync_tree(tmp)
    old = root / f".old-{final.name}"
    if final.exists():  # re-saving a step: keep the old copy recoverable until the new one is published
        os.rename(final, old)
    os.rename(tmp, final)
    _fsync_dir(root)
    if old.exists():
        _remove(old)
    return final


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (step, path), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = STEP_RE.match(p.name)
        if m and _is_checkpoint(p):
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(root: str | Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def latest_after_recovery(root: str | Path) -> Path | None:
    """The checkpoint `recover(root)` then `latest_checkpoint(root)` would give, changing nothing (--dry-run):
    an `.old-step_N` whose replacement was never published still counts as step N."""
    root = Path(root)
    found = dict(list_checkpoints(root))
    if root.is_dir():
        for p in root.iterdir():
            m = OLD_RE.match(p.name)
            if m and not _is_checkpoint(root / m.group(1)) and _is_checkpoint(p):
                found[int(STEP_RE.match(m.group(1)).group(1))] = p
    return found[max(found)] if found else None


def skipped_checkpoints(root: str | Path, latest: Path | None) -> list[Path]:
    """step_* directories newer than `latest` that are not complete checkpoints (no trainer state): `latest`
    skips them. Saves publish complete directories only, so these were damaged or copied in part."""
    root = Path(root)
    if not root.is_dir():
        return []
    newest = checkpoint_step(latest) if latest is not None else -1
    out = []
    for p in sorted(root.iterdir()):
        m = STEP_RE.match(p.name)
        if m and p.is_dir() and not p.is_symlink() and not _is_checkpoint(p) and int(m.group(1)) > newest:
            out.append(p)
    return out


def checkpoint_step(path: Path) -> int | None:
    """The step in a checkpoint directory's name (step_000123, or .old-step_000123), None if it has none."""
    m = re.search(r"step_(\d+)$", Path(path).name)
    return int(m.group(1)) if m else None


def best_checkpoint(root: str | Path) -> Path | None:
    link = Path(root) / BEST
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def set_best(root: str | Path, target: Path) -> None:
    """Point root/best at `target` (relative symlink, swapped in atomically with os.replace)."""
    root = Path(root)
    tmp = root / f".tmp-best-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target.name, tmp)
    os.replace(tmp, root / BEST)
    _fsync_dir(root)


def prune(root: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` checkpoints, never the one `best` points to."""
    root = Path(root)
    found = list_checkpoints(root)
    best = best_checkpoint(root)
    removed = []
    for _, path in found[: max(0, len(found) - keep_last)]:
        if best is not None and path.resolve() == best:
            continue
        trash = root / f".trash-{path.name}-{os.getpid()}"
        os.rename(path, trash)  # unlisted in one atomic step; the slow deletion comes after
        _remove(trash)
        removed.append(path)
    return removed


def write_model_dir(state: dict, config, tokenizer, directory: Path) -> None:
    """`save_model_dir` (HF model dir + generation_config.json + tokenizer) from a full CPU state dict."""
    import torch

    from textbooks.model.hf import save_model_dir
    from textbooks.model.phi import Phi

    with torch.device("meta"):
        model = Phi(config)
    model.load_state_dict(state, assign=True)
    save_model_dir(model, tokenizer, directory)


class CheckpointSaveError(RuntimeError):
    """A checkpoint could not be written (disk full, I/O error); the previous checkpoint is intact."""


def _number(x, finite: bool = True) -> bool:
    import math

    return isinstance(x, (int, float)) and not isinstance(x, bool) and (not finite or math.isfinite(x))


def _int(x, minimum: int = 0) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= minimum


def check_trainer_state(state, path: Path) -> None:
    """StateError unless `state` has the shape `Trainer.checkpoint` writes and its step is the folder's."""
    import torch

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise StateError(f"{path / STATE_FILE}: {what}")

    need(isinstance(state, dict), f"the state is a {type(state).__name__}, not a mapping")
    required = ("step", "tokens_seen", "global_batch", "world_size", "lr", "best_val_loss", "best_step",
                "loss_window", "data", "rng", "optimizer", "scaler")
    missing = [k for k in required if k not in state]
    need(not missing, f"missing {', '.join(missing)}")
    folder_step = checkpoint_step(path)
    need(_int(state["step"]), f"step={state['step']!r} is not a non-negative integer")
    need(folder_step is None or state["step"] == folder_step, f"step={state['step']!r} but the folder is {path.name}")
    need(_int(state["tokens_seen"]), f"tokens_seen={state['tokens_seen']!r} is not a non-negative integer")
    need(_int(state["global_batch"], 1) and _int(state["world_size"], 1),
         "global_batch and world_size must be integers >= 1")
    need(_number(state["lr"]), f"lr={state['lr']!r} is not a number")
    need(state["best_val_loss"] is None or _number(state["best_val_loss"]), f"best_val_loss={state['best_val_loss']!r}")
    need(state["best_step"] is None or _int(state["best_step"]), f"best_step={state['best_step']!r}")
    w = state["loss_window"]
    need(isinstance(w, dict) and isinstance(w.get("losses"), list) and all(_number(x) for x in w["losses"])
         and _number(w.get("seconds")), "loss_window must be {losses: [numbers], seconds: number}")
    d = state["data"]
    need(isinstance(d, dict) and all(k in d for k in ("version", "seed", "seq_len", "samples", "cursors", "rng", "datasets"))
         and _int(d["samples"]) and isinstance(d["cursors"], list) and isinstance(d["rng"], dict)
         and isinstance(d["datasets"], list) and all(isinstance(e, dict) for e in d["datasets"])
         and all(isinstance(c, list) and len(c) == 2 and all(_int(v) for v in c) for c in d["cursors"]),
         "data (the loader position) is malformed")
    rng = state["rng"]
    need(isinstance(rng, list) and len(rng) == state["world_size"]
         and all(isinstance(r, dict) and isinstance(r.get("python"), tuple) and isinstance(r.get("numpy"), tuple)
                 and isinstance(r.get("torch"), torch.Tensor) for r in rng),
         "rng must hold one {python, numpy, torch} state per rank")
    opt = state["optimizer"]
    need(isinstance(opt, dict) and isinstance(opt.get("state"), dict) and isinstance(opt.get("param_groups"), list),
         "optimizer must be {state: ..., param_groups: [...]}")
    need(state["scaler"] is None or isinstance(state["scaler"], dict), "scaler must be a mapping or null")


class Checkpointer:
    """The trainer's checkpoints in one directory: what a checkpoint holds, when old ones go, which is best."""

    def __init__(self, root: str | Path, keep_last: int, keep_best: bool):
        self.root = Path(root)
        self.keep_last, self.keep_best = keep_last, keep_best

    def recover(self) -> None:
        recover(self.root)

    def latest(self) -> Path | None:
        return latest_checkpoint(self.root)

    def best(self) -> Path | None:
        return best_checkpoint(self.root)

    def skipped(self, latest: Path | None) -> list[Path]:
        return skipped_checkpoints(self.root, latest)

    def save(self, step: int, *, model_state: dict, model_config, tokenizer, trainer_state: dict, config,
             is_best: bool) -> Path:
        """Publish step_NNNNNN atomically, then move `best` and prune (rank 0 only)."""

        def write(tmp: Path) -> None:
            write_model_dir(model_state, model_config, tokenizer, tmp)
            save_state(trainer_state, tmp)
            config.save(tmp / "config.yaml")

        from safetensors import SafetensorError

        previous = self.latest()
        target = self.root / step_dir_name(step)
        try:
            path = write_checkpoint(self.root, step, write)
        except (OSError, SafetensorError) as e:
            try:
                recover(self.root)  # drop the partial .tmp dir; put back a re-saved step's old copy
            except OSError:
                pass
            intact = f"{previous.name} is intact" if previous is not None else "there is no earlier checkpoint"
            raise CheckpointSaveError(
                f"checkpoint save failed: {_reason(e)} at {target}; {intact}; free space (a save needs room for one more "
                f"checkpoint: old ones are pruned only after the new one is published) and --resume"
            ) from None
        try:
            if self.keep_best and is_best:
                set_best(self.root, path)
            prune(self.root, self.keep_last)
        except OSError as e:
            raise CheckpointSaveError(
                f"{path} was saved, but moving `best` or pruning old checkpoints failed: {_reason(e)}; free space and "
                f"--resume (it continues from {path.name})"
            ) from None
        return path

    @staticmethod
    def load_state(path: Path) -> dict:
        """The trainer state of checkpoint `path`; ConfigError (with the fix) if it cannot be used."""
        if not (path / STATE_FILE).is_file() and (path / LEGACY_STATE_FILE).is_file():
            raise ConfigError(
                f"{path} holds {LEGACY_STATE_FILE}, the pickled trainer state of an earlier textbooks, which this version "
                f"does not unpickle (loading a pickle can run code); resume it with the version that wrote it, or start a "
                f"new run from its weights with model.init_from={path} (fresh optimizer and schedule)"
            )
        try:
            state = load_state(path)
            check_trainer_state(state, path)
            return state
        except StateError as e:
            raise ConfigError(
                f"{e}; the checkpoint is damaged: move {path} away to resume from the one before it"
            ) from None


def _reason(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror + (f" ({e.filename})" if e.filename else "")
    return str(e) or type(e).__name__


__all__ = [
    "Checkpointer", "CheckpointSaveError", "check_trainer_state", "latest_after_recovery", "skipped_checkpoints",
    "STATE_FILE", "TENSOR_FILE", "BEST", "recover", "write_checkpoint", "list_checkpoints",
    "latest_checkpoint", "best_checkpoint", "set_best", "prune", "step_dir_name", "write_model_dir",
]
