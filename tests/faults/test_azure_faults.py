"""Faults of the Azure ML backend (SDK v1), the real flow and the real azureml-core against the HTTP fake of Azure ML:
throttling and server errors on submit and a pre-empted node are retried with back-off; an auth failure, a quota
error, an unknown VM size and a script error are not, and their message says what to do. And the "never twice"
rule: a submit whose answer was lost, and a flow killed while its runs are queued or running, never train a job a
second time."""

import os
import signal
import sys

from tests.conftest import PROJECT
from tests.flows.flow_runs import TWO_RATES, FlowProcess, edit_train_script, flow_command, flow_run_id
from tests.prefect_api import log_lines
from tests.waiting import wait_until

RETRY_AFTER = {"Retry-After": "1"}


def test_throttled_and_unavailable_submits_are_retried(azure_flow, fake_azure):
    # more than the SDK's own tries (4) of one submit each time: the flow's retry takes over
    fake_azure.fail("POST", "/snapshotrun", 429, "TooManyRequests", "Rate limit exceeded", 4, headers=RETRY_AFTER)
    fake_azure.fail("POST", "/snapshotrun", 503, "ServiceUnavailable", "Try again later", 4, headers=RETRY_AFTER)
    state = azure_flow()
    assert state.is_completed(), state.message
    assert fake_azure.count("POST", "/snapshotrun") == 9 and len(fake_azure.created_runs()) == 1
    lines = log_lines(flow_run_id(state), "HTTP 429")
    assert any("Azure ML answered HTTP 429 while submitting run 'reg-0.8'; retrying" in line for line in lines)


def test_a_preempted_run_is_retried(azure_flow, fake_azure):
    fake_azure.preempt.append("reg-0.8")
    state = azure_flow()
    assert state.is_completed(), state.message
    assert [r["status"] for r in fake_azure.created_runs()] == ["Failed", "Completed"]
    assert any("lost its node" in line for line in log_lines(flow_run_id(state), "lost its node"))


def test_an_auth_failure_is_not_retried_and_says_what_to_do(azure_flow, fake_azure, monkeypatch):
    """The credential refuses (as the CLI's login does with a wrong client secret), before any request is sent."""
    from azureml.exceptions import AuthenticationException

    from tests.workspaces.azureml_v1 import http_seam

    asked = []

    def refused():
        asked.append(1)
        raise AuthenticationException("AADSTS7000215: Invalid client secret provided")

    authentication = http_seam.fake_authentication()
    monkeypatch.setattr(type(authentication), "_get_arm_token", lambda self: refused())
    monkeypatch.setattr(http_seam, "fake_authentication", lambda: authentication)
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML refused the credentials while connecting" in error and "az login" in error
    assert len(asked) == 1 and fake_azure.count("GET", "/workspaces/ws-mnist") == 0


def test_a_quota_error_is_not_retried(azure_flow, fake_azure):
    quota = "Operation results in exceeding quota limits of Core. Maximum allowed: 0, Current in use: 0"
    fake_azure.fail("PUT", "/computes/cpu-cluster", 400, "QuotaExceeded", quota)
    error = str(azure_flow().result(raise_on_failure=False))
    assert "Azure ML quota exceeded while creating compute 'cpu-cluster'" in error and "ask for more quota" in error
    assert fake_azure.count("PUT", "/computes/cpu-cluster") == 1


def test_an_unknown_vm_size_is_not_retried(azure_flow, fake_azure):
    size = "Virtual Machine size: 'STANDARD_Z99' is not supported for subscription in location 'westeurope'."
    fake_azure.fail("PUT", "/computes/cpu-cluster", 400, "VMSizeNotSupported", size)
    error = str(azure_flow(vm_size="STANDARD_Z99").result(raise_on_failure=False))
    assert "choose a --vm-size" in error and fake_azure.count("PUT", "/computes/cpu-cluster") == 1


def test_a_failing_script_is_not_retried_and_ends_the_flow_with_its_log(azure_flow, fake_azure, training_copy):
    edit_train_script(training_copy, "    raise RuntimeError('boom on the cluster')\n")
    error = str(azure_flow(training_dir=str(training_copy)).result(raise_on_failure=False))
    assert "training run 'reg-0.8' failed on Azure ML (UserError: AzureMLCompute job failed. JobFailed" in error
    assert "RuntimeError: boom on the cluster" in error
    assert fake_azure.count("POST", "/snapshotrun") == 1


