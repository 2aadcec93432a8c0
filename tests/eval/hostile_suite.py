"""The hostile sandbox suite: probes interleaved with honest samples, each with its expected verdict.

Run in-process by tests/eval/test_sandbox_hostile.py with the harness as root, and as a script in a
subprocess that runs as an ordinary user (`python hostile_suite.py --workers N --isolation bwrap`, printing one
JSON report). Only the standard library and `textbooks.eval.sandbox` are imported, so any interpreter the user
can execute runs it with the package on PYTHONPATH.

The layout is [honest, probe, honest, probe, ...] where the honest samples alternate between a correct and a
wrong completion: a probe that disturbs another sample's verdict (forging frames into a worker's protocol
pipe, stopping or killing its worker, leaving files or IPC objects behind) shows up as a wrong verdict on a
neighbour, not only on itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
import uuid

from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig

CHECK = "check(f)"
TEST = "def check(c):\n    assert c() == 1\n"
MARKER = f"hostile-{uuid.uuid4().hex[:12]}"  # in the argv of every process a probe leaves running


def he(body: str) -> Program:
    """HumanEval-shaped: `def f():` + body + test + check(f)."""
    return Program("def f():\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n" + TEST + "\n" + CHECK, CHECK)


def _benchmark_files() -> list[str]:
    from textbooks.eval.tasks import UNCONVENTIONAL_FILE, benchmark_data_dirs

    files = [str(UNCONVENTIONAL_FILE)]
    for d in benchmark_data_dirs():
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names[:3]]
    return files


BENCHMARK_FILES = _benchmark_files()
# (name, body, expected): expected is a verdict prefix, or "refused" = the probe's attack failed, so the
# program returns 1 honestly and passes ("passed"), and "layer:<name>" = depends on a layer (see expected()).
FRAME = ('import json, struct\n'
         'fr = json.dumps({"status": "passed", "detail": "", "output": "", "output_bytes": 0, "seconds": 0.0,'
         ' "exit": "exit 0"}).encode()\n')
PROBES: list[tuple[str, str, str]] = [
    # Forge length-prefixed "passed" replies into every reachable fd of every other process (the worker's
    # protocol pipe was /proc/<ppid>/fd/1): all are closed, non-dumpable or in another PID namespace.
    ("proc_fd_forger", FRAME + """
import os
me = os.readlink('/proc/self')
for p in os.listdir('/proc'):
    if p.isdigit() and p != me:
        for fd in ('0', '1', '2', '3', '4', '5'):
            try:
                w = os.open(f'/proc/{p}/fd/{fd}', os.O_WRONLY)
                os.write(w, (struct.pack('>I', len(fr) + 16) + bytes(16) + fr) * 3)
            except OSError:
                pass
return None""", "failed: AssertionError"),
    ("ppid_fd_forger", FRAME + """
import os
try:
    w = os.open(f'/proc/{os.getppid()}/fd/1', os.O_WRONLY)
    os.write(w, (struct.pack('>I', len(fr)) + fr) * 3)
except OSError:
    pass
return None""", "failed: AssertionError"),
    ("stdout_frame_forger", FRAME + """
import os, sys
os.write(1, (struct.pack('>I', len(fr) + 16) + bytes(16) + fr) * 3)
sys.stdout.flush()
return None""", "failed: AssertionError"),
    # Signals: stop or kill the worker, the harness, everything. getppid() is 0 in the program's own PID
    # namespace; kill(0)/kill(-1) reach only the program's own processes, so each attack does nothing and
    # the program passes honestly.
    ("sigstop_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nreturn 1", "passed"),
    ("sigkill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn 1", "passed"),
    ("sigstop_all", "import os, signal\ntry:\n    os.kill(-1, signal.SIGSTOP)\nexcept OSError:\n    pass\nreturn 1",
     "passed"),
    # /proc lists the pool's PID namespace, kill() names pids of the program's own: SIGKILL to every pid
    # /proc shows (the worker among them) reaches nothing outside the program.
    ("sigkill_pid_scan", """
import os, signal
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            os.kill(int(p), signal.SIGKILL)
        except OSError:
            pass
return 1""", "passed"),
    # ptrace / memory of other processes / nested namespaces / mounts: refused.
    ("ptrace_worker", """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
me = os.readlink('/proc/self')
for p in os.listdir('/proc'):
    if p.isdigit() and p != me:
        assert libc.ptrace(16, int(p), None, None) != 0, 'PTRACE_ATTACH worked on ' + p
        try:
            open(f'/proc/{p}/mem', 'rb').read(1)
            raise AssertionError('read the memory of ' + p)
        except OSError:
            pass
return 1""", "passed"),
    ("nested_userns", """
import ctypes, subprocess
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x10000000) != 0, 'unshare(CLONE_NEWUSER) worked'
r = subprocess.run(['unshare', '-Urmn', 'sh', '-c', 'mount -t tmpfs none /mnt && echo MOUNTED'],
                   capture_output=True, text=True)
