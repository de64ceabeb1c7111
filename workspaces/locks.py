"""Cross-process locks on files of the workspace, released by the kernel when their holder dies.

`flock` locks belong to an open file: when the process holding it exits, however it exits (SIGKILL included),
the kernel releases the lock. So a lock left by a killed flow never makes the next run wait, and there is no
stale-lock detection to get wrong. Lock files are never deleted: deleting one while another process waits on
it would let two holders in.
"""

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from workspaces.files import explain_os_error, make_dirs


def open_lock_file(path: Path) -> int:
    make_dirs(Path(path).parent)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise explain_os_error(exc, Path(path)) from exc


def try_lock(path: Path) -> int | None:
    """The file descriptor holding an exclusive lock on `path`, or None if another holder has it."""
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd: int) -> None:
    os.close(fd)  # closing the last descriptor of the open file releases the lock


def is_locked(path: Path) -> bool:
    if not Path(path).exists():
        return False
    fd = try_lock(path)
    if fd is None:
        return True
    release(fd)
    return False


def wait_for(
    path: Path, timeout: float | None = None, poll: float = 0.1, on_wait: Callable[[], None] | None = None
) -> int | None:
    """Block until the lock on `path` is ours (its descriptor), or None once `timeout` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while (fd := try_lock(path)) is None:
        if deadline is not None and time.monotonic() >= deadline:
            return None
        if on_wait is not None:
            on_wait()
        time.sleep(poll)
    return fd


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock on `path` for the block (waiting as long as it takes)."""
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        release(fd)
