"""Run a script as an ordinary user from a root test process: a uid without privileges, an interpreter that
user can execute, a venv made by that user, and a world-readable copy of the package.

Users run the harness as themselves (the normal laptop case: bubblewrap with a user namespace), CI runs as
root. `run_as_user` reproduces the user's case on a root machine; `why_not()` names exactly what is missing
when it cannot (the skip reason).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TEST_UID = 4242  # no passwd entry needed: HOME and the environment are given explicitly
REPO = Path(__file__).resolve().parents[2]


def _as_user(uid: int):
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop


def _candidates() -> list[str]:
    v = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", ""),
             f"/usr/bin/python{v}", "/usr/bin/python3", f"/usr/local/bin/python{v}", "/usr/local/bin/python3",
             shutil.which("python3") or ""]
    seen, out = set(), []
    for n in names:
        if n and n not in seen and os.path.exists(n):
            seen.add(n)
            out.append(n)
    return out


@functools.lru_cache(maxsize=None)
def user_interpreter() -> tuple[str | None, str]:
    """(an interpreter uid TEST_UID can run with ctypes and venv, '') or (None, what is missing)."""
    if os.geteuid() != 0:
        return None, "the tests do not run as root (they already run as an ordinary user)"
    tried = []
    for exe in _candidates():
        try:
            r = subprocess.run([exe, "-I", "-c", "import ctypes, json, select, venv; print('ok')"],
                               preexec_fn=_as_user(TEST_UID), capture_output=True, text=True, timeout=60,
                               env={"PATH": "/usr/bin:/bin", "HOME": "/"}, cwd="/")
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"{exe} ({type(e).__name__})")
            continue
        if r.returncode == 0 and r.stdout.strip() == "ok":
            return exe, ""
        tried.append(f"{exe} ({(r.stderr.strip().splitlines() or ['exit %d' % r.returncode])[-1][:80]})")
    return None, (f"no Python interpreter that uid {TEST_UID} can execute with ctypes and venv (tried: "
                  f"{'; '.join(tried) or 'none found'}); install one readable by all users, e.g. Debian's "
                  "python3 and python3-venv")


def why_not() -> str:
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (`make sandbox-tools`)"
    return user_interpreter()[1]


class UserWorkspace:
    """A world-readable temp dir with a copy of the package (and extra files), a venv and a HOME, all
    made as the ordinary user."""

    def __init__(self, extra: list[Path] = ()):
        exe, why = user_interpreter()
        if exe is None:
            raise RuntimeError(why)
        self.root = Path(tempfile.mkdtemp(prefix="textbooks-user-"))
        os.chmod(self.root, 0o755)
        src = self.root / "src"
        shutil.copytree(REPO / "textbooks", src / "textbooks",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for f in extra:
            shutil.copy(f, src / f.name)
        for p in [src, *src.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        self.src = src
        self.home = self.root / "home"
        self.home.mkdir()
        os.chown(self.home, TEST_UID, TEST_UID)
        self.venv = self.home / "venv"
        self.run([exe, "-m", "venv", "--without-pip", str(self.venv)], check=True)
        self.python = str(self.venv / "bin" / "python")

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home),
                "PYTHONPATH": str(self.src), "LANG": "C.UTF-8"}

    def run(self, cmd: list[str], timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, preexec_fn=_as_user(TEST_UID), capture_output=True, text=True,
                              timeout=timeout, env=self.env(), cwd=str(self.home), check=check)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def processes_of(uid: int) -> list[str]:
    """'pid cmdline' of every process owned by `uid` (after a run there must be none)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    out.append(f"{p.name} {(p / 'cmdline').read_bytes()[:100]!r}")
            except OSError:
                pass
    return out
