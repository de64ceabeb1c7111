"""Cancelling an Azure ML deployment run leaves no run billing: the real Prefect stack (server, work pool, worker
and runner) runs the flow on each SDK's fake of Azure ML (reached from the flow's process through the seam of
tests/e2e/seam/: the SDK v1 fake's HTTP server, the SDK v2 fake's bridge), and the run is cancelled from the API,
as the UI's cancel does. Prefect's runner then sends the flow's process SIGTERM and kills it 30 s later, and only
after that runs the flow's cancellation hook, in a process of its own.

Each of the four training runs is under way (held by the test) when the cancel comes. What must hold: every run on
the fake is CancelRequested or Canceled, the flow run ends Cancelled, and the flow's own process said so: its line
reaches Prefect only if it got that far before the SIGKILL, so the cancels were sent inside the 30 s."""

import json

import pytest

from tests.e2e.conftest import latest_flow_run, on
from tests.flows.flow_runs import held_while
from tests.prefect_api import log_lines
from tests.waiting import wait_until
from tests.workspaces.azure import CANCELLING
from tests.workspaces.azureml_v2.bridge import Bridge

pytestmark = [pytest.mark.e2e, pytest.mark.azure_http, pytest.mark.xdist_group("prefect-stack")]  # the one stack
RATES = [0.8, 0.4, 0.2, 0.1]


def address_of(azure) -> str:
    if azure.v1:
        return f"127.0.0.1:{azure.fake.port}"
    bridge = Bridge(azure.fake)
    azure.request.addfinalizer(bridge.close)
    return bridge.address


def test_an_azure_deployment_run_cancelled_from_the_api_cancels_its_four_runs(
    prefect_stack, tiny_run_parameters, azure, azure_config, training_copy, hold, tmp_path
):
    backend = "azureml" if azure.v1 else "azureml-v2"
    hold.touch()
    held_while(hold, training_copy, then="    print('fitting', flush=True)\n")
    params = {
        **tiny_run_parameters,
        "backend": backend,
        "workspace_config": str(azure_config),
        "workspace_dir": str(tmp_path / "ws"),
        "training_dir": str(training_copy),
        "regularization": RATES,
        "max_nodes": 4,
    }
    env = {"MNIST_FLOW_BACKEND": backend, "MNIST_FLOW_TEST_AZURE": f"{backend}@{address_of(azure)}"}
    result = prefect_stack.run_deployment(
        f"mnist-training/{backend}", params, "--job-variable", f"env={json.dumps(env)}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = latest_flow_run(prefect_stack)
    runs = azure.runs
    wait_until(lambda: len(runs()) == 4 and all(azure.status(r) == "Running" for r in runs()), 300, "4 runs under way")
    assert prefect_stack.prefect("flow-run", "cancel", str(run.id)).returncode == 0
    wait_until(lambda: latest_flow_run(prefect_stack).state_name == "Cancelled", 180, "the flow run Cancelled")
    assert sorted(azure.status(r) in CANCELLING for r in runs()) == [True] * 4
    said = on(prefect_stack, log_lines, run.id, "the flow is being stopped")  # the flow's process, before its SIGKILL
    assert (
        "the flow is being stopped: the 4 training runs on Azure ML were cancelled (each confirmed CancelRequested "
        "or ended)"
    ) in said
