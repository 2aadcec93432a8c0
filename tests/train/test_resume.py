"""Exact resume: SIGKILL at an arbitrary moment + `--resume` logs the same losses, bit for bit (CPU fp32,
deterministic algorithms, 1 thread), as a run that never stopped, also when the kill falls inside a log
window; Ctrl-C checkpoints and exits cleanly; a resumed config must match the checkpoint's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STEPS = 40


def _write_config(make_config, run_dir: Path, path: Path, *extra: str) -> Path:
    # Dropout on: resuming must also restore the RNG stream that draws the dropout masks.
    cfg = make_config(
        "model.overrides={n_layer: 2, d_model: 64, n_head: 2, d_mlp: 128, rotary_dim: 16, max_seq_len: 64, "
        "attn_dropout: 0.1, resid_dropout: 0.1}",
        f"schedule.decay_steps={STEPS + 10}", f"schedule.stop_step={STEPS}", "trainer.grad_accum_steps=2",
        "trainer.checkpoint_every=3", "trainer.keep_last=2", f"trainer.run_dir={run_dir}", *extra,
    )
    cfg.save(path)
    return path


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "textbooks", "train", "--config", str(config), *args]


def _losses(run_dir: Path) -> dict[int, tuple[float, float]]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        m = json.loads(line)
        if "loss" in m:
            assert m["step"] not in out, f"step {m['step']} logged twice"
            out[m["step"]] = (m["loss"], m["grad_norm"])
    return out


def test_sigkill_then_resume_is_bitwise_identical(make_config, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "killed"
    ref_cfg = _write_config(make_config, ref_dir, tmp_path / "ref.yaml")
    kill_cfg = _write_config(make_config, kill_dir, tmp_path / "kill.yaml")
    subprocess.run(_cli(ref_cfg), env=env, check=True, capture_output=True, timeout=300)

    proc = subprocess.Popen(_cli(kill_cfg), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (kill_dir / "checkpoints" / "step_000006").exists():  # mid-run: the 2nd checkpoint exists
        assert proc.poll() is None, "the run ended before it could be killed; make it longer"
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    logged = _losses(kill_dir)
    assert proc.returncode == -signal.SIGKILL and max(logged) < STEPS, "killed too late to test anything"

    subprocess.run(_cli(kill_cfg, "--resume"), env=env, check=True, capture_output=True, timeout=300)
    ref, resumed = _losses(ref_dir), _losses(kill_dir)
    assert sorted(ref) == sorted(resumed) == list(range(1, STEPS + 1))
    assert resumed == ref  # exact float equality of loss and grad norm at every step


def test_sigint_writes_a_checkpoint_and_exits(make_config, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run_dir = tmp_path / "run"
    cfg = _write_config(make_config, run_dir, tmp_path / "c.yaml", "schedule.stop_step=100000",
                        "schedule.decay_steps=100000", "trainer.checkpoint_every=100000")
    proc = subprocess.Popen(_cli(cfg), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run_dir / "metrics.jsonl").exists() or len(_losses(run_dir)) < 3:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    steps = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*"))
    assert len(steps) == 1 and "interrupted at step" in err and "--resume" in err
    assert int(steps[0].removeprefix("step_")) == max(_losses(run_dir))  # checkpoint of the last finished step


# The CLI, with the process dying (os._exit: no cleanup, like kill -9) right after a given optimizer step.
_DIES_AFTER_STEP = """
import os, sys
from textbooks.train import trainer
train_step = trainer.Trainer.train_step
def dying(self):
    out = train_step(self)
    if self.step == int(os.environ["DIE_AFTER_STEP"]):
        os._exit(137)
    return out
trainer.Trainer.train_step = dying
from textbooks.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _records(run_dir: Path) -> dict[int, dict]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        m = json.loads(line)
        if "loss" in m:
            assert m["step"] not in out, f"step {m['step']} logged twice"
            out[m["step"]] = {k: m[k] for k in ("loss", "grad_norm", "lr", "tokens_seen")}
    return out


