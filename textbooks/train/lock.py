"""One launch per run directory: an exclusive lock on run_dir/.lock, held while the trainer runs.

    lock = RunDirLock.acquire(run_dir)     # ConfigError "run_dir is in use by pid N (host H)" if taken
    ...
    lock.release()

Two launches into one run_dir would corrupt it: both truncate and append metrics.jsonl, and each one's
crash recovery deletes the other's half-written `.tmp-*` checkpoint. The lock is `fcntl.flock`, which the
kernel drops when the holder dies (even by kill -9), so a stale `.lock` file never blocks a relaunch; the
file only records who holds it, for the message. Under torchrun rank 0 takes it for the whole launch (the
other ranks never write to run_dir). flock works across nodes on NFSv4 and on Lustre mounted with
`-o flock`; on a filesystem without it, flock fails and the launch proceeds with a warning.

Within one process the lock is shared (a count), so a Python session may build several Trainers on one
run_dir in turn; it protects against other processes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
from pathlib import Path

from textbooks.train.config import ConfigError

LOCK_FILE = ".lock"
_held: dict[str, list] = {}  # realpath -> [file object, count]


class RunDirLock:
    def __init__(self, key: str):
        self.key, self._released = key, False

    @classmethod
    def acquire(cls, run_dir: str | Path) -> "RunDirLock":
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK_FILE
        key = os.path.realpath(path)
        if key in _held:
            _held[key][1] += 1
            return cls(key)
        f = open(path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                print(f"warning: cannot lock {path} ({e}): this filesystem has no flock, so nothing stops a second "
                      f"launch into {run_dir}", file=sys.stderr)
                f.close()
                return cls("")
            f.seek(0)
            holder = f.read().strip() or "pid ? (host ?)"
            f.close()
            raise ConfigError(
                f"run_dir is in use by {holder}: {run_dir} is being trained by another launch; wait for it to finish "
                f"(or stop it), or choose another trainer.run_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} (host {socket.gethostname()})\n")
        f.flush()
        _held[key] = [f, 1]
        return cls(key)

    def release(self) -> None:
        if self._released or not self.key:
            return
        self._released = True
        entry = _held.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            entry[0].close()  # closing the descriptor drops the flock
