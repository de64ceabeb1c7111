"""Who started a run: the flow process that owns it, named so that it can be recognised after it is gone.

A pid alone is reused by the kernel; the host, the boot id, the pid and the process's start time together name
one process for good, so a run left by a killed flow can be recognised as orphaned, after any reboot. Every
adapter tags its runs with their owner (OWNER_TAG): the local one to mark an orphan KILLED, the Azure ones to
say, on re-attaching, that the flow which submitted a run is gone. The Azure ones tag their runs with the Prefect
flow run too (FLOW_RUN_TAG), so that whoever stops that flow run, from whatever process, finds them.
"""

import contextlib
import os
import socket
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

OWNER_TAG = "mnist_flow.owner"
FLOW_RUN_TAG = "mnist_flow.flow_run"  # the Prefect flow run a run belongs to: how a stop from anywhere finds it
_flow_run: ContextVar[str] = ContextVar("mnist_flow_run", default="")


def current_flow_run() -> str:
    """The Prefect flow run whose step is creating runs here (tasks/training.py says so); "" outside one."""
    return _flow_run.get()


@contextlib.contextmanager
def creating_runs_for(flow_run: str) -> Iterator[None]:
    """Runs created inside belong to `flow_run` (their FLOW_RUN_TAG): set by the step, read by the adapters,
    which import nothing of Prefect."""
    token = _flow_run.set(flow_run)
    try:
        yield
    finally:
        _flow_run.reset(token)


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