def test_killed_off_the_log_grid_then_resumed_logs_the_same_averages(make_config, tmp_path):
    """log_every=4, a checkpoint every 3 steps; the process dies right after step 7, so it resumes from step 6,
    whose log window (steps 5 and 6) is open. The line at step 8 must still average steps 5-8."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    steps = 12
    extra = ("logging.log_every=4", f"schedule.decay_steps={steps}", f"schedule.stop_step={steps}", "trainer.grad_accum_steps=1")
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "killed"
    ref_cfg = _write_config(make_config, ref_dir, tmp_path / "ref.yaml", *extra)
    kill_cfg = _write_config(make_config, kill_dir, tmp_path / "kill.yaml", *extra)
    from textbooks.train import train

    train(ref_cfg)  # the uninterrupted run, in this process (same settings: fp32, deterministic, 1 thread)

    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_STEP, "train", "--config", str(kill_cfg)],
                          env={**env, "DIE_AFTER_STEP": "7"}, capture_output=True, text=True, timeout=300)
    assert died.returncode == 137, died.stderr[-2000:]
    assert [p.name for p in sorted((kill_dir / "checkpoints").glob("step_*"))] == ["step_000003", "step_000006"]
    assert sorted(_records(kill_dir)) == [4]  # step 8 was never reached

    subprocess.run(_cli(kill_cfg, "--resume"), env=env, check=True, capture_output=True, timeout=300)
    ref, resumed = _records(ref_dir), _records(kill_dir)
    assert sorted(ref) == [4, 8, 12]
    assert resumed == ref  # exact: the mean over steps 5-8 includes the two restored from the checkpoint


def _history(run_dir: Path) -> list[dict]:
    from textbooks.train.resume import read_history

    return read_history(run_dir)


def test_resume_refuses_a_changed_lr_unless_allowed_and_records_it(make_config, tmp_path):
    from textbooks.cli import main
    from textbooks.train import Trainer
    from textbooks.train.config import ConfigError, load_config
    from textbooks.train.optim import lr_at

    first = make_config("schedule.stop_step=2")
    Trainer(first).fit()
    run_dir = Path(first.trainer.run_dir)
    changed = make_config("optimizer.lr=1e-3")  # and stop_step back to decay_steps: allowed on resume
    with pytest.raises(ConfigError, match=r"differs from the checkpoint's .*step_000002/config.yaml.* optimizer.lr: 0.003 -> 0.001"
                                          r".*--allow-config-change optimizer.lr"):
        Trainer(changed, resume=True).fit()
    assert load_config(run_dir / "config.yaml") == first  # a refused launch writes nothing
    assert [h["event"] for h in _history(run_dir)] == ["start"]

    yaml = tmp_path / "changed.yaml"
    changed.save(yaml)
    assert main(["train", "--config", str(yaml), "--resume", "--allow-config-change", "optimizer.lr"]) == 0
    start, resume = _history(run_dir)
    assert resume["event"] == "resume" and resume["step"] == 2 and resume["checkpoint"].endswith("step_000002")
    assert {c["key"]: (c["from"], c["to"], c["allowed_by"]) for c in resume["changes"]} == {
        "optimizer.lr": (0.003, 0.001, "--allow-config-change optimizer.lr"),
        "schedule.stop_step": (2, None, "may change on resume"),
    }
    assert load_config(run_dir / "config.yaml") == changed
    logged = {m["step"]: m["lr"] for m in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "lr" in m}
    assert logged[3] == lr_at(3, 1e-3, changed.schedule)


def test_resume_allows_another_layout_of_the_same_global_batch_only(make_config):
    from textbooks.train import Trainer
    from textbooks.train.config import ConfigError

    Trainer(make_config("schedule.stop_step=2")).fit()  # 4 sequences per step: micro 4 x accum 1
    same = Trainer(make_config("trainer.micro_batch_size=2", "trainer.grad_accum_steps=2", "logging.log_every=5"), resume=True)
    same.setup()
    assert {c["key"]: c["allowed_by"] for c in same.config_changes} == {
        "trainer.micro_batch_size": "batch layout (same global batch)",
        "trainer.grad_accum_steps": "batch layout (same global batch)",
        "logging.log_every": "may change on resume",
        "schedule.stop_step": "may change on resume",
    }
    with pytest.raises(ConfigError, match=r"trainer.grad_accum_steps: 1 -> 2.*global_batch_size \(resolved.*\): 4 -> 8.*"
                                          r"set trainer.global_batch_size=4"):
        Trainer(make_config("trainer.grad_accum_steps=2"), resume=True).setup()
    with pytest.raises(ConfigError, match=r"--allow-config-change optimizer.lrr: no such setting; did you mean optimizer.lr\?"):
        Trainer(make_config(), resume=True, allow_config_change=["optimizer.lrr"]).setup()
    with pytest.raises(ConfigError, match="only applies with --resume"):
        Trainer(make_config(), allow_config_change=["optimizer.lr"]).setup()
