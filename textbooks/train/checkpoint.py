"""Checkpoint directories: atomic writes, listing, keep-last-K pruning, and the `best` link.

Layout (one directory per saved step; every one is an HF model dir that transformers loads):

    run_dir/checkpoints/step_000123/
        config.json, model.safetensors            Phi.save_pretrained (PhiForCausalLM-compatible)
        generation_config.json                     bos/eos ids (textbooks.model.hf.save_model_dir)
        tokenizer.json, tokenizer_config.json, special_tokens_map.json
        trainer_state.pt                           optimizer, schedule, scaler, RNG (per rank), data position, step
        config.yaml                                the resolved training config
    run_dir/checkpoints/best -> step_000100        (with trainer.keep_best_by_val) a relative symlink

Atomicity: everything is written into `.tmp-step_000123-<pid>/`, each file fsync'd, then the directory is
renamed to `step_000123` (rename is atomic on POSIX) and the parent fsync'd. A process killed at any moment
leaves either a complete `step_*` dir or a `.tmp-*` leftover that listing ignores and the next writer
removes, so `--resume` always finds a complete checkpoint.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable

STEP_RE = re.compile(r"^step_(\d+)$")
STATE_FILE = "trainer_state.pt"
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


def write_checkpoint(root: str | Path, step: int, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` to fill a temporary dir, then atomically publish it as root/step_NNNNNN."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(root)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    write(tmp)
    _fsync_tree(tmp)
    if final.exists():  # re-saving a step (e.g. Ctrl-C right after a periodic save): replace it
        old = root / f".tmp-old-{final.name}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(root)
    return final


def remove_stale_temps(root: str | Path) -> None:
    for p in Path(root).glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (step, path), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = STEP_RE.match(p.name)
        if m and not p.is_symlink() and (p / STATE_FILE).is_file():
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
    found = list_checkpoints(root)
    best = best_checkpoint(root)
    removed = []
    for _, path in found[: max(0, len(found) - keep_last)]:
        if best is not None and path.resolve() == best:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
