"""The real flow with --backend azureml, against the fake of the adapter's seam: create vs. attach, upload,
parallel runs with streamed logs, retried and final failures, idempotent registration."""

import pytest

from tests.flows.flow_runs import edit_train_script, flow_run_id, run_flow
from tests.prefect_api import artifacts, log_lines, task_states

CACHED_STEPS = ("download_mnist", "look_at_digits", "upload_data", "train_baseline", "submit_training", "register_best")


@pytest.fixture
def azure_flow(prefect_api, mirror, tiny_data, tmp_path, fake_azure, azure_config):
    defaults = {"backend": "azureml", "workspace_config": str(azure_config), "workspace_dir": str(tmp_path / "ws"),
                "mirrors": [mirror.url], "dataset": tiny_data[1], "max_nodes": 2}  # fmt: skip
    return lambda **arguments: run_flow(**{**defaults, **arguments})


def test_the_tutorial_on_azure_ml_then_an_all_cached_rerun(azure_flow, fake_azure):
    state = azure_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    version = state.result()
    assert (version.version, version.champion, version.source) == ("1", True, "azureml://models/sklearn_mnist/1")
    assert len(fake_azure.called("create_compute")) == 1
    assert [args[1] for args in fake_azure.called("upload_files")] == [
        ["train-images.gz", "train-labels.gz", "test-images.gz", "test-labels.gz"], ["manifest.json"]]  # fmt: skip
    order = [name for name, _ in fake_azure.calls if name in ("submit", "run_metrics")]
    assert order[:2] == ["submit", "submit"]  # both runs on the cluster at once
    lines = log_lines(flow_run_id(state), expect="[reg-0.4] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)
    assert "](https://ml.azure.com/runs/" in artifacts(flow_run_id(state))["model-link"].data

    second = azure_flow(regularization=[0.8, 0.4])
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert all(states[step] == ["Cached"] * len(states[step]) for step in CACHED_STEPS), states
    assert len(fake_azure.called("create_compute")) == 1 and len(fake_azure.called("submit")) == 2
    assert len(fake_azure.called("register_model")) == 1
    assert any("found compute target 'cpu-cluster'" in line for line in log_lines(flow_run_id(second), "found"))


def test_throttled_and_unavailable_submits_are_retried(azure_flow, fake_azure):
    from tests.workspaces.fake_azure import http_error

    fake_azure.failures["submit"] += [http_error(429, "Too Many Requests"), http_error(503, "Service Unavailable")]
    state = azure_flow()
    assert state.is_completed(), state.message
    assert len(fake_azure.called("submit")) == 3
    assert any("HTTP 429 while submitting run 'reg-0.8'" in line for line in log_lines(flow_run_id(state), "HTTP 429"))


def test_a_preempted_run_is_retried(azure_flow, fake_azure):
    fake_azure.preempt.append("reg-0.8")
    state = azure_flow()
    assert state.is_completed(), state.message
    assert len(fake_azure.called("submit")) == 2
    assert any("lost its node" in line for line in log_lines(flow_run_id(state), "lost its node"))


def test_an_auth_failure_is_not_retried_and_says_what_to_do(azure_flow, monkeypatch):
    from azureml.exceptions import AuthenticationException

    attempts = []

    def refuse(ref):
        attempts.append(ref)
        raise AuthenticationException("AADSTS7000215: Invalid client secret provided")

    monkeypatch.setattr("workspaces.azureml.make_sdk", refuse)
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML refused the credentials while connecting" in error and "az login" in error
    assert len(attempts) == 1


def test_a_quota_error_is_not_retried(azure_flow, fake_azure):
    from tests.workspaces.fake_azure import http_error

    fake_azure.failures["submit"].append(http_error(400, "QuotaExceeded: dedicated core quota for this family"))
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML quota exceeded while submitting run 'reg-0.8'" in error and "ask for more quota" in error
    assert len(fake_azure.called("submit")) == 1


def test_an_unknown_vm_size_is_not_retried(azure_flow, fake_azure):
    from azureml.exceptions import ComputeTargetException

    fake_azure.failures["create_compute"].append(
        ComputeTargetException("The specified VM size STANDARD_Z99 is not supported in region westeurope"))
    error = str(azure_flow(vm_size="STANDARD_Z99").result(raise_on_failure=False))
    assert "choose a --vm-size" in error and len(fake_azure.called("create_compute")) == 1


def test_a_failing_script_is_not_retried_and_ends_the_flow_with_its_log(azure_flow, fake_azure, training_copy):
    edit_train_script(training_copy, "    raise RuntimeError('boom on the cluster')\n")
    error = str(azure_flow(training_dir=str(training_copy)).result(raise_on_failure=False))
    assert "training run 'reg-0.8' failed on Azure ML (UserError" in error
    assert "RuntimeError: boom on the cluster" in error
    assert len(fake_azure.called("submit")) == 1


def test_delete_compute_is_the_tutorials_last_cell(azure_flow, fake_azure):
    assert azure_flow(delete_compute=True).is_completed()
    assert fake_azure.called("delete_compute") == [("cpu-cluster",)] and fake_azure.computes == {}
