"""Data parallelism through torchrun on CPU (gloo): 2 ranks == 1 process with the same global batch, the same
validation loss for the same checkpoint, and `parallel: none` refused with more than one rank."""

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
                      "trainer.val_tokens=256", f"trainer.run_dir={run_dir}", *extra)
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


def _torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_parallel_none_is_refused_with_two_ranks(make_config, tmp_path):
    """Two unsynchronised copies would train and only rank 0's be saved: refuse before anything starts."""
    run_dir = tmp_path / "none"
    path = tmp_path / "none.yaml"
    make_config("trainer.parallel=none", f"trainer.run_dir={run_dir}").save(path)
    done = _torchrun(2, "-m", "textbooks", "train", "--config", str(path))
    assert done.returncode != 0
    # a usage error, printed by rank 0 alone (torchrun then prints its own ChildFailedError traceback)
    assert done.stderr.count("textbooks train: error: trainer.parallel=none but this launch has 2 processes") == 1, \
        done.stderr[-3000:]
    assert "set trainer.parallel=ddp" in done.stderr and "ConfigError" not in done.stderr
    assert not run_dir.exists()


# Evaluates the latest checkpoint of a run under the launch's world size and micro-batch (rank 0 prints it).
_EVALUATE = """
import json, sys
from textbooks.train import Trainer, parallel
from textbooks.train.config import load_config

trainer = Trainer(load_config(sys.argv[1]), resume=True)
trainer.setup()
loss = trainer.evaluate()
if trainer.info.is_main:
    print(json.dumps({"step": trainer.step, "val_loss": loss, "windows": len(trainer.val_set)}))
parallel.shutdown_distributed()
"""


@pytest.mark.parametrize("parallel", ["ddp", pytest.param("fsdp", marks=pytest.mark.slow)])
def test_validation_loss_of_a_checkpoint_is_the_same_on_one_and_two_ranks(make_config, tmp_path, parallel):
    """The validation set is fixed by tokens: 5 windows whatever the layout (2 ranks get 3 and 2 + padding),
    so the loss, and the choice of `best`, are exactly the same on 1 rank x micro 4 and 2 ranks x micro 1."""
    from textbooks.train import Trainer

    def config(*extra):
        return make_config("schedule.decay_steps=4", "trainer.val_every=4", "trainer.val_tokens=160",  # 5 windows of 32
                           "trainer.global_batch_size=4", "trainer.grad_accum_steps=null", *extra)

    Trainer(config()).fit()
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    (logged,) = [m["val_loss"] for m in metrics if "val_loss" in m]
    for micro in (4, 1):  # one rank, two micro-batch sizes, from the checkpoint
        resumed = Trainer(config(f"trainer.micro_batch_size={micro}"), resume=True)
        resumed.setup()
        assert len(resumed.val_set) == 5 and resumed.evaluate() == logged
        resumed.close()  # let the torchrun launch below take the run_dir

    path = tmp_path / "two.yaml"
    config("trainer.micro_batch_size=1", f"trainer.parallel={parallel}").save(path)  # accumulation 4 / (1 x 2) = 2
    script = tmp_path / "evaluate.py"
    script.write_text(_EVALUATE)
    done = _torchrun(2, str(script), str(path))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"step": 4, "val_loss": logged, "windows": 5}  # exact float equality


def test_under_torchrun_only_rank_0_prints_an_error_all_ranks_share(make_config, tmp_path, capsys, monkeypatch):
    import torch

    from textbooks.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  run_dri: x\n")
    monkeypatch.setenv("RANK", "1")
    assert main(["train", "--config", str(bad)]) == 2
    assert capsys.readouterr().err == ""  # rank 0 prints it
    # an error of this rank alone (its GPU is missing) is printed by the rank itself
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    yaml = tmp_path / "cuda.yaml"
    make_config("trainer.device=cuda").save(yaml)
    assert main(["train", "--config", str(yaml)]) == 2
    assert "error: rank 1 (LOCAL_RANK=1): trainer.device='cuda:1' but CUDA is not available" in capsys.readouterr().err
