"""The port's contract that a job is trained at most once (steps/training.py: start_or_reuse), on every backend
(the workspaces of conftest.py)."""

import pytest

from steps.training import start_or_reuse
from tests.flows.flow_runs import held_while
from workspaces.base import RunHandle, RunResult
from workspaces.errors import RunFailed


def start(workspace, job, compute, said: list[str], retrain: bool = False) -> RunHandle | RunResult:
    return start_or_reuse(workspace, job, compute, said.append, retrain)


def test_a_finished_run_is_adopted_and_nothing_is_submitted(workspace, job_and_compute):
    job, compute = job_and_compute()
    said: list[str] = []
    first = workspace.stream_logs(start(workspace, job, compute, said), lambda line: None)
    again = start(workspace, job, compute, said)
    assert isinstance(again, RunResult) and again.run_id == first.run_id and again.accuracy == first.accuracy
    assert said == [f"run {first.run_id} already trained reg-0.8 (key {job.key[:12]}...): reused, nothing submitted"]
    assert [known.run_id for known in workspace.find_runs(job)] == [first.run_id]


def test_asked_to_retrain_a_finished_job_trains_it_again(workspace, job_and_compute):
    job, compute = job_and_compute()
    first = workspace.stream_logs(start(workspace, job, compute, []), lambda line: None)
    again = start(workspace, job, compute, [], retrain=True)
    assert isinstance(again, RunHandle) and again.run_id != first.run_id
    workspace.stream_logs(again, lambda line: None)


def test_a_run_under_way_is_attached_not_repeated(workspace, job_and_compute, training_copy, hold):
    """What a retried task meets: its first attempt's run still going."""
    hold.touch()
    held_while(hold, training_copy)
    job, compute = job_and_compute()
    said: list[str] = []
    submitted = start(workspace, job, compute, said)
    attached = start(workspace, job, compute, said)
    assert isinstance(attached, RunHandle) and attached.run_id == submitted.run_id
    assert said[-1].startswith(f"run {submitted.run_id} of reg-0.8 is ") and said[-1].endswith("re-attached")
    hold.unlink()
    assert workspace.stream_logs(attached, lambda line: None).accuracy > 0.9
    assert len(workspace.find_runs(job)) == 1


def test_a_failed_run_counts_for_nothing(workspace, job_and_compute, training_copy, hold):
    held_while(hold, training_copy, then="    raise RuntimeError('boom')\n")
    job, compute = job_and_compute()
    failed = start(workspace, job, compute, [])
    with pytest.raises(RunFailed):
        workspace.stream_logs(failed, lambda line: None)
    hold.touch()  # the second run stays under way until the test has looked
    again = start(workspace, job, compute, [])
    assert isinstance(again, RunHandle) and again.run_id != failed.run_id
    assert [known.state for known in workspace.find_runs(job)] == ["under_way", "failed"]
    hold.unlink()
    with pytest.raises(RunFailed):
        workspace.stream_logs(again, lambda line: None)


def test_the_key_is_what_decides_the_model(job_and_compute):
    job, _ = job_and_compute()
    assert job.model_copy(update={"run_name": "another-name", "compute": "gpu-cluster"}).key == job.key
    for change in (
        {"regularization": 0.4},
        {"source_hash": "1" * 64},
        {"libraries": {"scikit-learn": "1.8"}},
        {"experiment": "other"},
    ):
        assert job.model_copy(update=change).key != job.key, change
