"""Local runs forked from the flow's fork server (workspaces/local/forked.py, forkserver.py): each is still its own
process, with its own folder, environment, log, session, thread counts and random seeds, holding its node lock,
and none outlives the server's flow. That a forked run trains the same bits as a fresh interpreter is
tests/flows/test_reproduce.py's: the flow's runs are forked, the rebuild runs `python train.py`.
"""

import json
import os
import signal
import subprocess

import pytest

from tests.waiting import wait_until
from workspaces import locks
from workspaces.errors import ConfigError
from workspaces.local import forked

REPORT = """
import json, os, random, sys, threadpoolctl, numpy
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "run_id": os.environ.get("MLFLOW_RUN_ID"), "pid": os.getpid(),
    "group": os.getpgid(0), "session": os.getsid(0), "parent": os.getppid(), "stdin": sys.stdin.read(),
    "threads": {i["user_api"]: i["num_threads"] for i in threadpoolctl.threadpool_info()},
    "random": random.random(), "numpy_random": float(numpy.random.random()), "fresh_numpy": "numpy" in sys.modules,
}))
sys.exit(int(os.environ.get("EXIT_WITH", "0")))
"""


@pytest.fixture
def server(processes):
    started = forked.ForkServer()
    assert not started.refused, started.refused
    yield started
    started.close()


def run_folder(tmp_path, name, script=REPORT):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "train.py").write_text(script)
    return folder


def fork(server, folder, node, **env):
    with open(folder / "run.log", "ab") as log:
        slot = locks.try_lock(node)
        assert slot is not None
        try:
            return server.start(
                ["train.py", "--regularization", "0.8"], folder, {**os.environ, **env}, log.fileno(), slot
            )
        finally:
            locks.release(slot)  # as the flow does once the run is started: the run holds its own copy


def test_each_run_is_its_own_process_with_its_folder_environment_log_and_session(server, tmp_path):
    one, two = run_folder(tmp_path, "one"), run_folder(tmp_path, "two")
    first = fork(
        server, one, tmp_path / "node-0.lock", MLFLOW_RUN_ID="run-1", OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2"
    )
    second = fork(server, two, tmp_path / "node-1.lock", MLFLOW_RUN_ID="run-2", OPENBLAS_NUM_THREADS="1", EXIT_WITH="3")
    assert first.wait(timeout=60) == 0 and second.wait(timeout=60) == 3  # exit statuses as the script set them
    a, b = (json.loads((f / "run.log").read_text().splitlines()[-1]) for f in (one, two))
    assert a["argv"] == [str(one / "train.py"), "--regularization", "0.8"]  # as launcher.py gives it
    assert (a["cwd"], b["cwd"]) == (str(one), str(two))
    assert (a["run_id"], b["run_id"]) == ("run-1", "run-2")
    assert a["pid"] == a["group"] == a["session"] == first.pid  # its own session: one killpg stops it all
    assert a["parent"] == server.process.pid and a["stdin"] == ""
    assert a["threads"]["blas"] == 2 and a["threads"]["openmp"] == 2  # the server's one thread, widened
    assert b["threads"]["blas"] == 1
    assert a["random"] != b["random"] and a["numpy_random"] != b["numpy_random"]  # reseeded, as a fresh one is
    assert first.cpu_seconds > 0 and first.peak_memory_mb > 50  # from the server's wait4


def test_a_traceback_goes_to_the_log_and_exits_1(server, tmp_path):
    folder = run_folder(tmp_path, "failing", "raise ValueError('no such regularization')\n")
    assert fork(server, folder, tmp_path / "node.lock").wait(timeout=60) == 1
    log = (folder / "run.log").read_text()
    assert "Traceback" in log and "ValueError: no such regularization" in log


