"""What the SDK v1 does with a service that misbehaves, and what the adapter then does: the real azureml-core down to
HTTP against the fake of Azure ML, each fault as the service (or the network) deals it. One test per defect a
reading of the SDK's code found (each failed before its mend):

1. a refused connection or a reset on a run-history poll: msrest's ClientRequestError, once its retries are spent
2. a log's SAS URL that answers 404, or whose answer breaks off
3. a cancel answered 403 or 429, which the SDK does not look at
4. a blob PUT that fails, which the SDK's upload logs and swallows
5. a registry 429 whose body has no `statusCode`, or is an HTML page
6. a submit whose answer is lost: the SDK posts it again and the service says the run id exists
7. the live statuses the SDK counts as running (NotResponding ...)
8. a submit that never answers; a cluster whose provisioning failed; the run's time limit
"""

import logging
import threading

import pytest

from steps.registry import register
from steps.training import start_or_reuse
from tests.flows.flow_runs import edit_train_script
from tests.idx_files import write_tiny_datastore_files
from tests.waiting import wait_until
from tests.workspaces.azureml_v1 import http_seam
from tests.workspaces.jobs import a_job_on
from workspaces.azureml_common import runs as following
from workspaces.base import ComputeSpec, RunHandle, TrainingJob, WorkspaceRef
from workspaces.errors import TransientError, WorkspaceError


@pytest.fixture
def adapter(fake_azure, azure_config, tmp_path):
    from workspaces.azureml_v1.workspace import AzureMLWorkspace

    ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path=str(azure_config))
    return AzureMLWorkspace.connect(ref)


@pytest.fixture
def job(adapter, training_copy, tmp_path):
    def make(rate: float = 0.8, spec: ComputeSpec | None = None) -> tuple[TrainingJob, object]:
        compute = adapter.provision_compute(spec or ComputeSpec(name="cpu-cluster"))
        data = adapter.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
        return a_job_on(data, training_copy, compute.name, rate), compute

    return make


def cancels(fake, run: RunHandle) -> int:
    return fake.count("POST", f"/runId/{run.run_id}/cancel")


# 1 ---------------------------------------------------------------------------------------------------------------
def test_a_refused_connection_and_a_reset_on_a_poll_are_retried_and_the_run_is_never_cancelled(
    adapter, fake_azure, job, training_copy
):
    edit_train_script(training_copy, "    print('fitting', flush=True)\n    import time; time.sleep(2)\n")
    run = adapter.submit(*job())
    lines: list[str] = []

    def network_trouble_once_it_fits():
        wait_until(lambda: "fitting" in lines, 60, "the run fitting")
        http_seam.refuse_next(12)  # more than msrest's and urllib3's retries of one poll
        fake_azure.fail("POST", "/runs:query", kind="reset", times=8)  # the poll: one query for every run followed

    threading.Thread(target=network_trouble_once_it_fits, daemon=True).start()
    result = adapter.stream_logs(run, lines.append)
    assert result.accuracy > 0.9 and cancels(fake_azure, run) == 0
    assert fake_azure.run_record(run.run_id)["status"] == "Completed"


# 2 ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", [{"status": 404, "code": "BlobNotFound"}, {"kind": "cut"}], ids=["404", "cut"])
def test_a_log_that_is_not_there_yet_or_breaks_off_is_read_again_at_the_next_poll(
    adapter, fake_azure, job, training_copy, fault
):
    edit_train_script(training_copy, "    print('first line', flush=True)\n    import time; time.sleep(1)\n")
    run = adapter.submit(*job())
    fake_azure.fail("GET", "/user_logs/std_log.txt", times=3, **fault)
    lines: list[str] = []
    result = adapter.stream_logs(run, lines.append)
    assert result.accuracy > 0.9 and cancels(fake_azure, run) == 0
    assert lines.count("first line") == 1 and sum(line.startswith("Accuracy is") for line in lines) == 1


# 3 ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [403, 429])
def test_a_cancel_that_is_not_taken_is_checked_and_warned_of_with_the_runs_link(
    adapter, fake_azure, job, training_copy, caplog, status, monkeypatch
):
    monkeypatch.setattr("workspaces.azureml_common.stopping.CONFIRM_SECONDS", 3)
    edit_train_script(training_copy, "    print('fitting slowly', flush=True)\n    import time; time.sleep(60)\n")
    run = adapter.submit(*job())
    fake_azure.fail("POST", "/cancel", status, "AuthorizationFailed" if status == 403 else "TooManyRequests", "no", 9)
    with caplog.at_level(logging.WARNING, logger="workspaces"):
        adapter.cancel(run)
    assert fake_azure.run_record(run.run_id)["status"] not in ("CancelRequested", "Canceled")  # it bills on
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"run {run.name} was asked to cancel, but has not" in w and run.url in w for w in warnings), warnings


