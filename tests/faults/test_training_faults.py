"""Faults of a local training run: killed from outside (retried), its script failing (not retried)."""

import os
import signal
import subprocess
import threading

from tests.flows.flow_runs import (
    TWO_RATES,
    FlowProcess,
    edit_train_script,
    flow_command,
    flow_run_id,
    fork_servers,
    has_ended,
    mlflow_runs,
    model_versions,
    training_processes,
)
from tests.prefect_api import log_lines
from tests.waiting import wait_until


def slow_the_first_time(marker, when: str = "True") -> str:
    """train.py lines that make its first run (if `when`) announce itself and wait to be killed."""
    return (
        f"    import pathlib, sys, time\n    marker = pathlib.Path({str(marker)!r})\n"
        f"    if ({when}) and not marker.exists():\n"
        "        marker.touch(); print('fitting slowly', flush=True); time.sleep(300)\n"
    )


def test_a_run_sigkilled_mid_fit_from_outside_is_retried(flow, training_copy, tmp_path):
    edit_train_script(training_copy, slow_the_first_time(tmp_path / "started-once"))
    workspace = tmp_path / "ws"

    def kill_the_run_once_it_fits():
        logs = (tmp_path / "ws" / "runs").glob
        wait_until(lambda: any("fitting slowly" in log.read_text() for log in logs("*/run.log")), 120, "the fit")
        for pid in training_processes(workspace):
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_run_once_it_fits, daemon=True)
    killer.start()
    state = flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    assert not killer.is_alive()
    assert [r.info.status for r in mlflow_runs(tmp_path / "ws")] == ["KILLED", "FINISHED"]
    assert len(model_versions(tmp_path / "ws")) == 1
    lines = log_lines(flow_run_id(state), expect="killed by SIGKILL")
    assert any("training run 'reg-0.8' was killed by SIGKILL from outside" in line for line in lines)


def test_a_failing_script_is_not_retried_and_the_flow_says_why(flow, training_copy, tmp_path):
    edit_train_script(training_copy, "    raise RuntimeError('boom in train.py')\n")
    state = flow(training_dir=str(training_copy))
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert "training run 'reg-0.8' failed (exit status 1); not retried" in str(error)
    assert "RuntimeError: boom in train.py" in str(error)  # the run's last log lines
    assert [r.info.status for r in mlflow_runs(tmp_path / "ws")] == ["FAILED"]  # one attempt only
    assert model_versions(tmp_path / "ws") == []


def test_a_killed_flow_leaves_nothing_running_and_the_next_run_finishes_its_work(
    subprocess_env, mirror, tiny_data, training_copy, tmp_path
):
    """SIGKILL the flow process while reg-0.4 trains (reg-0.8 already done), then run the same command again."""
    edit_train_script(training_copy, slow_the_first_time(tmp_path / "started-once", when="'0.4' in sys.argv"))
    workspace = tmp_path / "ws"
    command = flow_command(tmp_path, mirror.url, tiny_data[1], "--training-dir", str(training_copy), *TWO_RATES)
    first = FlowProcess(command, subprocess_env)
    finished = "Task run 'train reg-0.8'"  # ... - Finished in state Completed(): its result is in the cache
    wait_until(
        lambda: (
            any(finished in line and "Finished in state Completed" in line for line in first.lines)
            and first.count("[reg-0.4] fitting slowly")
        ),
        180,
        "reg-0.8 cached and reg-0.4 fitting",
    )
    assert training_processes(workspace), first.output
    servers = fork_servers(first.process.pid)
    assert len(servers) == 1, first.output  # the runs were forked from the flow's server
    first.process.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # the server sees its socket close, kills its runs and ends (and had it been killed, PR_SET_PDEATHSIG would
    # have taken the runs)
    wait_until(lambda: training_processes(workspace) == [], 10, "the runs dying with their flow")
    wait_until(lambda: has_ended(servers[0]), 10, "the fork server ending with its flow")

    # the killed flow's flocks went with it: were they left, this run would wait until its time-out
    second = subprocess.run(command, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    runs = sorted((r.data.tags["mlflow.runName"], r.info.status) for r in mlflow_runs(workspace))
    assert runs == [("reg-0.4", "FINISHED"), ("reg-0.4", "KILLED"), ("reg-0.8", "FINISHED")]  # reg-0.8 was reused
    assert "Finished in state Cached" in second.stdout + second.stderr
    assert [str(v.version) for v in model_versions(workspace)] == ["1"]


LINGER = (
    'if __name__ == "__main__":\n    main()\n'
    "    print('run finished; lingering', flush=True)\n    import time; time.sleep(300)\n"
)


def test_a_flow_killed_after_its_runs_finished_trains_nothing_again(
    subprocess_env, mirror, tiny_data, training_copy, tmp_path
):
    """The window between a script's end and its task's persisted result, held open: each train.py ends its
    MLflow run (FINISHED, model saved), then lingers; the flow is SIGKILLed there. The rerun adopts each run."""
    script = training_copy / "train.py"
    script.write_text(script.read_text().replace('if __name__ == "__main__":\n    main()\n', LINGER))
    workspace = tmp_path / "ws"
    rates = ("--regularization", "0.8", "--regularization", "0.4", "--regularization", "0.1", "--max-nodes", "3")
    command = flow_command(tmp_path, mirror.url, tiny_data[1], "--training-dir", str(training_copy), *rates)
    first = FlowProcess(command, subprocess_env)
    wait_until(lambda: first.count("run finished; lingering") == 3, 180, "the three scripts ending their runs")
    assert sorted(r.info.status for r in mlflow_runs(workspace)) == ["FINISHED"] * 3
    first.process.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    wait_until(lambda: training_processes(workspace) == [], 10, "the runs dying with their flow")

    second = subprocess.run(command, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    runs = mlflow_runs(workspace)
    assert sorted((r.data.tags["mlflow.runName"], r.info.status) for r in runs) == [
        ("reg-0.1", "FINISHED"),
        ("reg-0.4", "FINISHED"),
        ("reg-0.8", "FINISHED"),
    ]
    output = second.stdout + second.stderr
    for run in runs:
        assert f"run {run.info.run_id} already trained {run.data.tags['mlflow.runName']}" in output
    assert "run finished; lingering" not in output  # nothing was trained again
    assert [str(v.version) for v in model_versions(workspace)] == ["1"]
