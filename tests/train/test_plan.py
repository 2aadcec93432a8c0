"""`textbooks train --dry-run`: the plan and its cost, checked against numbers computed here, and nothing trained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from textbooks.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def _field(out: str, name: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(name + ":")]
    return line.split(":", 1)[1].strip()


def test_dry_run_prints_batch_tokens_flops_and_hours(make_config, tmp_path, capsys):
    from textbooks.model import Phi
    from textbooks.train.inputs import find_tokenizer, open_datasets, resolve_model_config

    cfg = make_config("trainer.global_batch_size=16", "trainer.grad_accum_steps=null", "trainer.micro_batch_size=2")
    yaml = tmp_path / "c.yaml"
    cfg.save(yaml)
    code = main(["train", "--config", str(yaml), "--dry-run", "--world-size", "2", "--mfu", "0.5", "--peak-flops", "1e12"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert not Path(cfg.trainer.run_dir).exists()  # nothing trained, nothing written

    # N counted from the real model's parameters (not from the formula the plan uses)
    train_sets, val_sets = open_datasets(cfg.data, validate=False)
    model = Phi(resolve_model_config(cfg, find_tokenizer(cfg, train_sets, val_sets)))
    n = sum(p.numel() for name, p in model.named_parameters() if "embed_tokens" not in name)
    tokens = 20 * 16 * 32  # decay_steps (= stop) x global batch x seq_len
    assert "resolved config:" in out and "  micro_batch_size: 2" in out and f"  run_dir: {cfg.trainer.run_dir}" in out
    assert _field(out, "batch").startswith("2 micro-batch x 4 accumulation x 2 ranks = 16 sequences of 32 tokens")
    assert _field(out, "tokens/step") == f"{16 * 32:,}"
    assert _field(out, "steps").startswith("0 -> 20 = 20")
    assert _field(out, "total tokens").startswith(f"{tokens:,}")
    assert f"6 x N x tokens = 6 x {n:,} x {tokens:,} = {6 * n * tokens:.3e} FLOPs" in _field(out, "compute")
    hours = 6 * n * tokens / (2 * 1e12 * 0.5) / 3600
    assert _field(out, "time").startswith(f"{hours:,.1f} hours = 6ND / (2 ranks x 1 TFLOP/s [--peak-flops] x MFU 50%)")
    assert "nothing was trained" in out and "problem:" not in out


def test_dry_run_of_phi1_base_on_8_gpus(capsys):
    """The shipped recipe: 1024 x 2048 tokens per step for 24,000 steps, ~50B tokens (paper §2.3: "about 50B
    tokens"); the data is not on this machine, which is reported (exit 2) without losing the estimate."""
    code = main(["train", "--config", str(CONFIGS / "phi-1-base.yaml"), "--dry-run", "--world-size", "8", "--gpu", "H100"])
    out = capsys.readouterr().out
    n = 1_418_270_720 - 51200 * 2048  # phi-1's parameters without the token embedding
    tokens = 24_000 * 1024 * 2048
    assert _field(out, "batch").startswith("8 micro-batch x 16 accumulation x 8 ranks = 1,024 sequences of 2,048 tokens")
    assert _field(out, "total tokens") == f"{tokens:,} (50.3G)"
    assert f"1,418,270,720 parameters, N = {n:,}" in _field(out, "model")
    hours = 6 * n * tokens / (8 * 989e12 * 0.4) / 3600
    assert re.match(rf"{hours:,.1f} hours = 6ND / \(8 ranks x 989 TFLOP/s \[--gpu H100", _field(out, "time"))
    assert code == 2 and "problem:      inputs: data.datasets[0].path=" in out


def test_dry_run_refuses_what_a_launch_would(make_config, tmp_path, capsys):
    from textbooks.train import Trainer

    yaml = tmp_path / "none.yaml"
    make_config("trainer.parallel=none").save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run", "--world-size", "2"]) == 2
    assert "trainer.parallel=none but this launch has 2 processes" in capsys.readouterr().err

    Trainer(make_config("schedule.stop_step=2")).fit()
    changed = tmp_path / "changed.yaml"
    make_config("optimizer.lr=1e-3").save(changed)
    assert main(["train", "--config", str(changed), "--dry-run", "--resume"]) == 2
    out = capsys.readouterr().out
    assert "problem:      resume: --resume: this config differs" in out and "optimizer.lr: 0.003 -> 0.001" in out
    assert main(["train", "--config", str(changed), "--dry-run", "--resume", "--allow-config-change", "optimizer.lr"]) == 0
    out = capsys.readouterr().out
    assert _field(out, "steps").startswith("2 -> 20 = 18 (resuming ")
    with pytest.raises(SystemExit):
        main(["train", "--config", str(changed), "--dry-run", "--mfu", "abc"])


def test_dry_run_refuses_bad_flags_and_names_the_flag(make_config, tmp_path, capsys, monkeypatch):
    yaml = tmp_path / "c.yaml"
    make_config().save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run", "--peak-flops", "-5"]) == 2
    assert "--peak-flops -5.0: must be > 0" in capsys.readouterr().err
    assert main(["train", "--config", str(yaml), "--dry-run", "--allow-config-change", "optimizer.lr"]) == 2
    assert "--allow-config-change only applies with --resume" in capsys.readouterr().err
    none = tmp_path / "none.yaml"
    make_config("trainer.parallel=none").save(none)
    assert main(["train", "--config", str(none), "--dry-run", "--world-size", "2"]) == 2
    err = capsys.readouterr().err
    assert "(--world-size 2)" in err and "WORLD_SIZE=2" not in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    assert main(["train", "--config", str(yaml), "--dry-run"]) == 2
    assert "WORLD_SIZE=2 is set but RANK is not" in capsys.readouterr().err


def test_dry_run_and_launch_print_the_validation_size(make_config, tmp_path, capsys):
    from textbooks.train import Trainer

    cfg = make_config("trainer.val_every=2", "trainer.val_tokens=100000000", "schedule.stop_step=2")
    yaml = tmp_path / "c.yaml"
    cfg.save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run"]) == 0
    out = capsys.readouterr().out
    line = re.search(r"^val: ([\d,]+) windows \(([\d,]+) tokens; val_tokens asks for 100,000,000\)$", out, re.M)
    assert line, out
    windows = int(line.group(1).replace(",", ""))
    assert int(line.group(2).replace(",", "")) == windows * 32
    assert "fewer than trainer.val_tokens=100,000,000 asks for" in out
    Trainer(cfg).fit()
    err = capsys.readouterr().err
    assert line.group(0) in err and "warning: the validation split of" in err

    Trainer(make_config("trainer.val_every=2", "trainer.val_tokens=100", "schedule.stop_step=2",
                        f"trainer.run_dir={tmp_path / 'r2'}")).fit()
    err = capsys.readouterr().err
    assert "val: 3 windows (96 tokens; val_tokens asks for 100)" in err and "not a multiple of data.seq_len=32" in err


def test_dry_run_resolves_the_checkpoint_as_the_launch_would(make_config, tmp_path, capsys):
    """A crash between the two renames of a re-save leaves `.old-step_N` and no step_N: the launch's recover()
    resumes from it, so the dry run (which changes nothing) must report it too; a refused resume is not shown as
    resuming."""
    import shutil

    from textbooks.train import Trainer

    cfg = make_config("schedule.stop_step=4", "trainer.checkpoint_every=2")
    Trainer(cfg).fit()
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    shutil.move(root / "step_000004", root / ".old-step_000004")
    yaml = tmp_path / "c.yaml"
    make_config().save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run", "--resume"]) == 0
    out = capsys.readouterr().out
    assert _field(out, "steps").startswith("4 -> 20 = 16 (resuming ") and ".old-step_000004" in _field(out, "steps")
    assert (root / ".old-step_000004").exists()  # read-only

    changed = tmp_path / "changed.yaml"
    make_config("optimizer.lr=1e-3").save(changed)
    assert main(["train", "--config", str(changed), "--dry-run", "--resume"]) == 2
    out = capsys.readouterr().out
    assert "(resuming" not in _field(out, "steps") and "refused" in _field(out, "steps")


def test_dry_run_of_a_finished_run_and_of_a_stop_before_the_checkpoint(make_config, tmp_path, capsys):
    from textbooks.train import Trainer

    Trainer(make_config("schedule.stop_step=4")).fit()
    yaml = tmp_path / "c.yaml"
    make_config("schedule.stop_step=4").save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run", "--resume"]) == 0
    assert "already at step 4 = stop_step; nothing to do" in capsys.readouterr().out
    make_config("schedule.stop_step=2").save(yaml)
    assert main(["train", "--config", str(yaml), "--dry-run", "--resume"]) == 2
    assert "schedule.stop_step=2 is before the checkpoint's step 4" in capsys.readouterr().out
