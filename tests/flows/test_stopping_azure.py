"""SIGTERM to `python flows/main.py` with four training runs under way on Azure ML (each SDK's fake, reached from
the command's process through tests/e2e/seam/): every run is cancelled, the command ends with 143, and its last
line says the four were cancelled and confirmed. Before, the cancels were sent one after another, each followed by
up to five status looks, so the last ones came long after (and under a runner, after its SIGKILL)."""

import os
import signal

import pytest

from tests.e2e.conftest import seam_path
from tests.flows.flow_runs import FlowProcess, flow_command, held_while
from tests.waiting import wait_until
from tests.workspaces.azure import CANCELLING
from tests.workspaces.azureml_v2.bridge import Bridge

pytestmark = pytest.mark.azure_http
RATES = ("0.8", "0.4", "0.2", "0.1")


def seam_env(azure, env: dict[str, str]) -> dict[str, str]:
    """The command's environment, its Azure ML the test's fake."""
    if azure.v1:
        address = f"127.0.0.1:{azure.fake.port}"
    else:
        bridge = Bridge(azure.fake)
        azure.request.addfinalizer(bridge.close)
        address = bridge.address
    backend = "azureml" if azure.v1 else "azureml-v2"
    return {**env, "PYTHONPATH": seam_path(), "MNIST_FLOW_TEST_AZURE": f"{backend}@{address}"}


def test_sigterm_to_the_command_cancels_its_four_azure_runs_at_once_and_says_so(
    azure, subprocess_env, mirror, tiny_data, azure_config, training_copy, hold, tmp_path
):
    hold.touch()
    held_while(hold, training_copy, then="    print('fitting', flush=True)\n")
    backend = "azureml" if azure.v1 else "azureml-v2"
    rates = [word for rate in RATES for word in ("--regularization", rate)]
    flags = ("--backend", backend, "--workspace-config", str(azure_config), "--training-dir", str(training_copy))
    command = flow_command(tmp_path, mirror.url, tiny_data[1], *flags, *rates, "--max-nodes", "4")
    flow = FlowProcess(command, seam_env(azure, subprocess_env))
    try:
        runs = azure.runs
        wait_until(lambda: len(runs()) == 4 and all(azure.status(r) == "Running" for r in runs()), 300, "4 runs")
        os.kill(flow.process.pid, signal.SIGTERM)
        assert flow.wait(timeout=120) == 143, flow.output[-3000:]
    finally:
        flow.process.kill()
    assert flow.lines[-1].strip() == (
        "interrupted by SIGTERM: the 4 training runs on Azure ML were cancelled (each confirmed CancelRequested or "
        "ended)"
    ), flow.output[-3000:]
    assert [azure.status(r) in CANCELLING for r in runs()] == [True] * 4
    assert [azure.cancels(r) for r in runs()] == [1, 1, 1, 1]