# 4 ---------------------------------------------------------------------------------------------------------------
def test_a_file_whose_upload_failed_is_not_recorded_as_uploaded(adapter, fake_azure, tmp_path, monkeypatch):
    # the SDK reports the failure with a logging call whose arguments do not fit its message; logging ignores that
    # (it prints "--- Logging error ---"), pytest's capture would raise it, and so hide the swallowing: as logging
    monkeypatch.setattr(logging, "raiseExceptions", False)
    files = write_tiny_datastore_files(tmp_path / "data")
    fake_azure.fail("PUT", "/mnist/train-images.gz", 500, "InternalError", "Server busy", times=20)
    with pytest.raises(TransientError, match=r"train-images\.gz did not arrive whole"):
        adapter.upload(files, "mnist")
    recorded = adapter._manifest("mnist")
    assert "train-images.gz" not in recorded and "train-labels.gz" in recorded
    fake_azure.faults.clear()  # the storage is well again: the retry uploads it, and holds it
    data = adapter.upload(files, "mnist")
    assert adapter.holds(data) and "train-images.gz" in adapter._manifest("mnist")


# 5 ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [{"code": "TooManyRequests", "message": "slow down"}, b"<html><body>Too Many Requests</body></html>"],
    ids=["no-statusCode", "html"],
)
def test_a_throttled_registry_is_retried_whatever_its_answer_says(adapter, fake_azure, job, body):
    result = adapter.stream_logs(adapter.submit(*job()), lambda line: None)
    headers = {"Content-Type": "text/html"} if isinstance(body, bytes) else {}
    fake_azure.fail("POST", "/modelmanagement/v1.0/", 429, body=body, headers=headers, times=12)
    with pytest.raises(TransientError, match="HTTP 429"):
        register(adapter, result, "sklearn_mnist", {})
    fake_azure.faults.clear()
    assert register(adapter, result, "sklearn_mnist", {}).version == "1"


# 6 ---------------------------------------------------------------------------------------------------------------
def test_a_submit_whose_answer_was_lost_follows_the_run_it_created(adapter, fake_azure, job):
    fake_azure.fail("POST", "/snapshotrun", kind="lost")
    made, compute = job()
    run = adapter.submit(made, compute)
    assert fake_azure.count("POST", "/snapshotrun") == 2  # the SDK posted it again, and was told it exists
    assert len(fake_azure.created_runs()) == 1
    assert adapter.stream_logs(run, lambda line: None).accuracy > 0.9
    assert [known.run_id for known in adapter.find_runs(made)] == [run.run_id]  # tagged with its job's key


# 7 ---------------------------------------------------------------------------------------------------------------
def test_a_run_that_stops_responding_is_alive_warned_of_and_never_run_twice(
    adapter, fake_azure, job, training_copy, caplog, monkeypatch
):
    monkeypatch.setattr(following, "HEARTBEAT_SECONDS", 0.5)
    edit_train_script(training_copy, "    print('fitting', flush=True)\n    import time; time.sleep(4)\n")
    fake_azure.interruptions["reg-0.8"] = [["NotResponding", 3]]
    made, compute = job()
    run = adapter.submit(made, compute)
    wait_until(lambda: fake_azure.run_record(run.run_id)["status"] == "NotResponding", 60, "the run not responding")
    said: list[str] = []
    again = start_or_reuse(adapter, made, compute, said.append)  # what a retried task meets meanwhile
    assert isinstance(again, RunHandle) and again.run_id == run.run_id and "is NotResponding" in said[0]
    with caplog.at_level(logging.INFO, logger="workspaces"):
        assert adapter.stream_logs(run, lambda line: None).accuracy > 0.9
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("run reg-0.8 is not responding") for w in warned), warned
    assert len(fake_azure.created_runs()) == 1 and cancels(fake_azure, run) == 0


def test_a_run_stuck_past_the_deadline_is_given_up_not_cancelled(adapter, fake_azure, job, training_copy, monkeypatch):
    monkeypatch.setattr(following, "STUCK_DEADLINE_SECONDS", 1.0)
    edit_train_script(training_copy, "    print('fitting', flush=True)\n    import time; time.sleep(20)\n")
    fake_azure.interruptions["reg-0.8"] = [["NotResponding", 30]]
    run = adapter.submit(*job())
    with pytest.raises(WorkspaceError, match="has been NotResponding for .* it was not cancelled"):
        adapter.stream_logs(run, lambda line: None)
    assert cancels(fake_azure, run) == 0


# 8 ---------------------------------------------------------------------------------------------------------------
def test_a_submit_that_never_answers_is_given_up_and_retried_not_waited_for(adapter, fake_azure, job, monkeypatch):
    monkeypatch.setattr("workspaces.azureml_v1.sdk.SUBMIT_SECONDS", 2.0)
    fake_azure.fail("POST", "/snapshotrun", kind="hang", seconds=20)
    with pytest.raises(TransientError, match="no answer to the submit of run"):
        adapter.submit(*job())


