"""A pre-forked interpreter for local training runs: it imports the libraries a run needs once per flow, then
forks one child per run, which becomes `python train.py ...` in the run's folder without importing them again.

Started by forked.py as `python -u forkserver.py <fd>`, where <fd> is its end of a SOCK_SEQPACKET socketpair whose
other end only the flow holds (nothing listens on a name, so nobody else can ask it to run anything).

- On start it imports PRELOAD with every numeric library on one thread, so that no thread exists when it forks
  (a fork copies only the forking thread: a lock another thread held would stay locked in the child forever).
  It answers `{"ready": true}`, or `{"refused": why}` if a thread exists anyway; the flow then starts fresh
  interpreters instead.
- A request is JSON `{"argv": [...], "cwd": ..., "env": {...}}` with three descriptors: the run's own socket (the
  replies go there), its log file, its node lock. The child makes itself a new session, asks to die with the
  server (PR_SET_PDEATHSIG), points stdin at /dev/null and stdout and stderr at the log, takes the run's folder
  and environment, sets the BLAS and OpenMP thread counts from that environment, reseeds the random generators
  and runs the script. The server answers `{"pid": n}` once the child is its own session (so the flow can signal
  its group), and `{"exit": code, "cpu_seconds": s, "peak_memory_mb": m}` when it has reaped it with wait4.
- The flow's end closing means the flow ended or died: the server kills its runs' groups and exits. The server
  dying kills its runs (PR_SET_PDEATHSIG). Either way no run outlives its flow, as with fresh interpreters.
"""

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

from launcher import die_with_parent, run_script  # type: ignore[import-not-found]  # its neighbour: run as a script

# train.py's imports, and the store module MLflow's client loads on its first call (SQLAlchemy, alembic)
PRELOAD = (
    "numpy",
    "scipy.optimize",
    "sklearn.linear_model",
    "joblib",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
)
MAX_MESSAGE = 1 << 20
DESCRIPTORS = 3  # the run's socket, its log, its node lock


@dataclass
class Request:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    log_fd: int
    started: int  # the pipe's write end: one byte once the child is its own session


def preload() -> dict:
    started = time.process_time()
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # the run imports what it needs itself, as a fresh interpreter would
            __import__(name)
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        return {"refused": f"{threads} threads after importing {', '.join(PRELOAD)}; forking would copy one"}
    return {"ready": True, "preload_cpu_seconds": round(time.process_time() - started, 2)}


def send(sock: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):  # the flow stopped listening for this run: nothing to tell
        sock.send(json.dumps(message).encode())


def serve(control: socket.socket) -> Request | None:
    """Fork a run per request until the flow's end closes; return the request in a child, None in the server."""
    runs: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the run's socket)
    with selectors.DefaultSelector() as selector:
        selector.register(control, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is not control:
                    report_end(key.fd, runs.pop(key.fd), selector)
                    continue
                try:
                    message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, DESCRIPTORS)
                except OSError:
                    message, fds = b"", []
                if not message:  # the flow ended or died
                    kill_runs(runs)
                    return None
                if len(fds) != DESCRIPTORS:
                    for fd in fds:
                        os.close(fd)
                    continue
                run_socket, log_fd, lock_fd = socket.socket(fileno=fds[0]), fds[1], fds[2]
                request = json.loads(message)
                started_r, started_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # the run: keep its log and its node lock, nothing of the server's
                    for _, other in runs.values():
                        other.close()
                    for pidfd in runs:
                        os.close(pidfd)
                    control.close()
                    run_socket.close()
                    os.close(started_r)
                    return Request(request["argv"], request["cwd"], request["env"], log_fd, started_w)
                os.close(started_w)
                os.read(started_r, 1)  # empty if the child died first: its end is reported all the same
                os.close(started_r)
                for fd in (log_fd, lock_fd):
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                runs[pidfd] = (pid, run_socket)
                selector.register(pidfd, selectors.EVENT_READ)
                send(run_socket, {"pid": pid})


def report_end(pidfd: int, run: tuple[int, socket.socket], selector: selectors.BaseSelector) -> None:
    pid, run_socket = run
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    ended = {
        "exit": os.waitstatus_to_exitcode(status),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_memory_mb": usage.ru_maxrss / 1024,  # Linux reports kilobytes
    }
    send(run_socket, ended)
    run_socket.close()


def kill_runs(runs: dict[int, tuple[int, socket.socket]]) -> None:
    for pid, _ in runs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    for pid, _ in runs.values():
        os.waitpid(pid, 0)


def become_run(request: Request, server: int) -> None:
    os.setsid()  # its own group: the flow stops the run and anything it started with one killpg
    die_with_parent(server)
    os.write(request.started, b"1")
    os.close(request.started)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd in (1, 2):
        os.dup2(request.log_fd, fd)
    os.close(request.log_fd)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)  # read from now on by anything the script loads or asks
    set_thread_counts(request.env)
    reseed()
    try:
        run_script(request.argv)
        code = 0
    except SystemExit as stop:
        code = exit_status(stop.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT
    except BaseException:
        sys.excepthook(*sys.exc_info())  # the traceback, as the interpreter prints it
        code = 1
    end_as_python_would(code)


def exit_status(code: object) -> int:
    """What `sys.exit(code)` makes the process's exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def end_as_python_would(code: int) -> None:
    """An interpreter's end as a run sees it (its non-daemon threads joined, its atexit functions run, its
    output flushed), without tearing down every module the server imported: that teardown touches each of their
    pages, which the fork shares with the server, and cost a run about 1 s of CPU copying them. Python's
    multiprocessing ends its forked children with os._exit the same way."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if code == -signal.SIGINT:  # Python ends on an uncaught KeyboardInterrupt by the signal itself
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def set_thread_counts(env: dict[str, str]) -> None:
    """What a fresh interpreter's BLAS and OpenMP would read from the environment when they load; they were
    loaded here with one thread each (no thread may exist at a fork), so they are told now."""
    import threadpoolctl  # scikit-learn's own dependency, already imported with it

    cores = os.cpu_count() or 1

    def count(*names: str) -> int:
        values = [env[n] for n in names if env.get(n, "").isdigit() and int(env[n]) > 0]
        return int(values[0]) if values else cores

    blas = count("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
    threadpoolctl.threadpool_limits(limits={"blas": blas, "openmp": count("OMP_NUM_THREADS")})


def reseed() -> None:
    """A fresh interpreter seeds its random generators from the OS; a forked one would share its siblings'."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def main() -> None:
    # No PR_SET_PDEATHSIG here: it fires when the flow's *thread* that started the server ends, and a flow's
    # task threads come and go. The flow's end of the socket closes only when the flow process does.
    control = socket.socket(fileno=int(sys.argv[1]))
    answer = preload()
    send(control, answer)
    if "ready" not in answer:
        return
    server = os.getpid()
    request = serve(control)
    if request is not None:
        become_run(request, server)


if __name__ == "__main__":
    main()
