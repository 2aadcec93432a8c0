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
removes `.tmp-*` / `.trash-*` leftovers. tests/train/test_checkpoint.py kills a save at every filesystem
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

    def save(self, step: int, *, model_state: dict, model_config, tokenizer, trainer_state: dict, config,
             is_best: bool) -> Path:
        """Publish step_NNNNNN atomically, then move `best` and prune (rank 0 only)."""

        def write(tmp: Path) -> None:
            write_model_dir(model_state, model_config, tokenizer, tmp)
            save_state(trainer_state, tmp)
            config.save(tmp / "config.yaml")

        path = write_checkpoint(self.root, step, write)
        if self.keep_best and is_best:
            set_best(self.root, path)
        prune(self.root, self.keep_last)
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
            return load_state(path)
        except StateError as e:
            raise ConfigError(
                f"{e}; the checkpoint is damaged: move {path} away to resume from the one before it"
            ) from None


__all__ = [
    "Checkpointer", "STATE_FILE", "TENSOR_FILE", "BEST", "recover", "write_checkpoint", "list_checkpoints",
    "latest_checkpoint", "best_checkpoint", "set_best", "prune", "step_dir_name", "write_model_dir",
]
