"""One launch per run_dir: a second one is refused while the first runs, a killed holder never blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textbooks.train.config import ConfigError
from textbooks.train.lock import LOCK_FILE, RunDirLock

REPO = Path(__file__).resolve().parents[2]
_HOLD = """
import sys, time
from textbooks.train.lock import RunDirLock
RunDirLock.acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def _holder(run_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)], env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_launch_is_refused_and_a_killed_holder_does_not_block(make_config):
    from textbooks.train import Trainer

    cfg = make_config("schedule.stop_step=2")
    run_dir = Path(cfg.trainer.run_dir)
    holder = _holder(run_dir)
    try:
        with pytest.raises(ConfigError, match=rf"run_dir is in use by pid {holder.pid} \(host .+\)"):
            Trainer(cfg).fit()
        with pytest.raises(ConfigError, match="run_dir is in use by pid"):
            Trainer(cfg, resume=True).fit()
        assert not (run_dir / "metrics.jsonl").exists() and not (run_dir / "checkpoints").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run_dir / LOCK_FILE).exists()  # the stale file stays; flock died with its process
    assert Trainer(cfg).fit()["steps"] == 2
    RunDirLock.acquire(run_dir).release()  # fit released it


def test_cli_reports_a_busy_run_dir_without_a_traceback(make_config, tmp_path, capsys):
    from textbooks.cli import main

    cfg = make_config()
    yaml = tmp_path / "c.yaml"
    cfg.save(yaml)
    holder = _holder(Path(cfg.trainer.run_dir))
    try:
        t0 = time.time()
        assert main(["train", "--config", str(yaml)]) == 2
        assert time.time() - t0 < 60  # refused, not waited for
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"textbooks train: error: run_dir is in use by pid {holder.pid}" in err and "Traceback" not in err
