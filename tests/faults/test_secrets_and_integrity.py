"""No secret in any log line, artifact, parameter or workspace file of a run; a registered model file that
changed after registration is refused."""

import json
import uuid

import pytest
from prefect.client.orchestration import get_client

from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import artifacts, log_lines
from workspaces.errors import DataError
from workspaces.local.workspace import LocalWorkspace

SECRET = f"fake-sp-secret-{uuid.uuid4().hex}"


@pytest.fixture
def service_principal(monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-00000000000a")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000000b")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)


def everything_recorded(state, workspace) -> list[str]:
    """Every log line, artifact and parameter Prefect holds for the run, and every file of its workspace."""
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(flow_run_id(state)).parameters
    texts = log_lines(flow_run_id(state), expect="Finished in state") + [json.dumps(parameters)]
    for artifact in artifacts(flow_run_id(state)).values():
        texts += [str(artifact.data), str(artifact.description)]
    texts += [path.read_bytes().decode("latin-1") for path in workspace.rglob("*") if path.is_file()]
    return texts


@pytest.mark.parametrize("backend", ["local", "azureml", pytest.param("azureml-v2", marks=pytest.mark.azure_http)])
def test_a_service_principal_secret_never_leaves_the_environment(backend, service_principal, request, tmp_path):
    fixture = {"local": "flow", "azureml": "azure_flow", "azureml-v2": "azure_v2_flow"}[backend]
    run = request.getfixturevalue(fixture)
    state = run()
    assert state.is_completed(), state.message
    recorded = everything_recorded(state, tmp_path / "ws")
    assert len(recorded) > 20 and not [text for text in recorded if SECRET in text]


def test_a_registered_model_that_changed_is_refused(flow, tmp_path):
    version = flow().result()
    workspace = LocalWorkspace(tmp_path / "ws")
    model = workspace.fetch_model(version, tmp_path / "ok")  # the registered file, its sha256 checked
    registered = next((tmp_path / "ws" / "mlartifacts").rglob("sklearn_mnist_model.pkl"))
    registered.write_bytes(registered.read_bytes() + b"tampered")
    with pytest.raises(DataError, match="the model file changed after registration: refusing to load it"):
        workspace.fetch_model(version, tmp_path / "refused")
    assert model.exists() and not (tmp_path / "refused" / "sklearn_mnist_model.pkl").exists()
