"""Faults of the Azure ML backend, through the fake of the adapter's seam: 429 and 503 on submit and a
pre-empted node are retried with back-off; an auth failure, a quota error, an unknown VM size and a script
error are not, and their message says what to do."""

from tests.flows.flow_runs import edit_train_script, flow_run_id
from tests.prefect_api import log_lines


def test_throttled_and_unavailable_submits_are_retried(azure_flow, fake_azure):
    from tests.workspaces.azureml_v1.fake_sdk import http_error

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

    monkeypatch.setattr("workspaces.azureml_v1.workspace.make_sdk", refuse)
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML refused the credentials while connecting" in error and "az login" in error
    assert len(attempts) == 1


def test_a_quota_error_is_not_retried(azure_flow, fake_azure):
    from tests.workspaces.azureml_v1.fake_sdk import http_error

    fake_azure.failures["submit"].append(http_error(400, "QuotaExceeded: dedicated core quota for this family"))
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML quota exceeded while submitting run 'reg-0.8'" in error and "ask for more quota" in error
    assert len(fake_azure.called("submit")) == 1


def test_an_unknown_vm_size_is_not_retried(azure_flow, fake_azure):
    from azureml.exceptions import ComputeTargetException

    fake_azure.failures["create_compute"].append(
        ComputeTargetException("The specified VM size STANDARD_Z99 is not supported in region westeurope")
    )
    error = str(azure_flow(vm_size="STANDARD_Z99").result(raise_on_failure=False))
    assert "choose a --vm-size" in error and len(fake_azure.called("create_compute")) == 1


def test_a_failing_script_is_not_retried_and_ends_the_flow_with_its_log(azure_flow, fake_azure, training_copy):
    edit_train_script(training_copy, "    raise RuntimeError('boom on the cluster')\n")
    error = str(azure_flow(training_dir=str(training_copy)).result(raise_on_failure=False))
    assert "training run 'reg-0.8' failed on Azure ML (UserError" in error
    assert "RuntimeError: boom on the cluster" in error
    assert len(fake_azure.called("submit")) == 1
