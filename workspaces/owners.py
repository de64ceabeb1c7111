"""Who started a run: the flow process that owns it, named so that it can be recognised after it is gone.

A pid alone is reused by the kernel; the host, the boot id, the pid and the process's start time together name
one process for good, so a run left by a killed flow can be recognised as orphaned, after any reboot. Every
adapter tags its runs with their owner (OWNER_TAG): the local one to mark an orphan KILLED, the Azure ones to
say, on re-attaching, that the flow which submitted a run is gone.
"""

import os
import socket
from pathlib import Path

OWNER_TAG = "mnist_flow.owner"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return socket.gethostname()


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, after the parenthesised command name


def process_identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_time(pid)}"


def is_alive(identity: str) -> bool | None:
    """True or False for a process of this machine; None when the identity is another machine's."""
    try:
        host, boot_id, pid, start = identity.rsplit(":", 3)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if boot_id != _boot_id():
        return False
    current = _start_time(int(pid))
    return current is not None and current == start and not _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
