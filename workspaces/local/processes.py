"""What a training run's process is to the flow, how to stop its whole process group, and what a signal that ended
one is called."""

import os
import signal
import subprocess
from typing import Protocol

STOP_GRACE_SECONDS = 5.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


class RunProcess(Protocol):
    """What is used of a run's process: a subprocess.Popen, or forked.ForkedProcess."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def stop_group(process: RunProcess, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process's group, then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"
