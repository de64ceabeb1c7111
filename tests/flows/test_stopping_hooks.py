"""The flow's hooks as Prefect's runner runs them, in a process of their own after the flow's process is gone
(flows/stopping.py): cancelled, the flow run's Azure ML runs are found by its tag, from its own parameters, and
cancelled; crashed, a process that holds nothing cancels nothing, and the runs go on for the next flow run to
re-attach to. Run here with no workspace open in the process, on both SDKs' fakes."""

import logging
import uuid

import pytest
from prefect.client.schemas.objects import FlowRun

import workspaces
from flows.main import cancel_training_runs, mnist_training, stop_this_process_runs
from tests.flows.flow_runs import held_while
from tests.idx_files import write_tiny_datastore_files
from tests.waiting import wait_until
from tests.workspaces.azure import CANCELLING
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec
from workspaces.owners import creating_runs_for

pytestmark = pytest.mark.azure_http


@pytest.fixture
def flow_run_with_runs(prefect_api, azure, azure_config, training_copy, tmp_path, hold):
    """A flow run (as the Prefect API hands it to a hook) whose two runs are under way on the fake, and a process
    that has no workspace open (the hook's own)."""
    hold.touch()
    held_while(hold, training_copy)
    flow_run_id = uuid.uuid4()
    workspace = azure.opened()
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=4))
    with creating_runs_for(str(flow_run_id)):
        runs = [workspace.submit(a_job_on(data, training_copy, compute.name, rate), compute) for rate in (0.8, 0.4)]
    wait_until(lambda: all(azure.status(r.run_id) == "Running" for r in runs), 120, "the runs running")
    workspaces._open.clear()  # the hook's process: nothing of the flow's is open there
    backend = "azureml" if azure.v1 else "azureml-v2"
    params = {"backend": backend, "workspace_config": str(azure_config), "workspace_dir": str(tmp_path / "ws")}
    flow_run = FlowRun(id=flow_run_id, name="cancelled-run", flow_id=uuid.uuid4(), parameters={"params": params})
    return flow_run, runs


def test_a_cancelled_flow_runs_hook_cancels_its_runs_found_by_its_tag_and_says_so(azure, flow_run_with_runs, caplog):
    """It found no open workspace and cancelled nothing, while the runs billed on."""
    flow_run, runs = flow_run_with_runs
    with caplog.at_level(logging.INFO):
        cancel_training_runs(mnist_training, flow_run, None)
    assert all(azure.status(run.run_id) in CANCELLING for run in runs)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("the flow run was stopped")]
    assert said == [
        "the flow run was stopped: the 2 training runs on Azure ML were cancelled (each confirmed CancelRequested "
        "or ended)"
    ]


def test_a_crashed_flow_runs_runs_go_on_for_the_next_flow_run_to_re_attach(azure, flow_run_with_runs):
    flow_run, runs = flow_run_with_runs
    stop_this_process_runs(mnist_training, flow_run, None)
    assert [azure.status(run.run_id) for run in runs] == ["Running", "Running"]
    assert [azure.cancels(run.run_id) for run in runs] == [0, 0]