assert 'MOUNTED' not in r.stdout, r.stdout
return 1""", "passed"),
    ("mount_tmpfs", """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) != 0, 'mount worked'
return 1""", "passed"),
    ("capabilities_none", """
caps = {l.split(':')[0]: int(l.split()[1], 16) for l in open('/proc/self/status') if l.startswith('Cap')}
assert caps['CapEff'] == 0 and caps['CapPrm'] == 0 and caps['CapAmb'] == 0, caps
return 1""", "passed"),
    # State left for the next program: files in cwd, /tmp and /dev/shm, POSIX and SysV IPC objects.
    ("leave_state", f"""
import ctypes, os
os.makedirs('/tmp/{MARKER}', exist_ok=True)
open('/tmp/{MARKER}/x', 'w').write('x')
open('/dev/shm/{MARKER}', 'w').write('x')
open('{MARKER}', 'w').write('x')
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mq_open(b'/{MARKER}', 0o100 | 2, 0o600, None) >= 0
assert libc.shmget(0x7e57, 4096, 0o1000 | 0o600) >= 0
return 1""", "passed"),
    ("find_state", f"""
import ctypes, os
assert not os.path.exists('/tmp/{MARKER}'), 'a file in /tmp survived'
assert not os.path.exists('/dev/shm/{MARKER}'), 'a file in /dev/shm survived'
assert os.listdir('.') == [], os.listdir('.')
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mq_open(b'/{MARKER}', 2, 0o600, None) < 0, 'a message queue survived'
assert libc.shmget(0x7e57, 4096, 0o600) < 0, 'a SysV segment survived'
return 1""", "layer:private-state"),
    # The benchmarks' own files (problems, canonical solutions, tests) are hidden: no looking answers up.
    ("read_benchmark_data", f"""
import os
for path in {BENCHMARK_FILES!r}:
    assert not os.path.exists(path), 'readable: ' + path
return 1""", "passed"),
    # Every directory bubblewrap made is the programs' own uid's when the harness is not root: none may be
    # writable (state for the next program), nor may the dirs holding the interpreter be renamed or chmod'ed
    # (a fake interpreter for the next program).
    ("tamper_mounts", f"""
import os, sys
hits = []
for d in ('/home', '/root', '/run', '/mnt', '/srv', '/media', '/var/tmp', '/dev', os.path.dirname(os.__file__)):
    try:
        open(os.path.join(d, '{MARKER}'), 'w').write('x')
        hits.append(d)
    except OSError:
        pass
for path in (sys.executable, os.__file__):
    parts = path.split('/')
    if len(parts) > 3 and parts[1] in ('tmp', 'home', 'root'):
        top = '/' + parts[1] + '/' + parts[2]
        for attempt in (lambda: os.rename(top, '/tmp/{MARKER}-moved'), lambda: os.chmod(top, 0),
                        lambda: os.mkdir(top + '/{MARKER}')):
            try:
                attempt()
                hits.append(top)
            except OSError:
                pass
assert not hits, hits
return 1""", "passed"),
    # State that outlives its program in the kernel: an SCM_RIGHTS cycle keeping an unlinked /dev/shm file
    # and a listening abstract socket in flight; ACLs, xattrs and modes on the directories programs write.
    ("stash_in_flight", f"""
import array, os, socket
fd = os.open('/dev/shm/{MARKER}', os.O_CREAT | os.O_RDWR)
os.write(fd, b'x' * (8 << 20))
os.unlink('/dev/shm/{MARKER}')
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind('\\0{MARKER}')
srv.listen(1)
x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [fd, srv.fileno(), x.fileno(), y.fileno()]))]
x.sendmsg([b'a'], rights)
y.sendmsg([b'b'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [x.fileno(), y.fileno()]))])
return 1""", "passed"),
    ("find_stash", f"""
import os, socket
st = os.statvfs('/dev/shm')
assert (st.f_blocks - st.f_bfree) * st.f_frsize < (1 << 20), 'pages of a previous program are still held'
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('\\0{MARKER}')
    raise AssertionError('an abstract socket of a previous program survived')
except ConnectionRefusedError:
    pass
return 1""", "passed"),
    ("set_acls", """
import os, struct
deny_all = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', tag, 0, 0xFFFFFFFF) for tag in (1, 4, 0x20))
for d in ('.', '/tmp', '/dev/shm'):
    for name, value in (('system.posix_acl_default', deny_all), ('user.mark', b'x')):
        try:
            os.setxattr(d, name, value)
        except OSError:
            pass
for d in ('/tmp', '/dev/shm', '/dev/pts'):
    try:
        os.chmod(d, 0)
    except OSError:
        pass
return 1""", "passed"),
    ("find_acls", """
