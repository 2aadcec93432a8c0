"""The same steps on other datatrove executors: Ray (local cluster) gives the local executor's output."""

from __future__ import annotations

import importlib.util
import shutil
import signal

import pytest

from textbooks.data.pipeline import ExecutorConfig, PipelineError, RayConfig, SlurmConfig
from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb

from tests.data.test_pipeline import build, read_shards


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="the ray extra is not installed (pip install 'textbooks[ray]')")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ray's own placement_group arguments (datatrove's use)
def test_ray_local_cluster_matches_local_executor(tmp_path):
    import ray

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(9):
        body = "x = 1\n" if i % 3 == 0 else f"def f{i}(a, b):\n    '''Add.'''\n    return a + b + {i}\n"
        (corpus / f"m{i}.py").write_text(body)
    local = execute_verb(VerbRun("filter", [str(corpus)], tmp_path / "local", executor=ExecutorConfig(workers=1, tasks=3)), build)
    # ray.init installs its own SIGINT/SIGTERM handlers in this (pytest's) process and ray.shutdown leaves
    # them: restore ours, or a later test's SIGTERM reaches ray's handler instead of the one it tests.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # a local one-node cluster
    try:
        on_ray = execute_verb(VerbRun("filter", [str(corpus)], tmp_path / "ray",
                                      executor=ExecutorConfig(kind="ray", workers=2, tasks=3, ray=RayConfig())), build)
    finally:
        ray.shutdown()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert read_shards(tmp_path / "ray" / "output") == read_shards(tmp_path / "local" / "output")
    assert [s.get("kept") for s in on_ray["steps"]] == [s.get("kept") for s in local["steps"]]
    assert on_ray["executor"] == "ray"


def test_slurm_needs_a_partition(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.py").write_text("def f(a):\n    return a\n")
    run = VerbRun("filter", [str(corpus)], tmp_path / "out", executor=ExecutorConfig(kind="slurm", slurm=SlurmConfig()))
    with pytest.raises(PipelineError, match="partition"):
        execute_verb(run, build)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    if shutil.which("sbatch") is None:
        run = VerbRun("filter", [str(corpus)], tmp_path / "out",
                      executor=ExecutorConfig(kind="slurm", slurm=SlurmConfig(partition="cpu")))
        with pytest.raises(PipelineError, match="sbatch"):
            execute_verb(run, build)
        assert not (tmp_path / "out").exists()


def test_the_guards_signal_handlers_survive_ray_init(monkeypatch):
    """ray.init installs its own SIGINT/SIGTERM handlers in the driver; ours (Ctrl-C within a second, the resume
    hint) must be back afterwards. A stand-in `ray` module whose init replaces both handlers, as ray's does."""
    import sys
    import types

    from textbooks import guard
    from textbooks.data.pipeline import _ray_init

    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: False
    fake.init = lambda **kwargs: [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)]
    monkeypatch.setitem(sys.modules, "ray", fake)
    previous = guard.install_signal_handlers()
    try:
        ours = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        _ray_init(RayConfig())
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == ours
    finally:
        guard.restore_signal_handlers(previous)
