"""The flow's side of forkserver.py: one server per flow process, started on the first run, and a Popen-like
handle on each run it forks.

A forked run is still a separate OS process, in its own session, with its own folder, environment, log and node
lock, killed with its flow; what it shares with its siblings is what the server imported before forking
(numpy, SciPy, scikit-learn, joblib, MLflow: their code and their module-level state as import left it, copied
on write) and Python's hash seed. MNIST_FLOW_RUN_PROCESS=exec starts `python launcher.py train.py ...` per run
instead, a fresh interpreter as on Azure ML.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from workspaces.local.processes import THREAD_VARIABLES
from workspaces.local.settings import local_run_process

log = logging.getLogger(__name__)
FORKSERVER = Path(__file__).with_name("forkserver.py")
READY_TIMEOUT_SECONDS = 300.0  # importing the libraries: seconds, minutes on a cold, busy disk
REPLY_BYTES = 4096


def process_model() -> str:
    return local_run_process(os.environ)


class ForkedProcess:
    """What LocalRun and stop_group use of a Popen (pid, poll, wait, returncode), for a run the server forked;
    with its CPU time and peak memory from the server's wait4."""

    def __init__(self, pid: int, replies: socket.socket, argv: list[str]):
        self.pid = pid
        self.args = argv
        self.returncode: int | None = None
        self.cpu_seconds: float | None = None
        self.peak_memory_mb: float | None = None
        self._replies = replies
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        if not self._lock.acquire(blocking=False):  # another thread is waiting for the end: it will see it
            return self.returncode
        try:
            return self._receive(timeout=0)
        finally:
            self._lock.release()

    def wait(self, timeout: float | None = None) -> int:
        with self._lock:
            if self._receive(timeout) is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def _receive(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        self._replies.settimeout(timeout)
        try:
            reply = self._replies.recv(REPLY_BYTES)
        except (BlockingIOError, TimeoutError):
            return None
        except OSError:
            reply = b""
        if reply:
            ended = json.loads(reply)
            self.returncode, self.cpu_seconds = ended["exit"], ended["cpu_seconds"]
            self.peak_memory_mb = ended["peak_memory_mb"]
        else:  # the server died, and its runs with it (PR_SET_PDEATHSIG)
            self.returncode = -signal.SIGKILL
        self._replies.close()
        return self.returncode


def request_run(
    control: socket.socket, argv: list[str], cwd: Path, env: dict[str, str], log_fd: int, slot_fd: int
) -> ForkedProcess:
    """Ask the server at the other end of `control` to fork a run; raises OSError if it is gone. (A request is one
    message with its descriptors, so processes sharing `control` may ask at once: the answers come on each run's
    own socket.)"""
    replies, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with theirs:
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()
        socket.send_fds(control, [request], [theirs.fileno(), log_fd, slot_fd])
    answer = replies.recv(REPLY_BYTES)
    if not answer:
        replies.close()
        raise ConnectionError("the fork server ended before it started the run")
    return ForkedProcess(json.loads(answer)["pid"], replies, argv)


class ForkServer:
    def __init__(self) -> None:
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}  # no BLAS or OpenMP thread before a fork
        env.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")  # pyarrow's allocator thread, likewise
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-u", str(FORKSERVER), str(theirs.fileno())],
                cwd=FORKSERVER.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C reaches the flow, which stops the runs itself
                pass_fds=(theirs.fileno(),),
            )
        self.control.settimeout(READY_TIMEOUT_SECONDS)
        try:
            answer = json.loads(self.control.recv(REPLY_BYTES) or b"{}")
        except (OSError, ValueError):
            answer = {}
        self.control.settimeout(None)
        self.refused = answer.get("refused") or ("" if answer.get("ready") else "it did not start")
        if self.refused:
            self.process.kill()  # it may still be importing: do not wait for it
            self.close()
        else:
            log.debug("fork server %d ready (%.1f s of CPU importing)", self.process.pid, answer["preload_cpu_seconds"])

    def start(self, argv: list[str], cwd: Path, env: dict[str, str], log_fd: int, slot_fd: int) -> ForkedProcess:
        """Fork a run; raises OSError if the server is gone."""
        return request_run(self.control, argv, cwd, env, log_fd, slot_fd)

    def close(self) -> None:
        self.control.close()  # the server kills what is left of its runs and exits
        self.process.wait()


def alive(server: ForkServer | None) -> ForkServer:
    """`server`, or a new one if there is none or it died (one that refused stays refused: it would again)."""
    if server is None or (server.process.poll() is not None and not server.refused):
        return ForkServer()
    return server


_server: ForkServer | None = None
_server_lock = threading.Lock()


def start(argv: list[str], cwd: Path, env: dict[str, str], log_fd: int, slot_fd: int) -> ForkedProcess | None:
    """Fork a run from this process's server, starting it (or a new one, if it died) first; None if it refused
    (the caller starts a fresh interpreter)."""
    global _server
    with _server_lock:  # one request at a time on the control socket, one server per process
        for attempt in range(2):
            server = alive(_server)
            if server is not _server and server.refused:
                log.warning("local runs start fresh interpreters: the fork server refused (%s)", server.refused)
            _server = server
            if _server.refused:
                return None
            try:
                return _server.start(argv, cwd, env, log_fd, slot_fd)
            except OSError:
                _server.control.close()
                _server = None  # it died since the last run: start another
                if attempt:
                    raise
    return None
