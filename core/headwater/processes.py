"""Which process a run belongs to, and whether that process is still alive.

A run records the host, the process id and a start token of the process that runs
it. The token (the boot id and the process's start time, on Linux) tells a live
process from a later one that happens to get the same pid, so a run whose process
died is found out, never left Running forever.
"""

from __future__ import annotations

import os
import socket
from typing import Optional

__all__ = ["ProcessIdentity", "current_process", "is_alive"]


class ProcessIdentity:
    __slots__ = ("host", "pid", "start_token")

    def __init__(self, host: str, pid: int, start_token: Optional[str]) -> None:
        self.host = host
        self.pid = pid
        self.start_token = start_token


def _stat(pid: int) -> Optional[list[bytes]]:
    """The fields of /proc/PID/stat after the command name (state first), or None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def _start_token(pid: int) -> Optional[str]:
    fields = _stat(pid)
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
    except OSError:
        return None
    if fields is None:
        return None
    return f"{boot_id}:{fields[19].decode()}"  # field 22 of the file: start time in clock ticks since boot


_current: Optional[ProcessIdentity] = None


def current_process() -> ProcessIdentity:
    """This process: asked for by every run, so worked out once (and again in a forked child)."""
    global _current
    if _current is None:
        pid = os.getpid()
        _current = ProcessIdentity(socket.gethostname(), pid, _start_token(pid))
    return _current


def _forget_current() -> None:
    global _current
    _current = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_current)


def is_alive(host: Optional[str], pid: Optional[int], start_token: Optional[str]) -> Optional[bool]:
    """True or False for a process on this host; None when it cannot be told (another host, no record)."""
    if host is None or pid is None or host != current_process().host:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    fields = _stat(pid)
    if fields is not None and fields[0] in (b"Z", b"X"):
        return False  # killed, and not yet reaped by its parent
    if start_token is not None:
        now = _start_token(pid)
        if now is not None and now != start_token:
            return False  # the pid was reused by a later process
    return True
