"""The sandbox's seccomp filter: syscalls no test program needs, refused with EPERM (clone3: ENOSYS).

Built with libseccomp (`libseccomp.so.2`, on every distribution that ships systemd; Debian/Ubuntu package
`libseccomp2`) through ctypes, exported as a BPF program that the sandbox worker loads once for itself and
every program it starts (`_sandbox_worker._install_seccomp`). libseccomp adds the architecture check: a
syscall made through another ABI (the 32-bit `int 0x80` entry on x86_64, x32) kills the process.

Refused (`BLOCKED`, by group):
- namespaces and mounts: unshare and setns (except the worker's own unshare(CLONE_NEWPID | CLONE_NEWIPC) and
  setns(CLONE_NEWPID), which a process without capabilities cannot use either), mount, umount2, pivot_root, chroot, the new mount API (open_tree,
  move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr); clone with CLONE_NEWUSER, CLONE_NEWNS,
  CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWCGROUP; clone3 (its flags live in memory a filter cannot read:
  ENOSYS makes libc fall back to clone).
- other processes' memory: ptrace, process_vm_readv, process_vm_writev, pidfd_getfd, process_madvise, kcmp.
- the kernel itself: kexec_load, kexec_file_load, init_module, finit_module, delete_module, bpf,
  perf_event_open, userfaultfd, io_uring_setup, io_uring_enter, io_uring_register, keyctl, add_key,
  request_key, lookup_dcookie, uselib, personality, iopl, ioperm, syslog, acct, quotactl, quotactl_fd,
  swapon, swapoff, reboot, vhangup, open_by_handle_at, name_to_handle_at, fanotify_init, settimeofday,
  clock_settime, clock_adjtime, adjtimex, sethostname, setdomainname.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import tempfile

BLOCKED = (
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key",
    "lookup_dcookie", "uselib", "personality", "iopl", "ioperm", "syslog", "acct", "quotactl", "quotactl_fd",
    "swapon", "swapoff", "reboot", "vhangup", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
)
# clone(2) flags that would give a program a namespace of its own making (the first argument on x86_64 and
# aarch64).
CLONE_REFUSED = {"CLONE_NEWUSER": 0x10000000, "CLONE_NEWNS": 0x00020000, "CLONE_NEWNET": 0x40000000,
                 "CLONE_NEWUTS": 0x04000000, "CLONE_NEWCGROUP": 0x02000000}

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE, _SCMP_CMP_MASKED_EQ = 1, 7
_SCMP_FLTATR_CTL_OPTIMIZE = 8
CLONE_NEWPID, CLONE_NEWIPC = 0x20000000, 0x08000000
WORKER_UNSHARE = CLONE_NEWPID | CLONE_NEWIPC


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _libseccomp():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    return lib


_CACHE: dict[str, bytes | str] = {}


def sandbox_filter() -> bytes:
    """The BPF program (struct sock_filter[]) of the sandbox's filter. Raises OSError when libseccomp is
    missing or fails here (the caller reports the layer as missing)."""
    if "bpf" in _CACHE:
        return _CACHE["bpf"]  # type: ignore[return-value]
    try:
        lib = _libseccomp()
    except OSError as e:
        raise OSError(f"libseccomp is not available ({e}); install libseccomp2") from None
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        # A binary tree of syscall numbers instead of a linear list: every syscall of every program passes
        # through the filter (libseccomp >= 2.5; older versions keep the list).
        lib.seccomp_attr_set(ctypes.c_void_p(ctx), _SCMP_FLTATR_CTL_OPTIMIZE, 2)

        def add(name: str, action: int, cmps: list[_ArgCmp] = ()) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:  # not a syscall on this architecture (iopl on aarch64, ...)
                return
            arr = (_ArgCmp * max(1, len(cmps)))(*cmps)
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
            if rc < 0:
                raise OSError(-rc, f"seccomp_rule_add({name}): {os.strerror(-rc)}")

        for name in BLOCKED:
            add(name, _act_errno(errno.EPERM))
        # The worker's own per-program namespaces: unshare(CLONE_NEWPID | CLONE_NEWIPC) and setns() back to
        # its PID namespace, nothing else (programs have no capabilities, so the kernel refuses even these).
        add("unshare", _act_errno(errno.EPERM), [_ArgCmp(0, _SCMP_CMP_NE, WORKER_UNSHARE, 0)])
        add("setns", _act_errno(errno.EPERM), [_ArgCmp(1, _SCMP_CMP_NE, CLONE_NEWPID, 0)])
        for flag in CLONE_REFUSED.values():
            add("clone", _act_errno(errno.EPERM), [_ArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag)])
        add("clone3", _act_errno(errno.ENOSYS))
        with tempfile.TemporaryFile() as f:
            rc = lib.seccomp_export_bpf(ctx, f.fileno())
            if rc < 0:
                raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
            f.seek(0)
            bpf = f.read()
    finally:
        lib.seccomp_release(ctx)
    if not bpf or len(bpf) % 8:
        raise OSError(f"libseccomp exported a malformed filter ({len(bpf)} bytes)")
    _CACHE["bpf"] = bpf
    return bpf
