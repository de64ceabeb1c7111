"""Stopping a flow leaves no billed Azure ML run behind and says what it did, on both SDKs' adapters over their
HTTP fakes (the real SDKs down to HTTP): a run is found by its flow run's tag from another process's adapter (the
runner's cancellation hook), a run whose following gave up is still cancelled, a run created while the flow
stops is cancelled, and a cancel is sent once however often the flow's way out asks."""

import pytest

from tests.flows.flow_runs import held_while
from tests.idx_files import write_tiny_datastore_files
from tests.waiting import wait_until
from tests.workspaces.azure import CANCELLING
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec
from workspaces.errors import WorkspaceError
from workspaces.owners import creating_runs_for

pytestmark = pytest.mark.azure_http


@pytest.fixture
def held_runs(azure, training_copy, tmp_path, hold):
    """Start `n` runs of rates 0.1 ... on a workspace, held under way (a flow run `flow_run` creating them)."""
    hold.touch()
    held_while(hold, training_copy)

    def start(workspace, n: int, flow_run: str = "flow-run-1"):
        data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
        compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=4))
        with creating_runs_for(flow_run):
            runs = [
                workspace.submit(a_job_on(data, training_copy, compute.name, (k + 1) / 10), compute) for k in range(n)
            ]
        wait_until(lambda: all(azure.status(r.run_id) == "Running" for r in runs), 120, "the runs running")
        return runs

    return start


def test_a_flow_runs_runs_are_found_by_its_tag_and_cancelled_from_another_process(azure, held_runs):
    """The runner's cancellation hook runs in a process of its own: it opens the workspace anew and finds the flow
    run's runs by their tag; another flow run's run is left alone."""
    first = azure.opened()
    runs = held_runs(first, 2)
    (other,) = held_runs(first, 1, flow_run="flow-run-2")
    report = azure.opened().stop_runs_of("flow-run-1", "sklearn-mnist")
    assert sorted(report.stopped) == ["reg-0.1", "reg-0.2"] and report.complete
    assert report.line() == "the 2 training runs on Azure ML were cancelled (each confirmed CancelRequested or ended)"
    assert all(azure.status(run.run_id) in CANCELLING for run in runs)
    assert azure.status(other.run_id) == "Running" and azure.cancels(other.run_id) == 0


def test_a_run_whose_following_gave_up_is_still_cancelled_when_the_flow_is_stopped(azure, held_runs, monkeypatch):
    """Following gave up (an outage outlasted its patience) and dropped the run: a later Ctrl-C cancelled nothing,
    while the line said the runs were cancelled."""
    monkeypatch.setenv("MNIST_FLOW_FOLLOW_PATIENCE", "0.02")  # minutes: about a second
    workspace = azure.opened()
    (run,) = held_runs(workspace, 1)
    azure.fail_following(times=10_000)
    with pytest.raises(WorkspaceError, match="the run was not cancelled and may still be running on Azure ML"):
        workspace.stream_logs(run, lambda line: None)
    azure.fake.faults.clear()
    report = workspace.stop_all_runs()
    assert report.stopped == ("reg-0.1",) and azure.status(run.run_id) in CANCELLING


def test_a_run_created_while_the_flow_stops_is_cancelled(azure, held_runs, training_copy, monkeypatch):
    """The stop arrives while a run is being created: the submit looked at the stop before its create only, and
    the run was left billing. Now the run, once created, is cancelled at once."""
    workspace = azure.opened()
    (first,) = held_runs(workspace, 1)
    watch = workspace._watch

    def watch_then_stop(*args, **kwargs):  # the flow is stopped while the run's create request is on its way
        watch(*args, **kwargs)
        workspace._stopping = True

    monkeypatch.setattr(workspace, "_watch", watch_then_stop)
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=4))
    late = workspace.submit(a_job_on(first.job.data, training_copy, compute.name, 0.5), compute)
    assert azure.status(late.run_id) in ("NotStarted", "Starting", "Preparing", "Queued", "Running", *CANCELLING)
    wait_until(lambda: azure.status(late.run_id) in CANCELLING, 60, "the late run cancelled")
    assert azure.cancels(late.run_id) == 1


def test_stopping_asked_three_times_on_the_way_out_sends_each_cancel_once(azure, held_runs):
    workspace = azure.opened()
    runs = held_runs(workspace, 2)
    for run in runs:
        workspace.attach(run.job, workspace.find_runs(run.job)[0])
    reports = [workspace.stop_all_runs() for _ in range(3)]
    assert reports[0] == reports[1] == reports[2] and sorted(reports[0].stopped) == ["reg-0.1", "reg-0.2"]
    assert [azure.cancels(run.run_id) for run in runs] == [1, 1]
