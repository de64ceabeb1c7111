"""What the SDK v2 adapter does where the service says no, on the adapter itself (the real azure-ai-ml against the
fake service): the cases a whole flow does not need to show (tests/workspaces/azureml_v2/test_flow_on_the_service.py
has those)."""

import pytest

from tests.workspaces.azureml_v2.contract import opened
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
