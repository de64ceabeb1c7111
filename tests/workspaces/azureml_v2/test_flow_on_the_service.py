"""Layers 2 and 3: the real flow with --backend azureml-v2, the real azure-ai-ml underneath, every request of
it through the HTTP-level fake of Azure ML (fake_service.py, answers shaped from Azure's recorded sessions) and
every blob through Azurite. Throttling, a server error, an expired token, a quota refusal and a job cancelled
outside the flow, each as Azure answers it."""

import threading

import pytest

from tests.flows.flow_runs import edit_train_script, flow_run_id
from tests.prefect_api import artifacts, log_lines, task_states
from tests.waiting import wait_until
from tests.workspaces.azureml_v1.fake_runner import read_json

pytestmark = pytest.mark.azure_http
CACHED_STEPS = ("download_mnist", "upload_data", "train_baseline", "submit_training", "register_best")


def test_the_tutorial_on_azure_ml_v2_then_an_all_cached_rerun(azure_v2_flow, fake_azure_v2):
    state = azure_v2_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    version = state.result()
    assert (version.version, version.champion) == ("1", True)
    assert version.source.startswith("azureml://jobs/mnist-flow-") and version.source.endswith(
        "/outputs/artifacts/paths/outputs/"
    )
    assert fake_azure_v2.count("PUT", "/computes/cpu-cluster") == 1 and fake_azure_v2.count("PUT", "/jobs/") == 2
    assert fake_azure_v2.count("PUT", "/data/mnist/versions/") == 1  # the data asset, versioned by its files
    lines = log_lines(flow_run_id(state), expect="[reg-0.4] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)
    assert "](https://ml.azure.com/runs/mnist-flow-" in artifacts(flow_run_id(state))["model-link"].data
    jobs = fake_azure_v2.state["jobs"].values()
    assert {j["properties"]["tags"]["run_name"] for j in jobs} == {"reg-0.8", "reg-0.4"}
    assert all(j["name"] == f"mnist-flow-{j['properties']['tags']['mnist_flow.job_key'][:24]}-1" for j in jobs)
    history = read_json(next((fake_azure_v2.root / "runs").glob("*/run.json")))["history"]
    assert history == ["NotStarted", "Starting", "Preparing", "Queued", "Running", "Finalizing", "Completed"]

    second = azure_v2_flow(regularization=[0.8, 0.4])
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert all(states[step] == ["Cached"] * len(states[step]) for step in CACHED_STEPS), states
    assert fake_azure_v2.count("PUT", "/jobs/") == 2 and fake_azure_v2.count("PUT", "/data/mnist/versions/") == 1
    assert any("found compute target 'cpu-cluster'" in line for line in log_lines(flow_run_id(second), "found"))


def test_throttling_is_waited_out_as_retry_after_says(azure_v2_flow, fake_azure_v2):
    """A 429 with Retry-After on the job's creation: azure-core's pipeline waits that long and asks again."""
    fake_azure_v2.fail("PUT", "/jobs/", 429, "TooManyRequests", "Rate limit exceeded", headers={"Retry-After": "2"})
    state = azure_v2_flow()
    assert state.is_completed(), state.message
    puts = [
        t for (m, u), t in zip(fake_azure_v2.requests, fake_azure_v2.times, strict=True) if m == "PUT" and "/jobs/" in u
    ]
    assert len(puts) == 2 and puts[1] - puts[0] >= 2  # asked again, after the wait the service asked for
    assert len(fake_azure_v2.state["jobs"]) == 1


@pytest.mark.parametrize("repeated_put", ["refused", "updated"])
def test_a_job_put_whose_answer_was_lost_is_followed_not_failed(azure_v2_flow, fake_azure_v2, repeated_put):
    """The service creates the job, the answer is lost; azure-core sends the PUT again, and the service refuses it
    as existing or takes it as an update (both answers are possible: fake_service.py, jobs_put): either way the
    one job is followed to its end, and nothing is cancelled."""
    fake_azure_v2.repeated_job_put = repeated_put
    fake_azure_v2.faults.fail("PUT", "/jobs/", "lost")
    state = azure_v2_flow()
    assert state.is_completed(), state.message
    assert fake_azure_v2.count("PUT", "/jobs/") == 2 and fake_azure_v2.count("POST", "/cancel") == 0
    (job,) = fake_azure_v2.state["jobs"].values()
    assert read_json(fake_azure_v2.root / "runs" / job["name"] / "run.json")["status"] == "Completed"


def test_a_model_path_the_service_rewrites_still_names_its_job(azure_v2_flow, fake_azure_v2, request, tmp_path):
    """The service may keep a path in its long form (it does for data URIs in Azure's recordings): the version's
    job is its tag, so the version names its run, and the never-twice lookup (a run's version, not registered
    again) finds it."""
    from tests.workspaces.azureml_v2.contract import opened

    fake_azure_v2.long_model_paths = True
    version = azure_v2_flow().result()
    assert "/datastores/workspaceartifactstore/paths/ExperimentRun/dcid.mnist-flow-" in version.source
    (job,) = fake_azure_v2.state["jobs"]
    assert version.run_id == job
    found = opened(request, tmp_path).find_model_version(version.name, job)
    assert found is not None and (found.version, found.run_id, found.sha256) == ("1", job, version.sha256)


@pytest.mark.parametrize("renewed", ["before it expires", "when refused"])
def test_the_datastores_sas_is_renewed(azure_v2_flow, fake_azure_v2, monkeypatch, training_copy, renewed):
    """A SAS lasts an hour and a flow follows its jobs for longer: here it lasts two seconds and the job's script
    sleeps four (Azurite refuses an expired SAS, as Azure does). Renewed ahead of its expiry, or, with no margin,
    once the storage refuses it: either way the model is read with a new SAS, and registered."""
    from workspaces.azureml_v2 import storage

    fake_azure_v2.sas_seconds = 2
    edit_train_script(training_copy, "    import time; time.sleep(4)\n")
    if renewed == "when refused":  # the adapter trusts a SAS an hour past its expiry: the storage must say no
        monkeypatch.setattr(storage, "SAS_MARGIN", storage.timedelta(hours=-1))
    state = azure_v2_flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    assert fake_azure_v2.count("PUT", "/models/sklearn_mnist/versions/") >= 1
    said = "refused the SAS" if renewed == "when refused" else "expires at"
    assert any(said in line for line in log_lines(flow_run_id(state), said))


def test_a_sas_the_storage_refuses_is_asked_for_again_once(azure_v2_flow, fake_azure_v2):
    refused = (
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Signature not '
        b"valid in the specified time frame</Message></Error>"
    )
    headers = {"Content-Type": "application/xml", "x-ms-error-code": "AuthenticationFailed"}
    fake_azure_v2.faults.fail("GET", "/outputs/sklearn_mnist_model.pkl", "status", 403, body=refused, headers=headers)
    state = azure_v2_flow()
    assert state.is_completed(), state.message
    assert fake_azure_v2.faults.count("status") == 1
    assert any("refused the SAS" in line for line in log_lines(flow_run_id(state), "refused the SAS"))


def test_a_job_that_stops_responding_or_pauses_is_warned_of_followed_and_never_cancelled(
    azure_v2_flow, fake_azure_v2, training_copy
):
    """NotResponding and Paused are live statuses: the flow says so (a WARNING naming the run), follows the job
    through them to its end, and neither cancels it nor submits a second one."""
    edit_train_script(training_copy, "    print('fitting', flush=True)\n    import time; time.sleep(6)\n")
    fake_azure_v2.interruptions["reg-0.8"] = [["NotResponding", 2], ["Paused", 2]]
    state = azure_v2_flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    (job,) = fake_azure_v2.state["jobs"]
    history = read_json(fake_azure_v2.root / "runs" / job / "run.json")["history"]
    assert "NotResponding" in history and "Paused" in history
    warned = log_lines(flow_run_id(state), "is not responding")
    assert any("run reg-0.8 is not responding" in line for line in warned), warned
    assert fake_azure_v2.count("POST", "/cancel") == 0 and fake_azure_v2.count("PUT", "/jobs/") == 1


def test_a_server_error_that_outlasts_the_pipelines_retries_is_retried_by_the_flow(azure_v2_flow, fake_azure_v2):
    fake_azure_v2.fail("GET", "/computes/", 503, "ServiceUnavailable", "Try again later", times=3)
    state = azure_v2_flow()
    assert state.is_completed(), state.message
    lines = log_lines(flow_run_id(state), "HTTP 503")
    assert any("Azure ML answered HTTP 503 while looking up compute 'cpu-cluster'; retrying" in line for line in lines)


def test_an_expired_token_is_retried_with_a_new_one(azure_v2_flow, fake_azure_v2):
    expired = (
        "The access token expiry UTC time '11/28/2026 10:00:00 AM' is earlier than current UTC time "
        "'11/28/2026 11:00:00 AM'."
    )
    fake_azure_v2.fail("GET", "/computes/", 401, "ExpiredAuthenticationToken", expired)
    state = azure_v2_flow()
    assert state.is_completed(), state.message
    assert any(
        "found the access token expired while looking up compute" in line
        for line in log_lines(flow_run_id(state), "expired")
    )


def test_a_quota_refusal_is_final_and_says_what_to_do(azure_v2_flow, fake_azure_v2):
    quota = "Operation results in exceeding quota limits of Core. Maximum allowed: 0, Current in use: 0"
    fake_azure_v2.fail("PUT", "/computes/", 400, "UserError", quota)
    error = str(azure_v2_flow().result(raise_on_failure=False))
    assert "Azure ML quota exceeded while creating compute 'cpu-cluster'" in error and "ask for more quota" in error
    assert fake_azure_v2.count("PUT", "/computes/") == 1 and not fake_azure_v2.state["jobs"]


def test_a_job_cancelled_outside_the_flow_fails_it_without_a_retry(azure_v2_flow, fake_azure_v2, training_copy):
    edit_train_script(training_copy, "    print('fitting slowly', flush=True)\n    import time; time.sleep(60)\n")
    jobs = fake_azure_v2.state["jobs"]

    def cancel_in_the_studio():
        wait_until(lambda: any((fake_azure_v2.root / "runs").glob("*/user_logs/std_log.txt")), 60, "the job running")
        fake_azure_v2.cancel_from_outside(next(iter(jobs)))

    threading.Thread(target=cancel_in_the_studio, daemon=True).start()
    error = str(azure_v2_flow(training_dir=str(training_copy)).result(raise_on_failure=False))
    assert "training run 'reg-0.8' was cancelled outside the flow (in the studio?); not retried" in error
    assert len(jobs) == 1


def test_a_failure_that_outlasts_every_retry_ends_the_flow_without_saying_retrying(azure_v2_flow, fake_azure_v2):
    """The flow's last line said "retrying" with no retry left; it says the step gave up now."""
    fake_azure_v2.fail("PUT", "/computes/", 503, "ServiceUnavailable", "Try again later", times=1000)
    error = str(azure_v2_flow().result(raise_on_failure=False))
    assert error.startswith("Azure ML answered HTTP 503 while creating compute 'cpu-cluster' (ServiceUnavailable")
    assert error.endswith("its step was retried and gave up: run the flow again once the cause has passed")
    assert "retrying" not in error
