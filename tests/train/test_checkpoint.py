"""Checkpoints: a save killed at any point leaves the previous or the new checkpoint loadable; the trainer
state round-trips through JSON + safetensors without pickle."""

from __future__ import annotations

import math
import os
import shutil
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from textbooks.train import Trainer
from textbooks.train import checkpoint as ckpt
from textbooks.train.resume import checkpoint_config
from textbooks.train.state import load_state, save_state

KILLED = 77
# Every call by which a save changes what is on disk, or makes it durable. Killing the process just before
# the k-th of them, for every k, covers every state the disk can be left in by a crash during the save.
POINTS = ("mkdir", "rename", "replace", "fsync", "symlink", "unlink", "rmdir")


def _save_killed_at(trainer: Trainer, k: int, val_loss: float | None) -> bool:
    """Run trainer.checkpoint(val_loss) in a forked child that os._exit()s just before its k-th filesystem
    call (as kill -9 would: no cleanup, no atexit). True if the save finished first (k past its last call)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            count = [0]

            def dying(fn):
                def call(*args, **kwargs):
                    count[0] += 1
                    if count[0] == k:
                        os._exit(KILLED)
                    # A killed process loses nothing the kernel already has, so fsync's durability is not what
                    # is tested here (it guards against power loss): each fsync is a kill point, not a real sync.
                    return None if fn is real_fsync else fn(*args, **kwargs)

                return call

            real_fsync = os.fsync

            for name in POINTS:
                setattr(os, name, dying(getattr(os, name)))
            trainer.checkpoint(val_loss)
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, KILLED), f"the save itself failed in the child (exit code {code}; traceback above)"
    return code == 0


def _restore(snapshot: Path, root: Path) -> None:
    shutil.rmtree(root)
    shutil.copytree(snapshot, root, symlinks=True)


def _loadable_step(cfg, expected: dict[int, dict[str, torch.Tensor]]) -> int:
    """Read what `--resume` reads, through the same calls (recovery, listing, state, config, weights); check the
    weights are those of that step. Returns the step found."""
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    ckpt.recover(root)
    path = ckpt.latest_checkpoint(root)
    assert path is not None, "no loadable checkpoint left"
    state = ckpt.Checkpointer.load_state(path)
    assert checkpoint_config(path) == cfg
    weights = load_file(path / "model.safetensors")
    assert state["step"] in expected, f"found step {state['step']}, expected one of {sorted(expected)}"
    assert weights.keys() == expected[state["step"]].keys()
    for name, value in weights.items():
        assert torch.equal(value, expected[state["step"]][name]), name
    best = root / ckpt.BEST
    if best.is_symlink():  # `best`, where present, is a complete checkpoint
        assert ckpt.best_checkpoint(root) in [p for _, p in ckpt.list_checkpoints(root)]
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")], "recovery leaves no temporaries"
    return state["step"]


def _resume(cfg) -> int:
    resumed = Trainer(cfg, resume=True)
    resumed.setup()
    return resumed.step


def test_save_killed_at_every_point_leaves_previous_or_new_checkpoint(make_config, tmp_path):
    cfg = make_config("schedule.decay_steps=10", "trainer.keep_last=1", "trainer.keep_best_by_val=true",
                      "trainer.val_every=100")
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    trainer = Trainer(cfg)
    trainer.setup()
    trainer.train_step()
    trainer.train_step()
    trainer.checkpoint(val_loss=5.0)  # step_000002, the best so far
    weights = {2: load_file(root / "step_000002" / "model.safetensors")}
    trainer.train_step()
    weights[3] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    # 1. a new step: write step_000003, move `best` to it, prune step_000002 (keep_last=1)
    snapshot = tmp_path / "snapshot-1"
    shutil.copytree(root, snapshot, symlinks=True)
    seen, k = set(), 0
    while True:
        k += 1
        _restore(snapshot, root)
        finished = _save_killed_at(trainer, k, val_loss=4.0)
        step = _loadable_step(cfg, weights)
        if step not in seen:  # the first time each is left: the trainer itself resumes from it
            assert _resume(cfg) == step, f"killed at point {k}: the trainer does not resume from step {step}"
        seen.add(step)
        if finished:
            break
    assert seen == {2, 3} and k > 20, (seen, k)  # kills before and after the publish; many points tried
    assert [p.name for _, p in ckpt.list_checkpoints(root)] == ["step_000003"] and ckpt.best_checkpoint(root).name == "step_000003"

    # 2. re-saving a step that exists (the old code renamed it away first: a kill then lost it)
    snapshot = tmp_path / "snapshot-2"
    shutil.copytree(root, snapshot, symlinks=True)
    k = 0
    while True:
        k += 1
        _restore(snapshot, root)
        finished = _save_killed_at(trainer, k, val_loss=None)
        assert _loadable_step(cfg, {3: weights[3]}) == 3
        if finished:
            break
    assert k > 20 and _resume(cfg) == 3


def test_recover_finishes_an_interrupted_replacement(tmp_path):
    root = tmp_path / "checkpoints"

    def fake(name: str) -> Path:
        d = root / name
        d.mkdir(parents=True)
        (d / ckpt.STATE_FILE).write_text("{}")
        return d

    fake(".old-step_000004")  # died between the two renames of a re-save: this is the only copy of step 4
    fake(".tmp-step_000005-123")  # died while writing step 5
    (root / ".trash-step_000001-123").mkdir()  # died while pruning
    ckpt.recover(root)
    assert sorted(p.name for p in root.iterdir()) == ["step_000004"]
    fake(".old-step_000004")  # died after publishing the replacement: the old copy is garbage
    (root / "step_000004" / "new").write_text("")
    ckpt.recover(root)
    assert sorted(p.name for p in root.iterdir()) == ["step_000004"] and (root / "step_000004" / "new").exists()


def test_state_round_trips_every_type_the_trainer_stores(tmp_path):
    rng = np.random.default_rng(3)
    tree = {
        "python_rng": (3, tuple(range(625)), None),
        "numpy_rng": ("MT19937", np.arange(624, dtype=np.uint32), 5, 0, 0.0),
        "pcg64": rng.bit_generator.state,  # 128-bit integers
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4, 2)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.98), "params": [0], "fused": None}]},
        "view": torch.arange(10.0)[2:5],  # a view into a larger buffer
        "best": math.inf,
        "window": [1.5, 2.25],
        "__tensor__": "a key that looks like a tag",
    }
    save_state(tree, tmp_path)
    back = load_state(tmp_path)
    assert back["python_rng"] == tree["python_rng"] and back["pcg64"] == tree["pcg64"]
    assert back["numpy_rng"][0] == "MT19937" and back["numpy_rng"][1].dtype == np.uint32
    assert np.array_equal(back["numpy_rng"][1], tree["numpy_rng"][1]) and back["numpy_rng"][2:] == (5, 0, 0.0)
    opt = back["optimizer"]
    assert list(opt["state"]) == [0] and torch.equal(opt["state"][0]["exp_avg"], tree["optimizer"]["state"][0]["exp_avg"])
    assert opt["state"][0]["step"].shape == () and opt["param_groups"][0]["betas"] == (0.9, 0.98)
    assert torch.equal(back["view"], torch.tensor([2.0, 3.0, 4.0])) and back["best"] == math.inf
    assert back["window"] == [1.5, 2.25] and back["__tensor__"] == "a key that looks like a tag"
    with pytest.raises(TypeError, match="at .custom: cannot store a object"):
        save_state({"custom": object()}, tmp_path)
