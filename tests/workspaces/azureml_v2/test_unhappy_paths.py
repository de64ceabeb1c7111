"""What the SDK v2 adapter does where the service says no, on the adapter itself (the real azure-ai-ml against the
fake service): the cases a whole flow does not need to show (tests/workspaces/azureml_v2/test_flow_on_the_service.py
has those)."""

import pytest

from tests.flows.flow_runs import held_while
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.azureml_v2.contract import opened
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec
from workspaces.errors import WorkspaceError


def test_a_cluster_whose_provisioning_failed_takes_no_job(fake_azure_v2, request, tmp_path):
    """A reused cluster's provisioningState is looked at: one whose creation failed (no capacity, a quota) would
    queue jobs for ever. The next flow says so in one line and submits nothing."""
    workspace = opened(request, tmp_path)
    workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    failed = {"error": {"code": "AllocationFailed", "message": "No capacity for STANDARD_D2_V2 in eastus2"}}
    properties = fake_azure_v2.state["computes"]["cpu-cluster"]["properties"]
    properties.update(provisioningState="Failed", provisioningErrors=[failed])
    with pytest.raises(WorkspaceError, match="its provisioning failed .*AllocationFailed.*nothing was submitted"):
        workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    assert fake_azure_v2.count("PUT", "/jobs/") == 0


def test_a_status_listing_with_an_entry_missing_its_id_or_status_is_read_past(
    fake_azure_v2, request, tmp_path, training_copy, hold
):
    """An answer of the run history is input: a listing whose entries lack `runId` or `status` does not fail the
    follow (it failed with a KeyError, taken for a final refusal); the run is followed by its details and ends.
    The run's script is held until the third odd answer is given, so the follow meets all three."""
    workspace = opened(request, tmp_path)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    hold.touch()
    held_while(hold, training_copy)
    run = workspace.submit(a_job_on(data, training_copy, compute.name), compute)
    odd = {"value": [{"status": "Running"}, {"runId": run.run_id}], "continuationToken": None}
    fake_azure_v2.faults.fail("POST", "/runs:query", "status", 200, times=3, body=odd, spent=hold.unlink)
    result = workspace.stream_logs(run, lambda line: None)
    assert result.status == "Completed" and result.accuracy > 0.9
    assert fake_azure_v2.count("POST", "/runs:query") >= 3  # the odd answers were met, not skipped by the test
