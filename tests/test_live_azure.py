"""Live tests against a real Azure ML workspace: `AZUREML_CONFIG=path/to/config.json pytest -m azure`.

Skipped, with the reason printed, when AZUREML_CONFIG is not set (as on every machine of this project so far:
none of these has run against a live workspace; see docs/azureml-v1.md). They use the compute named by
AML_COMPUTE_CLUSTER_NAME (default cpu-cluster), create it if needed, and leave it (min_nodes 0 costs nothing idle).
"""

import os

import pytest

from tests.conftest import SHARED_MNIST
from tests.flows.flow_runs import run_flow

CONFIG = os.environ.get("AZUREML_CONFIG")
pytestmark = [
    pytest.mark.azure,
    pytest.mark.skipif(not CONFIG, reason="AZUREML_CONFIG is not set: no live Azure ML workspace to test against"),
]


@pytest.mark.parametrize("backend, sdk", [("azureml", "azureml.core"), ("azureml-v2", "azure.ai.ml")])
def test_the_tutorial_end_to_end_on_a_live_workspace(prefect_api, tmp_path, backend, sdk):
    pytest.importorskip(sdk, reason=f"the SDK of --backend {backend} is not installed")
    arguments = {
        "backend": backend,
        "workspace_config": CONFIG,
        "workspace_dir": str(tmp_path / "ws"),
        "mirrors": [str(SHARED_MNIST)],
        "regularization": [0.8, 0.4],
    }
    first = run_flow(**arguments)
    assert first.is_completed(), first.message
    version = first.result()
    assert version.accuracy >= 0.92 and version.source
    second = run_flow(**arguments)  # all cached: no new run on the cluster, the same version
    assert second.is_completed() and second.result().version == version.version
