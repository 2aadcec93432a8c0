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


# --- a save that fails (disk full) and a state of the wrong shape -----------------------------------------


def test_disk_full_during_a_save_is_a_clean_error_and_leaves_no_partial_dir(make_config, tmp_path, capsys, monkeypatch):
    import errno

    from textbooks.cli import main
    from textbooks.train import state as state_module

    cfg = make_config("schedule.stop_step=10")
    yaml = tmp_path / "c.yaml"
    cfg.save(yaml)
    real = state_module.save_state
    calls = {"n": 0}

    def full_disk(tree, directory):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint (step 10) finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device", str(Path(directory) / "trainer_state.safetensors"))
        return real(tree, directory)

    monkeypatch.setattr(ckpt, "save_state", full_disk)
    assert main(["train", "--config", str(yaml)]) == 1
    err = capsys.readouterr().err
    assert "checkpoint save failed: No space left on device" in err and "step_000010" in err, err
    assert "step_000005 is intact" in err and "--resume" in err and "Traceback" not in err
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["step_000005"]  # no .tmp-* left behind
    monkeypatch.setattr(ckpt, "save_state", real)
    assert Trainer(cfg, resume=True).fit()["steps"] == 10


def test_safetensors_error_during_a_save_is_caught_too(make_config, monkeypatch):
    from safetensors import SafetensorError

    from textbooks.train.checkpoint import CheckpointSaveError

    def fail(tree, directory):
        raise SafetensorError("Error while serializing: IoError(No space left on device)")

    monkeypatch.setattr(ckpt, "save_state", fail)
    cfg = make_config("schedule.stop_step=2")
    with pytest.raises(CheckpointSaveError, match="there is no earlier checkpoint"):
        Trainer(cfg).fit()
    assert not any((Path(cfg.trainer.run_dir) / "checkpoints").iterdir())


def _edit_state(path: Path, edit) -> None:
    import json

    f = path / "trainer_state.json"
    tree = json.loads(f.read_text())
    edit(tree)
    f.write_text(json.dumps(tree))


@pytest.mark.parametrize("name, edit, message", [
    ("no keys", lambda t: t.update(state={}), "missing step"),
    ("a list", lambda t: t.update(state=[1, 2]), "not a mapping"),
    ("no state", lambda t: t.pop("state"), "has no state"),
    ("bad window", lambda t: t["state"].update(loss_window={"losses": "abc", "seconds": 1}), "loss_window"),
    ("negative step", lambda t: t["state"].update(step=-5), "step=-5 is not a non-negative integer"),
    ("huge step", lambda t: t["state"].update(step=10**30), "but the folder is step_000004"),
    ("string step", lambda t: t["state"].update(step="4"), "step='4' is not"),
    ("other step", lambda t: t["state"].update(step=3), "step=3 but the folder is step_000004"),
    ("bad tuple", lambda t: t["state"].update(best_step={"__tuple__": 5}), "malformed"),
])
def test_trainer_state_of_the_wrong_shape_is_damage(make_config, name, edit, message):
    from textbooks.train.config import ConfigError

    cfg = make_config("schedule.stop_step=4", "trainer.checkpoint_every=2")
    Trainer(cfg).fit()
    run_dir = Path(cfg.trainer.run_dir)
    metrics = (run_dir / "metrics.jsonl").read_text()
    _edit_state(run_dir / "checkpoints" / "step_000004", edit)
    with pytest.raises(ConfigError, match=rf"{message}.*the checkpoint is damaged: move .*step_000004 away"):
        Trainer(cfg, resume=True).fit()
    assert (run_dir / "metrics.jsonl").read_text() == metrics  # nothing truncated


def test_deeply_nested_state_is_damage_not_a_recursion_error(make_config):
    from textbooks.train.config import ConfigError

    cfg = make_config("schedule.stop_step=2")
    Trainer(cfg).fit()
    f = Path(cfg.trainer.run_dir) / "checkpoints" / "step_000002" / "trainer_state.json"
    f.write_text('{"format":"textbooks.trainer_state","version":2,"state":' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(ConfigError, match="the checkpoint is damaged"):
        Trainer(cfg, resume=True).fit()


def test_a_newer_dir_without_state_is_skipped_with_a_warning_and_damaged_weights_say_move_away(make_config, capsys):
    from textbooks.train.config import ConfigError

    cfg = make_config("schedule.stop_step=4", "trainer.checkpoint_every=2")
    Trainer(cfg).fit()
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    (root / "step_000004" / "trainer_state.json").unlink()
    capsys.readouterr()
    t = Trainer(cfg, resume=True)
    t.setup()
    t.close()
    assert t.resume_from.name == "step_000002"
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "step_000004: it has no trainer_state.json" in err
    weights = root / "step_000002" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ConfigError, match=r"cannot load weights from --resume checkpoint .*step_000002.*move .*step_000002 away"):
        Trainer(cfg, resume=True).fit()
