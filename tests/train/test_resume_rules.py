"""What --resume refuses, and how: keys that can never change, a finished run, a stop before the checkpoint,
the refusal message, a changed log_every, and errors a launch shows instead of a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from textbooks.cli import main
from textbooks.train import Trainer
from textbooks.train.config import ConfigError


def _cli(cfg, tmp_path, *args: str) -> int:
    yaml = tmp_path / "launch.yaml"
    cfg.save(yaml)
    return main(["train", "--config", str(yaml), *args])


@pytest.mark.parametrize("key, value", [("data.seq_len", "16"), ("trainer.seed", "1")])
def test_data_order_keys_are_refused_even_when_allowed(make_config, tmp_path, capsys, key, value):
    Trainer(make_config("schedule.stop_step=2")).fit()
    code = _cli(make_config(f"{key}={value}"), tmp_path, "--resume", "--allow-config-change", key)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "PackedDataError" not in err
    assert f"--resume cannot change {key}" in err and "model.init_from=" in err
    # a whole section that covers it is refused as well, and naming it when it does not differ too
    with pytest.raises(ConfigError, match=f"--resume cannot change {key}"):
        Trainer(make_config(f"{key}={value}"), resume=True, allow_config_change=[key.split(".")[0]]).setup()
    with pytest.raises(ConfigError, match=f"--resume cannot change {key}"):
        Trainer(make_config(), resume=True, allow_config_change=[key]).setup()


def test_changed_datasets_are_refused_but_moved_data_resumes(make_config, packed_dir, tmp_path):
    Trainer(make_config("schedule.stop_step=2")).fit()
    with pytest.raises(ConfigError, match="--resume cannot change data.datasets"):
        Trainer(make_config(f"data.datasets=[{{path: {packed_dir}, weight: 1}}, {{path: {packed_dir}, weight: 1}}]"),
                resume=True, allow_config_change=["data"]).setup()
    moved = tmp_path / "moved"
    shutil.copytree(packed_dir, moved)
    t = Trainer(make_config(f"data.datasets=[{moved}]", "schedule.stop_step=3"), resume=True)
    assert t.fit()["steps"] == 3
    assert any(c["key"] == "data.datasets" for c in t.config_changes)


def test_packed_data_changed_on_disk_is_a_config_error(make_config, packed_dir, tmp_path):
    """Same config, other data under the same path: the loader's check becomes a clean error."""
    moved = tmp_path / "data"
    shutil.copytree(packed_dir, moved)
    Trainer(make_config(f"data.datasets=[{moved}]", "schedule.stop_step=2")).fit()
    state = Path(make_config().trainer.run_dir) / "checkpoints" / "step_000002" / "trainer_state.json"
    tree = json.loads(state.read_text())
    tree["state"]["data"]["datasets"][0]["tokens"] += 1  # as if the split now held another number of tokens
    state.write_text(json.dumps(tree))
    with pytest.raises(ConfigError, match="data order cannot continue.*model.init_from="):
        Trainer(make_config(f"data.datasets=[{moved}]"), resume=True).setup()


def test_resume_of_a_finished_run_says_nothing_to_do(make_config, tmp_path, capsys):
    cfg = make_config("schedule.stop_step=3")
    Trainer(cfg).fit()
    run_dir = Path(cfg.trainer.run_dir)
    before = (run_dir / "metrics.jsonl").read_text(), (run_dir / "history.jsonl").read_text()
    assert _cli(cfg, tmp_path, "--resume") == 0
    err = capsys.readouterr().err
    assert "already at step 3 = stop_step; nothing to do" in err and "Traceback" not in err
    assert ((run_dir / "metrics.jsonl").read_text(), (run_dir / "history.jsonl").read_text()) == before


def test_resume_with_a_stop_before_the_checkpoint_is_an_error(make_config, tmp_path, capsys):
    Trainer(make_config("schedule.stop_step=4")).fit()
    assert _cli(make_config("schedule.stop_step=2"), tmp_path, "--resume") == 2
    err = capsys.readouterr().err
    assert "schedule.stop_step=2 is before the checkpoint's step 4" in err and "step 4 -> 2" not in err


def test_refusal_message_is_short_and_hints_only_what_applies(make_config):
    Trainer(make_config("schedule.stop_step=2")).fit()
    with pytest.raises(ConfigError) as refused:
        Trainer(make_config("trainer.grad_accum_steps=2", "optimizer.lr=1e-3"), resume=True).setup()
    message = str(refused.value)
    assert "optimizer.lr: 0.003 -> 0.001" in message and "trainer.grad_accum_steps: 1 -> 2" in message
    assert "number of ranks" not in message  # 1 rank before and after
    assert "set trainer.global_batch_size=4" in message
    assert "README" in message and "trainer.peak_flops" not in message  # no allow-list dump
    # global_batch_size set explicitly *and* the resolved batch changed: one flag for it, not two
    with pytest.raises(ConfigError) as refused:
        Trainer(make_config("trainer.global_batch_size=8", "trainer.grad_accum_steps=null"), resume=True).setup()
    flags = str(refused.value).split("`")[1]
    assert flags.split().count("trainer.global_batch_size") == 1, flags


def test_log_every_change_on_resume_starts_a_fresh_window(make_config):
    """log_every 3 up to step 4 (step 4's window holds step 4), then log_every 2: the line at step 6 averages
    steps 5 and 6 only."""
    Trainer(make_config("logging.log_every=3", "schedule.stop_step=4", "trainer.checkpoint_every=4")).fit()
    run_dir = Path(make_config().trainer.run_dir)
    resumed = Trainer(make_config("logging.log_every=2", "schedule.stop_step=6"), resume=True)
    resumed.setup()
    assert resumed.window.steps == 0
    losses = []
    original = resumed.window.add
    resumed.window.add = lambda loss: (losses.append(float(loss)), original(loss))[1]
    resumed.fit()
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    (line6,) = [m for m in logged if m["step"] == 6 and "loss" in m]
    assert line6["loss"] == pytest.approx(sum(losses) / 2, rel=1e-6) and len(losses) == 2
