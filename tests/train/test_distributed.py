"""Data parallelism through torchrun on CPU (gloo): 2 ranks == 1 process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _losses(run_dir: Path) -> list[float]:
    return [m["loss"] for m in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in m]


def _run(make_config, tmp_path, name: str, nproc: int, micro: int, *extra: str) -> Path:
    run_dir = tmp_path / name
    cfg = make_config("schedule.decay_steps=6", "trainer.global_batch_size=8", "trainer.grad_accum_steps=null",
                      f"trainer.micro_batch_size={micro}", "trainer.checkpoint_every=3", "trainer.val_every=3",
                      "trainer.val_batches=2", f"trainer.run_dir={run_dir}", *extra)
    path = tmp_path / f"{name}.yaml"
    cfg.save(path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*launcher, "-m", "textbooks", "train", "--config", str(path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


@pytest.mark.parametrize("parallel", ["ddp", pytest.param("fsdp", marks=pytest.mark.slow)])
def test_two_ranks_match_one_process(make_config, tmp_path, parallel):
    one = _run(make_config, tmp_path, "one", 1, 4)
    two = _run(make_config, tmp_path, "two", 2, 2, f"trainer.parallel={parallel}")
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 6
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-5, (a, b)
    # rank 0 alone wrote: one metrics file, one set of checkpoints, loadable as usual
    assert sorted(p.name for p in (two / "checkpoints").glob("step_*")) == ["step_000003", "step_000006"]
    val = lambda d: [m["val_loss"] for m in map(json.loads, (d / "metrics.jsonl").read_text().splitlines()) if "val_loss" in m]  # noqa: E731
    assert max(abs(x - y) for x, y in zip(val(one), val(two))) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_ranks_resume_from_checkpoint(make_config, tmp_path, parallel):
    """A 2-rank run resumed by torchrun continues from its (consolidated) checkpoint with the same losses."""
    ref = _run(make_config, tmp_path, "ref", 2, 2, f"trainer.parallel={parallel}")
    part = _run(make_config, tmp_path, "part", 2, 2, "schedule.stop_step=3", f"trainer.parallel={parallel}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "textbooks", "train",
           "--config", str(tmp_path / "part.yaml"), "--set", "schedule.stop_step=6", "--resume"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _losses(part) == _losses(ref)
