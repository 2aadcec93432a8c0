"""Memory and process limits for the sandbox pool as a whole and per worker, with cgroups.

rlimits bound one program's address space, but not what it holds outside it: pages of files in its tmpfs,
memfds (`os.memfd_create` + write), pipes. A memory cgroup counts all of those. Each sandbox worker (with
every program it starts) runs in its own child cgroup of the pool's:

    <current cgroup>/textbooks-sandbox-<pid>-<hex>/          memory: sum of the workers', pids: sum
        w<slot>-<generation>/                               memory: memory_mb + WORKER_OVERHEAD_MB, pids

so a worker runs one program at a time under `memory_mb` for everything the program holds, and the pool
never exceeds workers x that. A worker that is replaced, and the pool at the end, are killed through the
cgroup (`cgroup.kill` on cgroup v2; on v1 every process listed, until none is left) and the directories
removed; pool cgroups left by a harness that was killed (kill -9) are removed by the next pool.

Where it works (`CgroupPool.create` returns None and the reason otherwise, and the sandbox lists the layer
as missing):
- cgroup v2 (`/sys/fs/cgroup` of type cgroup2) where the current cgroup is writable and its
  `cgroup.subtree_control` offers `memory` and `pids` (root, or a subtree delegated to the user, e.g. a
  `systemd-run --user --scope -p Delegate=yes` shell);
- cgroup v1 memory and pids hierarchies that this process may write (as root), e.g. containers that still
  mount v1.
A new process joins its worker's cgroup before it execs (`Popen(preexec_fn=...)` writing "0" to
`cgroup.procs` through descriptors opened beforehand: no allocation, no lock in the forked child).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

WORKER_OVERHEAD_MB = 128  # bubblewrap's two processes, the worker interpreter (~15 MiB RSS), page tables
WORKER_PIDS_OVERHEAD = 8  # bubblewrap's monitor and init, the worker, a probe child


@dataclass
class WorkerCgroup:
    """One worker's cgroup (one directory per hierarchy: v2 has one, v1 one each for memory and pids)."""

    dirs: list[Path]
    oom_events: Path  # memory.events (v2) / memory.oom_control (v1): the `oom_kill` counter
    version: int
    _fds: list[int] | None = None

    def open(self) -> None:
        self._fds = [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in self.dirs]

    def join(self) -> None:
        """Move the calling process here (runs in a forked child before exec: async-signal-safe only)."""
        for fd in self._fds or ():
            os.write(fd, b"0")

    def close_fds(self) -> None:
        for fd in self._fds or ():
            os.close(fd)
        self._fds = None

    def kill_and_remove(self, timeout: float = 10.0) -> None:
        self.close_fds()
        _kill_all(self.dirs, self.version, timeout)
        for d in self.dirs:
            _rmdir(d)


def _kill_all(dirs: list[Path], version: int, timeout: float) -> None:
    if version == 2 and (dirs[0] / "cgroup.kill").exists():
        try:
            (dirs[0] / "cgroup.kill").write_text("1")
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for d in dirs:
            try:
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _rmdir(d: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last killed processes are being torn down
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, super options) of every cgroup mount."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) >= 5 and len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
            out.append((fields[4], rfields[0], set(rfields[2].split(","))))
    return out


def _own_cgroups() -> dict[str, str]:
    """controller (or '' for v2) -> this process's cgroup path."""
    out = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except (OSError, ValueError):
        pass
    return out


