"""The hostile suite (tests/eval/hostile_suite.py) with the harness as root and as an ordinary user, with 1
and 2 workers. Every sample must get its expected verdict (so a probe that disturbed a neighbour fails the
test), and after each run no process, scratch directory, /dev/shm entry or cgroup may be left behind."""

import json
import os
from pathlib import Path

import pytest

from tests.eval import hostile_suite, unprivileged
from textbooks.eval.sandbox import detect_isolation

BWRAP, WHY_NOT_BWRAP = (lambda m: (m[0] == "bwrap", m[1]))(detect_isolation("auto"))
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"bubblewrap is not usable here: {WHY_NOT_BWRAP}")


def _check(report: dict) -> None:
    bad = [r for r in report["rows"] if not r["ok"]]
    assert not bad, json.dumps(bad, indent=1)
    assert report["sandbox_errors"] == 0
    assert report["leftover_processes"] == [], "processes left running"
    assert not report["scratch_left"], "the pool's scratch directory was left behind"
    assert report["shm_new"] == [], "/dev/shm entries left behind"
    assert report["cgroups_left"] == [], "cgroups left behind"


@needs_bwrap
@pytest.mark.parametrize("workers", [1, 2])
def test_hostile_suite_harness_as_this_user(workers):
    report = hostile_suite.run(workers)
    _check(report)
    if os.geteuid() == 0:
        assert any(x.startswith("seccomp") for x in report["layers"]), report["missing"]


@pytest.fixture(scope="module")
def workspace():
    why = unprivileged.why_not()
    if why:
        pytest.skip(why)
    ws = unprivileged.UserWorkspace([Path(hostile_suite.__file__)])
    yield ws
    ws.close()


@needs_bwrap
@pytest.mark.parametrize("workers", [1, 2])
def test_hostile_suite_harness_as_an_ordinary_user(workspace, workers):
    shm_before = set(os.listdir("/dev/shm"))
    r = workspace.run([workspace.python, str(workspace.src / "hostile_suite.py"), "--workers", str(workers)])
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["uid"] == unprivileged.TEST_UID
    # The user's case: bubblewrap with a user namespace; per-program PID/IPC namespaces and seccomp hold
    # there too.
    assert report["isolation"] == "bwrap"
    assert "PID and IPC namespace per program" in report["layers"], report["missing"]
    assert "seccomp filter" in report["layers"], report["missing"]
    _check(report)
    assert unprivileged.processes_of(unprivileged.TEST_UID) == []
    assert set(os.listdir("/dev/shm")) - shm_before == set()


@needs_bwrap
def test_a_stopped_worker_is_replaced_and_its_sample_gets_a_verdict():
    """A worker stopped from outside (as a same-uid program could in the fallback mode) misses its reply
    deadline: it is killed and replaced, that sample fails with a sandbox error, the others are unaffected."""
    import signal
    import threading
    import time

    from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig

    he = hostile_suite.he
    with Sandbox(SandboxConfig(workers=1, timeout=2.0, reply_slack=1.0)) as sb:
        worker = sb._workers[0]

        bwrap = worker.proc.pid
        (inner,) = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()  # the worker process

        def stop_worker_soon():
            time.sleep(0.3)
            os.kill(int(inner), signal.SIGSTOP)

        t = threading.Thread(target=stop_worker_soon)
        t.start()
        outs = sb.run([he("import time\ntime.sleep(1)\nreturn 1"), he("return 1"), he("return 2"), he("return 1")])
        t.join()
        assert sb.sandbox_errors == 1
    assert outs[0].result.startswith("failed: sandbox error: no reply in time"), outs[0].result
    assert [o.result for o in outs[1:]] == ["passed", "failed: AssertionError: assert c() == 1", "passed"]
