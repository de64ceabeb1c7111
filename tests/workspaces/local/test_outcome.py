"""How a local run ended, in the terms of the retry rules (workspaces/local/outcome.py), on the function: what the
flow's error then says is what a user reads (tests/faults/test_training_faults.py runs a failing script through a
whole flow once)."""

import signal

import pytest

from tests.workspaces.jobs import a_job
from workspaces.base import RunHandle
from workspaces.errors import RunCancelled, RunFailed, TransientError
from workspaces.local.outcome import run_outcome

RUN = RunHandle(run_id="run-1", name="reg-0.8", job=a_job("mnist", {}))


def test_a_finished_run_is_its_result_and_one_without_its_accuracy_fails():
    finished = run_outcome(RUN, 0, False, (), {"accuracy": 0.91})
    assert finished.mlflow_status == "FINISHED" and finished.result.accuracy == 0.91
    silent = run_outcome(RUN, 0, False, ("done",), {})
    assert silent.mlflow_status == "FAILED" and isinstance(silent.error, RunFailed)
    assert "ended without logging 'accuracy'" in str(silent.error)


def test_a_memory_error_suggests_fewer_nodes_and_any_other_failure_is_not_retried():
    tail = ("Traceback (most recent call last):", "MemoryError: Unable to allocate 188. MiB")
    out_of_memory = run_outcome(RUN, 1, False, tail, {})
    assert isinstance(out_of_memory.error, RunFailed) and out_of_memory.mlflow_status == "FAILED"
    assert "failed (exit status 1); it ran out of memory: lower max_nodes (--max-nodes or" in str(out_of_memory.error)
    other = run_outcome(RUN, 1, False, ("RuntimeError: boom",), {})
    assert "failed (exit status 1); not retried: it would fail the same way" in str(other.error)


@pytest.mark.parametrize("stopped", [True, False], ids=["by its flow", "from outside"])
def test_a_killed_run_is_cancelled_by_its_flow_or_retried_when_killed_from_outside(stopped):
    outcome = run_outcome(RUN, -signal.SIGKILL, stopped, ("fitting",), {})
    assert outcome.mlflow_status == "KILLED"
    if stopped:
        assert isinstance(outcome.error, RunCancelled) and "its flow was cancelled" in str(outcome.error)
    else:
        assert isinstance(outcome.error, TransientError)
        assert "killed by SIGKILL from outside" in str(outcome.error) and "retrying" in str(outcome.error)