class CgroupPool:
    """The pool's cgroup(s); `worker(slot)` makes a fresh child cgroup for one worker."""

    def __init__(self, roots: list[Path], version: int, worker_memory: int, worker_pids: int, n_workers: int):
        self.roots, self.version = roots, version
        self.worker_memory, self.worker_pids = worker_memory, worker_pids
        self._generation = 0
        self.pool_memory = worker_memory * n_workers
        self._limit(roots, self.pool_memory, worker_pids * n_workers)

    @property
    def description(self) -> str:
        return (f"cgroup v{self.version}: {self.worker_memory >> 20} MiB and {self.worker_pids} processes per "
                f"worker, {self.pool_memory >> 20} MiB for the pool")

    def _limit(self, dirs: list[Path], memory: int, pids: int) -> None:
        if self.version == 2:
            d = dirs[0]
            (d / "memory.max").write_text(str(memory))
            if (d / "memory.swap.max").exists():
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(pids))
        else:
            mem, pid = dirs
            (mem / "memory.limit_in_bytes").write_text(str(memory))
            if (mem / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no escape to swap
                try:
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory))
                except OSError:
                    pass
            (pid / "pids.max").write_text(str(pids))

    def worker(self, slot: int) -> WorkerCgroup:
        self._generation += 1
        name = f"w{slot}-{self._generation}"
        dirs = [r / name for r in self.roots]
        for d in dirs:
            d.mkdir()
        try:
            self._limit(dirs, self.worker_memory, self.worker_pids)
            cg = WorkerCgroup(dirs, dirs[0] / ("memory.events" if self.version == 2 else "memory.oom_control"),
                              self.version)
            cg.open()
        except BaseException:
            for d in dirs:
                _rmdir(d)
            raise
        return cg

    def close(self) -> None:
        for r in self.roots:
            for child in list(r.iterdir()) if r.is_dir() else []:
                if child.is_dir():
                    _kill_all([child], self.version, 5.0)
                    _rmdir(child)
            _kill_all([r], self.version, 5.0)
            _rmdir(r)

    @classmethod
    def create(cls, n_workers: int, memory_mb: int, processes: int) -> tuple["CgroupPool | None", str]:
        """A pool cgroup where one can be made here, else (None, why not)."""
        worker_memory = (memory_mb + WORKER_OVERHEAD_MB) * 1024 * 1024
        worker_pids = processes + WORKER_PIDS_OVERHEAD
        name = f"textbooks-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        mounts, own = _mounts(), _own_cgroups()
        reasons = []
        v2 = next((m for m in mounts if m[1] == "cgroup2"), None)
        if v2 is not None and "" in own:
            base = Path(v2[0]) / own[""].lstrip("/")
            remove_stale(base, 2)
            try:
                available = set((base / "cgroup.controllers").read_text().split())
                if not {"memory", "pids"} <= available:
                    raise OSError(f"controllers {sorted(available)} lack memory/pids")
                enabled = set((base / "cgroup.subtree_control").read_text().split())
                if not {"memory", "pids"} <= enabled:
                    (base / "cgroup.subtree_control").write_text("+memory +pids")
                root = base / name
                root.mkdir()
                (root / "cgroup.subtree_control").write_text("+memory +pids")
                try:
                    return cls([root], 2, worker_memory, worker_pids, n_workers), ""
                except BaseException:
                    _rmdir(root)
                    raise
            except OSError as e:
                reasons.append(f"cgroup v2 at {base}: {e.strerror or e}")
        v1 = {c: m[0] for m in mounts if m[1] == "cgroup" for c in ("memory", "pids") if c in m[2]}
        if {"memory", "pids"} <= set(v1) and {"memory", "pids"} <= set(own):
            for c in ("memory", "pids"):
                remove_stale(Path(v1[c]) / own[c].lstrip("/"), 1)
            roots = [Path(v1[c]) / own[c].lstrip("/") / name for c in ("memory", "pids")]
            made = []
            try:
                for r in roots:
                    r.mkdir()
                    made.append(r)
                return cls(roots, 1, worker_memory, worker_pids, n_workers), ""
            except OSError as e:
                for r in made:
                    _rmdir(r)
                reasons.append(f"cgroup v1 memory/pids: {e.strerror or e}")
        elif not reasons:
            reasons.append("no cgroup v2 with memory and pids controllers, no cgroup v1 memory and pids mounts")
        return None, "; ".join(reasons)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(parent: Path, version: int) -> list[Path]:
    """Remove pool cgroups left under `parent` by harnesses that were killed (kill -9 gives no chance to
    clean up): `textbooks-sandbox-<pid>-*` whose pid is gone. Anything still inside is killed first."""
    removed = []
    try:
        entries = list(parent.glob("textbooks-sandbox-*-*"))
    except OSError:
        return removed
    for pool in entries:
        try:
            pid = int(pool.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _pid_alive(pid) or not pool.is_dir():
            continue
        for child in [c for c in pool.iterdir() if c.is_dir()]:
            _kill_all([child], version, 5.0)
            _rmdir(child)
        _kill_all([pool], version, 5.0)
        _rmdir(pool)
        removed.append(pool)
    return removed