# ---- never twice --------------------------------------------------------------------------------------------
def test_a_submit_whose_answer_was_lost_is_followed_not_repeated(azure_flow, fake_azure):
    """The service creates the run and its answer is lost: the SDK posts the submit again, is told the run id
    exists, and the adapter finds the run under the id it chose, tags it and follows it."""
    fake_azure.fail("POST", "/snapshotrun", kind="lost")
    state = azure_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    runs = fake_azure.created_runs()
    assert len(runs) == 2 and all(r["status"] == "Completed" and r["tags"] for r in runs)
    lines = log_lines(flow_run_id(state), "exists though its submit failed")
    assert sum("exists though its submit failed" in line for line in lines) == 1


def flow_on_the_fake(tmp_path, fake, mirror, tiny_data, azure_config, *flags) -> list[str]:
    """The flow as a command (so it can be killed), its Azure backend the HTTP fake `fake` of this test."""
    # the project named, not found from the working folder: a CI run once started it elsewhere ("No module named
    # 'tests'"), though which earlier test moved that worker's working folder is not known
    code = (
        f"import sys, runpy; sys.path.insert(0, {str(PROJECT)!r}); "
        "from tests.workspaces.azureml_v1.http_seam import install; install(int(sys.argv[1])); "
        "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    python = (sys.executable, "-c", code, str(fake.port))
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
    subprocess_env, fake_azure, mirror, tiny_data, azure_config, training_copy, tmp_path
):
    """Two runs, reg-0.4 still Queued and reg-0.8 Running, when the flow is SIGKILLed. On Azure they go on without
    it; the same command again finds both by their job key, streams their logs and waits: nothing submitted twice.
    The runs fit only once the second flow has re-attached to both (a gate file): were they to finish first, it
    would adopt them instead, a different path (tests/workspaces/contract/test_never_twice.py)."""
    gate = tmp_path / "fit-now"
    wait_for_gate = f"    import os, time\n    while not os.path.exists({str(gate)!r}): time.sleep(0.1)\n"
    edit_train_script(training_copy, "    print('fitting', flush=True)\n" + wait_for_gate)
    # queued until the second flow has re-attached (then let go below): a queue of seconds ran out on a busy
    # machine before reg-0.8 was running (30 s and 60 s both did, with three workers of Azure flows)
    fake_azure.queue_seconds["reg-0.4"] = 3600
    command = flow_on_the_fake(
        tmp_path, fake_azure, mirror, tiny_data, azure_config, "--training-dir", str(training_copy), *TWO_RATES
    )
    statuses = lambda: {r["tags"].get("run_name"): r["status"] for r in fake_azure.created_runs()}  # noqa: E731
    wanted = {"reg-0.8": "Running", "reg-0.4": "Queued"}
    first = FlowProcess(command, subprocess_env)
    try:
        try:
            wait_until(lambda: statuses() == wanted, 300, "one running, one queued")
        except AssertionError as missed:
            runs = {r["tags"].get("run_name"): r["history"] for r in fake_azure.created_runs()}
            where = f"(this worker's working folder: {os.getcwd()})"
            raise AssertionError(f"{missed}: the runs went {runs} {where}\n{first.output[-3000:]}") from None
        first.process.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        second = FlowProcess(command, subprocess_env)
        wait_until(lambda: second.count("re-attached") == 2, 180, "the second flow re-attached to both runs")
        queued = next(r for r in fake_azure.created_runs() if r["tags"]["run_name"] == "reg-0.4")
        fake_azure.update_run(queued["id"], queue_seconds=0)  # its nodes came
        gate.touch()
        assert second.wait(timeout=300) == 0, second.output[-3000:]
    finally:
        gate.touch()
    runs = fake_azure.created_runs()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"Completed"}
    assert "Queued" in next(r for r in runs if r["tags"]["run_name"] == "reg-0.4")["history"]
    assert second.count("its flow is gone") == 2
    assert second.count("] Accuracy is") == 2  # each run's log streamed by the flow that re-attached to it
    assert [m["version"] for m in fake_azure.registry()] == ["1"]
