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


KILLED_HARNESS = """
import sys, time
sys.path.insert(0, {root!r})
from tests.eval.hostile_suite import he
from textbooks.eval.sandbox import Sandbox, SandboxConfig
body = "import subprocess, sys, time\\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}], start_new_session=True)\\ntime.sleep(300)\\nreturn 1"
with Sandbox(SandboxConfig(workers=2, timeout=200, isolation={isolation!r})) as sb:
    print("started", flush=True)
    sb.run([he(body), he(body)])
"""


@pytest.mark.parametrize("isolation", ["bwrap", "process"])
def test_kill_9_of_the_harness_leaves_no_process_and_the_next_pool_removes_its_leftovers(isolation, tmp_path):
    """kill -9 gives the harness no chance to clean up: the workers die with it (bwrap --die-with-parent,
    PR_SET_PDEATHSIG), their programs with them, and the next pool removes the dead pool's cgroups."""
    import signal
    import subprocess
    import sys
    import time
    import uuid

    from textbooks.eval.cgroups import _mounts, _own_cgroups

    if isolation == "bwrap" and not BWRAP:
        pytest.skip(f"bubblewrap is not usable here: {WHY_NOT_BWRAP}")
    marker = f"killed-harness-{uuid.uuid4().hex[:10]}"
    script = tmp_path / "harness.py"
    script.write_text(KILLED_HARNESS.format(root=str(Path(__file__).resolve().parents[2]), marker=marker,
                                            isolation=isolation))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout.readline().strip() == "started"

    def marked():
        out = []
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and marker.encode() in (p / "cmdline").read_bytes():
                    out.append(p.name)
            except OSError:
                pass
        return out

    deadline = time.monotonic() + 20
    while len(marked()) < 2 and time.monotonic() < deadline:  # both programs started their sleeper
        time.sleep(0.1)
    assert len(marked()) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while marked() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked() == [], "programs outlived the killed harness"

    def pools_of(pid):
        found = []
        own = _own_cgroups()
        for mount, kind, options in _mounts():
            for controller, path in own.items():
                if (kind == "cgroup2" and controller == "") or (kind == "cgroup" and controller in options):
                    found += list((Path(mount) / path.lstrip("/")).glob(f"textbooks-sandbox-{pid}-*"))
        return found

    import tempfile

    from textbooks.eval.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(workers=1, isolation=isolation)) as sb:
        has_cgroups = any(x.startswith("cgroup") for x in sb.layers)
    assert list(Path(tempfile.gettempdir()).glob(f"textbooks-sandbox-{proc.pid}-*")) == [], \
        "the dead harness's scratch dir was not removed"
    if has_cgroups:
        assert pools_of(proc.pid) == [], "the dead harness's cgroups were not removed"


@needs_bwrap
def test_a_fork_bomb_in_one_worker_does_not_starve_another_workers_forks():
    """Harness as root, every program is uid 65534: RLIMIT_NPROC alone would be shared by all workers, so a
    fork bomb in one would make an honest program that forks fail in the other. A pids cgroup per worker bounds
    each worker instead (the rlimit then sits above them all)."""
    from textbooks.eval.sandbox import Sandbox, SandboxConfig

    he = hostile_suite.he
    bomb = he("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    forker = he("import subprocess, time\ntime.sleep(0.5)\nps = [subprocess.Popen(['true']) for _ in range(20)]\n"
                "assert all(p.wait() == 0 for p in ps)\nreturn 1")
    with Sandbox(SandboxConfig(workers=2, timeout=5.0, retry_timeouts=False)) as sb:
        if os.geteuid() == 0 and not any(x.startswith("cgroup") for x in sb.layers):
            pytest.skip("no pids cgroup here: programs of all workers share uid 65534's RLIMIT_NPROC "
                        "(sandbox.missing says so); a writable cgroup v1 pids or v2 subtree enables this")
        outs = sb.run([bomb, forker])
    assert not outs[0].passed
    assert outs[1].result == "passed", outs[1].result


@needs_bwrap
def test_a_job_larger_than_the_pipe_behind_a_stopped_worker_does_not_hang_the_run():
    """The second job in flight is written while the worker runs the first; one larger than the pipe used to
    block the harness in write() with no deadline when the worker was stopped."""
    import signal
    import threading
    import time

    from textbooks.eval.sandbox import Sandbox, SandboxConfig

    he = hostile_suite.he
    padded = he("return 1\n" + "# pad\n" * 40000)  # ~240 KiB: more than a pipe holds
    with Sandbox(SandboxConfig(workers=1, timeout=2.0, reply_slack=1.0)) as sb:
        bwrap = sb._workers[0].proc.pid
        (inner,) = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()

        def stop_worker_soon():
            time.sleep(0.3)
            os.kill(int(inner), signal.SIGSTOP)

        t = threading.Thread(target=stop_worker_soon)
        t.start()
        t0 = time.monotonic()
        outs = sb.run([he("import time\ntime.sleep(1)\nreturn 1"), padded, he("return 2")])
        t.join()
        assert time.monotonic() - t0 < 30
    assert outs[0].result.startswith("failed: sandbox error: no reply in time"), outs[0].result
    assert [o.result for o in outs[1:]] == ["passed", "failed: AssertionError: assert c() == 1"]