ENDING = """
import atexit, sys, threading, time
atexit.register(lambda: print("atexit ran"))
def late():
    time.sleep(0.5)
    print("thread finished")
threading.Thread(target=late).start()
sys.stdout.write("unflushed, without a newline")
sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_a_run_ends_as_python_would_its_threads_joined_atexit_run_output_flushed(server, tmp_path, code):
    folder = run_folder(tmp_path, "ending", ENDING)
    with open(folder / "run.log", "ab") as log, open(folder / "node.lock", "ab") as node:
        run = server.start(["train.py", str(code)], folder, dict(os.environ), log.fileno(), node.fileno())
    assert run.wait(timeout=60) == code
    assert (folder / "run.log").read_text() == "unflushed, without a newlinethread finished\natexit ran\n"


SLEEPER = "import time; print('fitting', flush=True); time.sleep(300)\n"


def test_a_run_holds_its_node_until_it_ends(server, tmp_path):
    node = tmp_path / "node-0.lock"
    run = fork(server, run_folder(tmp_path, "slow", SLEEPER), node)
    assert locks.is_locked(node)  # the flow's copy is closed: the run's own holds it
    os.killpg(run.pid, signal.SIGTERM)
    assert run.wait(timeout=30) == -signal.SIGTERM
    assert not locks.is_locked(node)


def test_a_run_that_does_not_end_in_time_times_out_like_popen(server, tmp_path):
    run = fork(server, run_folder(tmp_path, "slow", SLEEPER), tmp_path / "node.lock")
    with pytest.raises(subprocess.TimeoutExpired):
        run.wait(timeout=0.2)
    assert run.poll() is None
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL


def test_runs_end_with_the_flow_that_closed_the_server(processes, tmp_path):
    server = forked.ForkServer()
    node = tmp_path / "node.lock"
    run = fork(server, run_folder(tmp_path, "slow", SLEEPER), node)
    server.close()  # what a flow's death does to the server's socket
    assert run.wait(timeout=30) == -signal.SIGKILL
    assert not locks.is_locked(node)
    assert server.process.returncode == 0


def start_from_the_process_server(folder):
    with open(folder / "run.log", "ab") as log, open(folder / "node.lock", "ab") as node:
        return forked.start(["train.py"], folder, dict(os.environ), log.fileno(), node.fileno())


def test_runs_die_with_a_killed_server_and_the_next_run_gets_a_new_one(processes, tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "_server", None)
    first = start_from_the_process_server(run_folder(tmp_path, "slow", SLEEPER))
    server = forked._server
    assert first is not None and server is not None
    server.process.send_signal(signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    wait_until(lambda: not os.path.exists(f"/proc/{first.pid}"), 10, "the run dying with its server")
    second = start_from_the_process_server(run_folder(tmp_path, "quick", "print('ok')\n"))
    assert second is not None and second.wait(timeout=60) == 0
    assert forked._server is not server and (tmp_path / "quick" / "run.log").read_text() == "ok\n"
    forked._server.close()


def test_the_process_model_is_fork_exec_or_one_clear_error(monkeypatch):
    monkeypatch.delenv("MNIST_FLOW_RUN_PROCESS", raising=False)
    assert forked.process_model() == "fork"
    monkeypatch.setenv("MNIST_FLOW_RUN_PROCESS", "exec")
    assert forked.process_model() == "exec"
    monkeypatch.setenv("MNIST_FLOW_RUN_PROCESS", "spawn")
    with pytest.raises(ConfigError, match="MNIST_FLOW_RUN_PROCESS 'spawn': expected 'fork' .* or 'exec'"):
        forked.process_model()


def test_a_server_with_a_thread_after_its_imports_refuses_and_runs_start_fresh(tmp_path, monkeypatch, caplog):
    """pyarrow (imported with scikit-learn) starts its allocator's thread when told to: forking then would copy
    one thread of two, so the server refuses, and the flow's runs start as fresh interpreters."""
    monkeypatch.setenv("JE_ARROW_MALLOC_CONF", "background_thread:true")
    monkeypatch.setattr(forked, "_server", None)
    folder = run_folder(tmp_path, "run", "print('ran')\n")
    assert start_from_the_process_server(folder) is None  # the caller starts `python launcher.py train.py`
    assert "2 threads after importing numpy" in forked._server.refused
    assert "the fork server refused (2 threads after importing" in caplog.text
    assert not (folder / "run.log").read_text()  # nothing ran
    monkeypatch.setattr(forked, "_server", None)