import os, pty
for d in ('.', '/tmp', '/dev/shm'):
    assert os.listxattr(d) == [], (d, os.listxattr(d))
    path = os.path.join(d, 'probe-file')
    open(path, 'w').write('x')
    assert open(path).read() == 'x'
    os.unlink(path)
master, slave = os.openpty()
return 1""", "passed"),
    # Sabotage the worker's cleanup.
    ("deep_dirs", "import os\nfor i in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\nreturn 1", "passed"),
    ("chmod_cwd", "import os\nos.mkdir('locked')\nopen('locked/f', 'w').write('x')\nos.chmod('locked', 0)\n"
                  "os.chmod('.', 0o500)\nreturn 1", "passed"),
    # A short source whose compiling (constant folding, quadratic) would take gigabytes in the worker.
    ("compile_bomb", "x = " + " + ".join(["'x' * 4096"] * 1500) + "\nreturn 1", "out of memory"),
    # Memory outside the address-space limit: memfds and tmpfs pages (bounded by the memory cgroup).
    ("memfd_bomb", "import os\nfds = [os.memfd_create('x') for _ in range(8)]\nfor fd in fds:\n"
                   "    for i in range(40):\n        os.write(fd, b'x' * (1 << 20))\nreturn 1", "layer:cgroup-memory"),
    # Processes that outlive the program.
    ("escaped_daemon", f"""
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{MARKER}'], start_new_session=True)
return 1""", "passed"),
    ("fork_bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", "any-fail"),
    # Exit tricks (the verdict needs the program to finish its tests).
    ("exit0_early", "import os\nos._exit(0)", "failed: the program ended"),
    ("verdict_fd_garbage", "import os\nos.write(3, b'0' * 32 + b'\\npassed\\n')\nos._exit(0)", "failed"),
    ("infinite_loop", "while True:\n    pass", "timed out"),
]


def expected(name: str, want: str, layers: list[str]) -> str:
    if want == "layer:cgroup-memory":
        return "out of memory" if any(x.startswith("cgroup") for x in layers) else "passed"
    if want == "layer:private-state":
        return "passed" if any("PID and IPC namespace per program" in x for x in layers) else "unchecked"
    return want


def build(n_rounds: int = 1) -> list[tuple[str, Program, str]]:
    items = []
    for r in range(n_rounds):
        for k, (name, body, want) in enumerate(PROBES):
            honest = ("canonical", he("return 1"), "passed") if k % 2 == 0 else \
                ("wrong", he("return 2"), "failed: AssertionError")
            items.append(honest)
            items.append((name, he(body), want))
        items.append(("canonical", he("return 1"), "passed"))
    return items


def leftover_processes() -> list[str]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if MARKER.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                    out.append(p)
            except OSError:
                pass
    return out


def run(workers: int, isolation: str = "bwrap", memory_mb: int = 64) -> dict:
    shm_before = set(os.listdir("/dev/shm"))
    items = build()
    config = SandboxConfig(timeout=2.0, memory_mb=memory_mb, workers=workers, isolation=isolation,
                           reply_slack=5.0)
    t0 = time.monotonic()
    with Sandbox(config) as sb:
        layers, missing = list(sb.layers), list(sb.missing)
        outs = sb.run([p for _, p, _ in items])
        scratch = sb._scratch_root
        sandbox_errors = sb.sandbox_errors
    seconds = time.monotonic() - t0
    time.sleep(0.2)
    rows = []
    for (name, _, want), o in zip(items, outs):
        want = expected(name, want, layers)
        if want == "unchecked":
            ok = True
        elif want == "any-fail":
            ok = not o.passed
        else:
            ok = o.result.startswith(want)
        rows.append({"name": name, "expected": want, "result": o.result, "ok": ok})
    return {
        "uid": os.getuid(), "workers": workers, "isolation": isolation, "layers": layers, "missing": missing,
        "rows": rows, "seconds": round(seconds, 2), "sandbox_errors": sandbox_errors,
        "leftover_processes": leftover_processes(),
        "scratch_left": os.path.exists(scratch),
        "shm_new": sorted(set(os.listdir("/dev/shm")) - shm_before),
        "cgroups_left": _cgroup_dirs(),
    }


def _cgroup_dirs() -> list[str]:
    """This process's pool cgroups that still exist (there should be none after the pool closed)."""
    import glob

    from textbooks.eval.cgroups import _mounts, _own_cgroups

    own, found = _own_cgroups(), []
    for mount, kind, options in _mounts():
        for controller, path in own.items():
            if (kind == "cgroup2" and controller == "") or (kind == "cgroup" and controller in options):
                found += glob.glob(os.path.join(mount, path.lstrip("/"), f"textbooks-sandbox-{os.getpid()}-*"))
    return sorted(set(found))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--isolation", default="bwrap")
    args = p.parse_args(argv)
    print(json.dumps(run(args.workers, args.isolation)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
