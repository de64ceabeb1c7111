"""Faults of the Azure ML backend (SDK v1), the real flow against the fake of the adapter's seam, which raises the
SDK's own exceptions (tests/workspaces/azureml_v1/sdk_errors.py): throttling and server errors on submit and a
pre-empted node are retried with back-off; an auth failure, a quota error, an unknown VM size and a script error
are not, and their message says what to do. And the "never twice" rule: a submit that created its run before
failing, and a flow killed while its runs are queued or running, never train a job a second time."""

import signal
import sys

from tests.flows.flow_runs import TWO_RATES, FlowProcess, edit_train_script, flow_command, flow_run_id
from tests.prefect_api import log_lines
from tests.waiting import wait_until
from tests.workspaces.azureml_v1 import sdk_errors
from tests.workspaces.azureml_v1.fake_sdk import FakeAzureSdk, write_json


def test_throttled_and_unavailable_submits_are_retried(azure_flow, fake_azure):
    fake_azure.fail("submit", sdk_errors.submit_error(429, "TooManyRequests", "Rate limit exceeded"))
    fake_azure.fail("submit", sdk_errors.submit_error(503, "ServiceUnavailable", "Try again later"))
    state = azure_flow()
    assert state.is_completed(), state.message
    assert len(fake_azure.called("submit")) == 3 and len(fake_azure.created_runs()) == 1
    lines = log_lines(flow_run_id(state), "HTTP 429")
    assert any("Azure ML answered HTTP 429 while submitting run 'reg-0.8'; retrying" in line for line in lines)


def test_a_preempted_run_is_retried(azure_flow, fake_azure):
    fake_azure.preempt.append("reg-0.8")
    state = azure_flow()
    assert state.is_completed(), state.message
    assert [r["status"] for r in fake_azure.created_runs()] == ["Failed", "Completed"]
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
    quota = "Operation results in exceeding quota limits of Core. Maximum allowed: 0, Current in use: 0"
    fake_azure.fail("create_compute", sdk_errors.compute_error(400, "QuotaExceeded", quota))
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML quota exceeded while creating compute 'cpu-cluster'" in error and "ask for more quota" in error
    assert len(fake_azure.called("create_compute")) == 1


def test_an_unknown_vm_size_is_not_retried(azure_flow, fake_azure):
    size = "Virtual Machine size: 'STANDARD_Z99' is not supported for subscription in location 'westeurope'."
    fake_azure.fail("create_compute", sdk_errors.compute_error(400, "VMSizeNotSupported", size))
    error = str(azure_flow(vm_size="STANDARD_Z99").result(raise_on_failure=False))
    assert "choose a --vm-size" in error and len(fake_azure.called("create_compute")) == 1


def test_a_failing_script_is_not_retried_and_ends_the_flow_with_its_log(azure_flow, fake_azure, training_copy):
    edit_train_script(training_copy, "    raise RuntimeError('boom on the cluster')\n")
    error = str(azure_flow(training_dir=str(training_copy)).result(raise_on_failure=False))
    assert "training run 'reg-0.8' failed on Azure ML (UserError: AzureMLCompute job failed. JobFailed" in error
    assert "RuntimeError: boom on the cluster" in error
    assert len(fake_azure.called("submit")) == 1


# ---- never twice --------------------------------------------------------------------------------------------
def test_a_submit_that_failed_after_creating_its_run_is_reattached_not_repeated(azure_flow, fake_azure):
    """The submit's answer is lost (a 503 once the run exists, before it was tagged): the retry finds the run by
    the id the adapter chose for it, tags it, and follows it."""
    fake_azure.fail("submit", sdk_errors.submit_error(503, "ServiceUnavailable", "Try again later"), after=True)
    state = azure_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    runs = fake_azure.created_runs()
    assert len(runs) == 2 and all(r["status"] == "Completed" and r["tags"] for r in runs)
    lines = log_lines(flow_run_id(state), "re-attached")
    assert sum("re-attached" in line for line in lines) == 1


def flow_on_the_fake(tmp_path, mirror, tiny_data, azure_config, *flags) -> list[str]:
    """The flow as a command (so it can be killed), its Azure backend the fake in tmp_path/azure."""
    code = (
        "import sys, runpy; from tests.workspaces.azureml_v1.fake_sdk import install; install(sys.argv[1]); "
        "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    python = (sys.executable, "-c", code, str(tmp_path / "azure"))
    return flow_command(
        tmp_path,
        mirror.url,
        tiny_data[1],
        "--backend",
        "azureml",
        "--workspace-config",
        str(azure_config),
        *flags,
        python=python,
    )


def test_a_flow_killed_while_its_runs_queue_or_run_re_attaches_to_them(
    subprocess_env, mirror, tiny_data, azure_config, training_copy, tmp_path
):
    """Two runs, reg-0.4 still Queued and reg-0.8 Running, when the flow is SIGKILLed. On Azure they go on without
    it; the same command again finds both by their job key, streams their logs and waits: nothing submitted twice.
    The runs fit only once the second flow has re-attached to both (a gate file): were they to finish first, it
    would adopt them instead, a different path (tests/workspaces/test_never_twice.py)."""
    gate = tmp_path / "fit-now"
    wait_for_gate = f"    import os, time\n    while not os.path.exists({str(gate)!r}): time.sleep(0.1)\n"
    edit_train_script(training_copy, "    print('fitting', flush=True)\n" + wait_for_gate)
    # reg-0.4 queued long enough for reg-0.8 to be running by then, even on a busy machine (12 s was missed once)
    write_json(tmp_path / "azure" / "settings.json", {"queue_seconds": {"reg-0.4": 30}})
    sdk = FakeAzureSdk(tmp_path / "azure")
    command = flow_on_the_fake(
        tmp_path, mirror, tiny_data, azure_config, "--training-dir", str(training_copy), *TWO_RATES
    )
    statuses = lambda: {r["tags"].get("run_name"): r["status"] for r in sdk.created_runs()}  # noqa: E731
    first = FlowProcess(command, subprocess_env)
    try:
        wait_until(lambda: statuses() == {"reg-0.8": "Running", "reg-0.4": "Queued"}, 120, "one running, one queued")
        first.process.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        second = FlowProcess(command, subprocess_env)
        wait_until(lambda: second.count("re-attached") == 2, 180, "the second flow re-attached to both runs")
        gate.touch()
        assert second.wait(timeout=300) == 0, second.output[-3000:]
    finally:
        gate.touch()
        sdk.stop_every_run()
    runs = sdk.created_runs()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"Completed"}
    assert "Queued" in next(r for r in runs if r["tags"]["run_name"] == "reg-0.4")["history"]
    assert second.count("its flow is gone") == 2
    assert second.count("] Accuracy is") == 2  # each run's log streamed by the flow that re-attached to it
    assert [m["version"] for m in sdk.registry()] == ["1"]
