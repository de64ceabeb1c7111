"""What the SDK v2 adapter does where the service says no, on the adapter itself (the real azure-ai-ml against the
fake service): the cases a whole flow does not need to show (tests/workspaces/azureml_v2/test_flow_on_the_service.py
has those)."""

import pytest

from steps.training import start_or_reuse
from tests.flows.flow_runs import held_while
from tests.idx_files import write_tiny_datastore_files
from tests.waiting import wait_until
from tests.workspaces.azureml_v1.fake_runner import read_json, write_json
from tests.workspaces.azureml_v2.contract import opened
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec, RunHandle
from workspaces.errors import TransientError, WorkspaceError


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


def test_a_job_being_cancelled_is_attached_not_repeated_and_trained_anew_once_canceled(
    fake_azure_v2, request, tmp_path, training_copy, hold
):
    """CancelRequested is still going (and billed): a flow that finds its job so follows it rather than submitting
    a second one beside it; once it is Canceled (an earlier flow's stop, seen through), the retry trains anew."""
    workspace = opened(request, tmp_path)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    job = a_job_on(data, training_copy, compute.name)
    held_while(hold, training_copy)
    hold.touch()
    first = workspace.submit(job, compute)
    cancelling = tmp_path / "cancelling"
    cancelling.touch()
    record = fake_azure_v2.root / "runs" / first.run_id / "run.json"
    wait_until(lambda: read_json(record)["status"] == "Running", 60, "the job running")
    write_json(record, {**read_json(record), "cancelling_held_by": str(cancelling)})
    fake_azure_v2.cancel_from_outside(first.run_id)
    wait_until(lambda: read_json(record)["status"] == "CancelRequested", 60, "the job being cancelled")
    later = opened(request, tmp_path)  # the next flow's
    again = start_or_reuse(later, job, compute, lambda line: None)
    assert isinstance(again, RunHandle) and again.run_id == first.run_id
    assert fake_azure_v2.count("PUT", "/jobs/") == 1
    cancelling.unlink()
    with pytest.raises(TransientError, match="was being cancelled when this flow found it"):
        later.stream_logs(again, lambda line: None)
    hold.unlink()
    retried = start_or_reuse(opened(request, tmp_path), job, compute, lambda line: None)
    assert isinstance(retried, RunHandle) and retried.run_id.endswith("-2")
    assert workspace.stream_logs(retried, lambda line: None).status == "Completed"


def test_a_model_name_never_registered_is_no_version_wherever_the_registry_is_read(fake_azure_v2, request, tmp_path):
    """The service answers the versions of a name never registered with a 404 (UserError, ModelNotFound: recorded
    in Azure's own sessions, model_versions_list_missing.json), not an empty list: the champion, the versions and a
    run's version are none, not a refusal that fails the flow after its training."""
    workspace = opened(request, tmp_path)
    assert workspace.model_versions("sklearn_mnist") == []
    assert workspace.champion("sklearn_mnist") is None
    assert workspace.find_model_version("sklearn_mnist", "mnist-flow-0-1") is None
    listed = [s for m, u, s, _ in fake_azure_v2.answered if m == "GET" and u.split("?")[0].endswith("/versions")]
    assert listed == [404, 404, 404]


def test_a_status_query_the_run_history_refuses_falls_back_to_each_jobs_details(
    fake_azure_v2, request, tmp_path, training_copy
):
    """No recording shows the run history's `runs:query` answering for v2 jobs, and azure-ai-ml never sends it: if
    the service refuses it, the job is followed by its details, as the SDK's own jobs.stream polls, to its end."""
    workspace = opened(request, tmp_path)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    run = workspace.submit(a_job_on(data, training_copy, compute.name), compute)
    fake_azure_v2.fail("POST", "/runs:query", 400, "UserError", "Run query is not supported", times=1000)
    result = workspace.stream_logs(run, lambda line: None)
    assert result.status == "Completed" and result.accuracy > 0.9
    assert fake_azure_v2.count("POST", "/runs:query") == 1 and fake_azure_v2.count("GET", "/details") >= 2


def test_a_refused_look_at_a_finished_jobs_model_is_an_error_the_flow_understands(
    fake_azure_v2, request, tmp_path, training_copy
):
    """Whether a finished job kept its model was read outside the adapter's translation: azure-core's own error
    escaped (neither retried nor explained). Now a 503 there is retried by the step, as every other."""
    workspace = opened(request, tmp_path)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    job = a_job_on(data, training_copy, compute.name)
    workspace.stream_logs(workspace.submit(job, compute), lambda line: None)
    fake_azure_v2.faults.fail("GET", "/outputs/sklearn_mnist_model.pkl", "status", 503, times=100)
    with pytest.raises(TransientError, match="HTTP 503 while looking for job mnist-flow-.*'s model"):
        opened(request, tmp_path).find_runs(job)