def test_a_cluster_whose_provisioning_failed_takes_no_run(adapter, fake_azure, job):
    error = {"error": {"code": "AllocationFailed", "message": "No capacity for STANDARD_D2_V2 in eastus2"}}
    fake_azure.failed_provisioning["cpu-cluster"] = [error]
    with pytest.raises(WorkspaceError, match="creating compute 'cpu-cluster'.*state: Failed.*AllocationFailed"):
        adapter.provision_compute(ComputeSpec(name="cpu-cluster"))  # the SDK's own words: it raises this one
    with pytest.raises(WorkspaceError, match="its provisioning failed .*AllocationFailed.*nothing was submitted"):
        job()  # the next flow finds the failed cluster: the adapter's words
    assert fake_azure.count("POST", "/snapshotrun") == 0


def test_a_run_is_given_the_time_limit_of_its_compute(adapter, fake_azure, job):
    run = adapter.submit(*job(spec=ComputeSpec(name="cpu-cluster", max_run_minutes=45)))
    assert fake_azure.run_record(run.run_id)["max_run_duration_seconds"] == 45 * 60


# hours on the service, the clock scaled: an hour lasts two seconds -----------------------------------------------
def test_a_run_followed_past_the_expiry_of_its_logs_sas_is_read_whole_and_registered(
    adapter, fake_azure, job, training_copy
):
    """The services hand out SAS URLs valid for an hour (a log file's, in the run's details) and a run can last
    three: here an hour is two seconds and the run prints for seven. A log URL the storage refuses (Azurite checks
    the expiry, as Azure does) is asked for again with the run's details, and read on from where it stopped."""
    fake_azure.sas_hours = 2 / 3600
    printing = "    import time\n    for n in range(14):\n        print('line', n, flush=True); time.sleep(0.5)\n"
    edit_train_script(training_copy, printing)
    made, compute = job()
    lines: list[str] = []
    result = adapter.stream_logs(adapter.submit(made, compute), lines.append)
    assert [line for line in lines if line.startswith("line ")] == [f"line {n}" for n in range(14)]
    version = register(adapter, result, "sklearn_mnist", {})  # its model read hours after the flow began
    (training_copy / "fetched").mkdir()
    assert type(adapter.load_model(version, training_copy / "fetched")).__name__ == "LogisticRegression"


# found beside the list -----------------------------------------------------------------------------------
def test_metrics_that_could_not_be_listed_are_read_again_not_taken_for_none(adapter, fake_azure, job):
    """SDK v1's metrics client answers {} when listing a run's metric names fails (get_metrics_for_run_v2 swallows
    the error): a healthy run looked as if it never logged its accuracy, failed for good, and was trained again."""
    made, compute = job()
    run = adapter.submit(made, compute)
    wait_until(lambda: fake_azure.run_record(run.run_id)["status"] == "Completed", 60, "the run completed")
    fake_azure.fail("POST", "/list", 500, "InternalServerError", "busy", times=4)  # the SDK's tries of one read
    assert adapter.stream_logs(run, lambda line: None).accuracy > 0.9
    fake_azure.fail("POST", "/list", 500, "InternalServerError", "busy", times=4)
    assert [known.state for known in adapter.find_runs(made)] == ["finished"]  # adopted, not trained again


def test_a_registration_whose_answer_was_lost_leaves_one_version(adapter, fake_azure, job):
    """The SDK sends the registration again (its ClientBase retries a POST on a connection error) and the service
    registers the run twice: the duplicate is deleted, the run has one version."""
    made, compute = job()
    result = adapter.stream_logs(adapter.submit(made, compute), lambda line: None)
    fake_azure.faults.fail("POST", "/models", "lost")
    version = register(adapter, result, "sklearn_mnist", {})
    assert fake_azure.faults.count("lost") == 1 and fake_azure.count("POST", "/models") == 2
    assert [(m["version"], m["run_id"]) for m in fake_azure.registry()] == [(version.version, result.run_id)]


def test_a_snapshot_blob_whose_answer_was_lost_is_retried_not_refused(adapter, fake_azure, job):
    """The storage client sends a lost blob write again with If-None-Match: *, and meets the blob it wrote:
    "BlobAlreadyExists". The write took: the submit is retried (TransientError), not refused as final."""
    made, compute = job()
    fake_azure.faults.fail("PUT", "/train.py", "lost")
    with pytest.raises(TransientError, match="already exists"):
        adapter.submit(made, compute)
    assert fake_azure.created_runs() == []  # nothing started: the retry submits it
    assert adapter.stream_logs(adapter.submit(made, compute), lambda line: None).accuracy > 0.9
