"""Local training runs as OS processes: start one from its snapshot, follow its log, stop it.

Each run is a separate process in its own process group (so a terminal's Ctrl-C reaches the flow, which stops
the runs itself, and stopping a run stops anything it started), forked from the flow's fork server
(forkserver.py: the libraries are imported once per flow, not once per run; the server kills its runs when the
flow process dies), or with MNIST_FLOW_RUN_PROCESS=exec a fresh interpreter running the entry script through
launcher.py, which makes the kernel kill it if the flow process dies. Its stdout and stderr go to the run's log
file, not to a pipe: the file is the run's full log, kept with the run, and a run never blocks on a reader.
The flow reads the file as it grows and hands each line to the Prefect logger under the run's name.
"""

import collections
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workspaces.base import LogSink, RunHandle
from workspaces.local import forked
from workspaces.local.processes import RunProcess, stop_group

LAUNCHER = Path(__file__).with_name("launcher.py")
POLL_SECONDS = 0.2
TAIL_LINES = 20


@dataclass
class LocalRun:
    handle: RunHandle
    process: RunProcess
    log_file: Path
    slot_fd: int
    stopped: bool = False  # stopped by us (cancellation, Ctrl-C), not killed from outside
    peak_memory_mb: float | None = None  # the process's peak resident memory, once it has ended
    cpu_seconds: float | None = None  # the process's user and system CPU time, once it has ended
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))


_live: dict[str, LocalRun] = {}
_live_lock = threading.Lock()
stopping = threading.Event()  # set once the flow is being cancelled: no new run may start


def launch(handle: RunHandle, run_dir: Path, data_folder: str, slot_fd: int, env: dict[str, str]) -> LocalRun:
    """Start the run's entry script: forked from this process's fork server, or, with MNIST_FLOW_RUN_PROCESS=exec
    (or if the server refused), in a fresh interpreter."""
    log_file = run_dir / "run.log"
    argv = [handle.job.entry_script, *handle.job.arguments(data_folder)]
    child_env = {**os.environ, **env, "MNIST_FLOW_PARENT_PID": str(os.getpid()), "PYTHONUNBUFFERED": "1"}
    with open(log_file, "ab") as log:
        process: RunProcess | None = None
        if forked.process_model() == "fork":
            process = forked.start(argv, run_dir, child_env, log.fileno(), slot_fd)
        if process is None:
            process = subprocess.Popen(
                [sys.executable, "-u", str(LAUNCHER), *argv],
                cwd=run_dir,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(slot_fd,),
            )
    run = LocalRun(handle, process, log_file, slot_fd)
    with _live_lock:
        _live[handle.run_id] = run
    return run


def follow(run: LocalRun, sink: LogSink) -> int:
    """Hand each line of the run's log to `sink` as it is written; return the exit status when it ends."""

    def line(text: str) -> None:
        run.tail.append(text)
        sink(text)

    follow_log(run.log_file, line, ended=lambda: _reaped(run))
    forget(run)
    assert run.process.returncode is not None  # it has ended
    return run.process.returncode


def follow_log(log_file: Path, sink: LogSink, ended: Callable[[], bool]) -> None:
    """Hand each line of a growing log file to `sink` as it is written, until `ended()` and all is read."""
    pending = b""
    with open(log_file, "rb") as log:
        while True:
            finished = ended()  # read once more after the end: nothing is lost
            chunk = log.read()
            if chunk:
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    sink(_decoded(raw))
            elif finished:
                break
            else:
                time.sleep(POLL_SECONDS)
    if pending:
        sink(_decoded(pending))


def _reaped(run: LocalRun) -> bool:
    """Whether the run's process has ended. It is reaped with wait4 (here, or by the fork server), which, unlike
    Popen.poll, also returns the process's CPU time and peak memory (the benchmarks and the run's metrics report
    them)."""
    if isinstance(run.process, forked.ForkedProcess):  # the fork server reaps it with wait4 and says so
        if run.process.poll() is None:
            return False
        run.peak_memory_mb, run.cpu_seconds = run.process.peak_memory_mb, run.process.cpu_seconds
        return True
    if run.process.returncode is not None:
        return True
    try:
        pid, status, usage = os.wait4(run.process.pid, os.WNOHANG)
    except ChildProcessError:  # reaped meanwhile by Popen.wait (stopping the run)
        return run.process.poll() is not None
    if pid == 0:
        return False
    run.process.returncode = os.waitstatus_to_exitcode(status)
    run.peak_memory_mb = usage.ru_maxrss / 1024  # Linux reports kilobytes
    run.cpu_seconds = usage.ru_utime + usage.ru_stime
    return True


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def forget(run: LocalRun) -> None:
    with _live_lock:
        _live.pop(run.handle.run_id, None)
    with contextlib.suppress(OSError):
        os.close(run.slot_fd)  # the node is free again (the process, if alive, still holds its copy)


def stop(run_id: str) -> None:
    with _live_lock:
        run = _live.get(run_id)
    if run is not None:
        run.stopped = True
        stop_group(run.process)


def stop_all() -> list[str]:
    """Stop every run this process started and has not seen end; the ids of those stopped."""
    stopping.set()
    with _live_lock:
        run_ids = list(_live)
    for run_id in run_ids:
        stop(run_id)
    return run_ids


def live_run(run_id: str) -> LocalRun | None:
    with _live_lock:
        return _live.get(run_id)
