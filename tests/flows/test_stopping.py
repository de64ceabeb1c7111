"""Stopping `python flows/main.py` as its real senders do (plumbing/stopping.py): Ctrl-C typed at a terminal (the
kernel's SIGINT to the whole foreground process group), SIGTERM to the command (kill, timeout, systemd, a container
stop), SIGHUP to the job's group (the terminal closed). The command runs as a user starts it, with no Prefect
server configured, so it starts the temporary one itself; each test checks the exit status, the line, the runs
marked KILLED, and that no process of the command (temporary server, fork server, training run) is left.
"""

import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.flows.flow_runs import (
    TWO_RATES,
    descendants,
    edit_train_script,
    flow_command,
    fork_servers,
    has_ended,
    mlflow_runs,
    training_processes,
)
from tests.terminal import TerminalJob
from tests.waiting import wait_until
from workspaces.local.workspace import LocalWorkspace

PROMPTLY = 90  # seconds: a generous bound that a hang (225 s before, retrying a dead server) cannot meet
STOPS = {
    "ctrl_c": (TerminalJob.press_ctrl_c, 130, "Ctrl-C (SIGINT)"),
    "sigterm": (lambda job: os.kill(job.pid, signal.SIGTERM), 143, "SIGTERM"),
    "sighup": (lambda job: os.killpg(job.pid, signal.SIGHUP), 129, "SIGHUP"),
}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="session")
def migrated_prefect_database(prefect_api, tmp_path_factory) -> Path:
    """A copy of a Prefect database migrated to this Prefect's schema (the session server's, copied before any test
    wrote to it could matter: SQLite's backup API, safe while it runs). Each stop starts from a copy, as a user's
    second run does: migrating a new database takes the temporary server 8 s more to start, which
    tests/flows/test_cli.py's cold run pays once."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url.get_secret_value()
    copy = tmp_path_factory.mktemp("migrated-prefect") / "prefect.db"
    with sqlite3.connect(url.split(":///", 1)[1]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


@pytest.fixture
def training_job(processes, mirror, tiny_data, training_copy, tmp_path, migrated_prefect_database):
    """The flow with two runs that fit for minutes, as a terminal's job, with no Prefect server configured (a
    HOME of its own, whose Prefect database is migrated): started, and waited for until both runs fit. Its
    processes are listed in `job.started`."""

    def start(process_model: str = "fork") -> TerminalJob:
        edit_train_script(training_copy, "    print('fitting slowly', flush=True)\n    import time; time.sleep(300)\n")
        (tmp_path / "home" / ".prefect").mkdir(parents=True)
        shutil.copyfile(migrated_prefect_database, tmp_path / "home" / ".prefect" / "prefect.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MNIST_", "AML_"))}
        env |= {"HOME": str(tmp_path / "home"), "MNIST_FLOW_RUN_PROCESS": process_model}
        command = flow_command(tmp_path, mirror.url, tiny_data[1], "--training-dir", str(training_copy), *TWO_RATES)
        job = TerminalJob(command, env, cwd=tmp_path)
        jobs.append(job)
        wait_until(lambda: job.count("fitting slowly") == 2, 180, "both runs fitting")
        job.started = descendants(job.pid)  # type: ignore[attr-defined]
        return job

    jobs: list[TerminalJob] = []
    yield start
    for job in jobs:
        job.close()


def left_behind(job) -> list[str]:
    return [cmdline(pid) for pid in job.started if not has_ended(pid)]


RECORDS = ("Crash detected!", "Finished in state")  # Prefect's record of how the flow and task runs ended


def errors(output: str) -> list[str]:
    """Tracebacks, and ERROR lines but Prefect's records of how runs ended (the truth: they were interrupted):
    what a stop wrote before was its clients' failures to reach a server the terminal had killed."""
    return [
        line
        for line in output.splitlines()
        if "Traceback" in line or ("ERROR" in line and not any(record in line for record in RECORDS))
    ]


@pytest.mark.parametrize(
    "stop, process_model", [("ctrl_c", "fork"), ("ctrl_c", "exec"), ("sigterm", "fork"), ("sighup", "fork")]
)
def test_a_stopped_command_stops_its_runs_ends_with_its_status_and_leaves_nothing(
    training_job, tmp_path, stop, process_model
):
    send, status, name = STOPS[stop]
    job = training_job(process_model)
    assert any("prefect.server.api.server:create_app" in cmdline(pid) for pid in job.started), "its own server"
    assert len(training_processes(tmp_path / "ws")) == 2, job.output
    # forked from the flow's fork server, or each a fresh `python launcher.py train.py ...`
    assert len(fork_servers(job.pid)) == (process_model == "fork"), job.output
    send(job)
    assert job.wait(timeout=PROMPTLY)[0] == status, job.output[-3000:]
    wait_until(lambda: left_behind(job) == [], 15, "every process of the command ending")
    assert training_processes(tmp_path / "ws") == []
    assert [r.info.status for r in mlflow_runs(tmp_path / "ws")] == ["KILLED", "KILLED"]
    assert job.lines[-1] == f"interrupted by {name}: the training runs were stopped and marked KILLED"
    assert errors(job.output) == [], job.output[-3000:]


def test_a_second_ctrl_c_ends_the_command_at_once_and_the_next_flow_marks_its_runs_killed(training_job, tmp_path):
    job = training_job()
    job.press_ctrl_c()
    wait_until(lambda: job.count("Crash detected!"), 30, "the first Ctrl-C being handled")  # (two at once are one)
    job.press_ctrl_c()
    assert job.wait(timeout=PROMPTLY)[0] == 130, job.output[-3000:]
    wait_until(lambda: left_behind(job) == [], 15, "every process of the command ending")
    assert job.count("stopped at once by a second Ctrl-C (SIGINT)") == 1, job.output[-3000:]
    assert [line for line in job.output.splitlines() if "Traceback" in line] == []
    # what the next flow does first: its store, opened in the background, marks the dead runs KILLED
    assert LocalWorkspace(tmp_path / "ws").tracking is not None
    assert [r.info.status for r in mlflow_runs(tmp_path / "ws")] == ["KILLED", "KILLED"]
