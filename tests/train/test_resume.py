"""Exact resume: SIGKILL at an arbitrary moment + `--resume` logs the same losses, bit for bit (CPU fp32,
deterministic algorithms, 1 thread), as a run that never stopped; Ctrl-C checkpoints and exits cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
