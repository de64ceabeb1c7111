"""No secret in any log line, artifact, parameter or workspace file of a run; a registered model whose files
changed after registration is refused."""

import json
import re
import uuid

import joblib
import numpy as np
import pytest
from prefect.client.orchestration import get_client

from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import artifacts, log_lines
from tests.workspaces.azureml_v2.fake_resources import KEY
from workspaces.base import ModelVersion
from workspaces.errors import DataError
from workspaces.files import sha256_file
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


@pytest.mark.parametrize("flow_on", ["flow", "azure_flow", "azure_v2_flow"], ids=["local", "azureml", "azureml-v2"])
def test_a_service_principal_secret_never_leaves_the_environment(flow_on, service_principal, request, tmp_path):
    run = request.getfixturevalue(flow_on)
    state = run()
    assert state.is_completed(), state.message
    recorded = everything_recorded(state, tmp_path / "ws")
    assert len(recorded) > 20 and not [text for text in recorded if SECRET in text]


@pytest.mark.parametrize("changed", ["model.skops", "MLmodel", "requirements.txt"])
def test_a_registered_model_that_changed_is_refused(changed, flow, tmp_path):
    version = flow().result()
    workspace = LocalWorkspace(tmp_path / "ws")
    model = workspace.fetch_model(version, tmp_path / "ok")  # the registered files, their sha256 checked
    registered = next((tmp_path / "ws" / "mlartifacts").glob(f"*/models/*/artifacts/{changed}"))
    registered.write_bytes(registered.read_bytes() + b"\n")
    with pytest.raises(DataError, match="the model changed after registration: refusing to load it"):
        workspace.fetch_model(version, tmp_path / "refused")
    assert (model / changed).exists() and list((tmp_path / "refused").iterdir()) == []


def test_a_version_registered_before_the_mlflow_model_is_fetched_as_its_pickle(flow, tmp_path):
    """A workspace from before the MLflow model: its versions are a run's `outputs` folder with the tutorial's
    pickle and that file's sha256. They still load (the champion may be one), and are still checked."""
    run_id = flow().result().run_id
    workspace = LocalWorkspace(tmp_path / "ws")
    client = workspace.tracking.client
    [pickle] = [p for p in (tmp_path / "ws" / "mlartifacts").rglob("sklearn_mnist_model.pkl") if run_id in str(p)]
    tags = {"model_sha256": sha256_file(pickle), "accuracy": "0.5", "regularization_rate": "0.8"}
    old = client.create_model_version("sklearn_mnist", f"{pickle.parent.as_uri()}", run_id=run_id, tags=tags)
    legacy = ModelVersion.from_registry(old.name, old.version, run_id, old.source, tags)
    fetched = workspace.fetch_model(legacy, tmp_path / "a")
    assert fetched.name == "sklearn_mnist_model.pkl" and joblib.load(fetched).predict(np.zeros((1, 784))).shape == (1,)
    pickle.write_bytes(pickle.read_bytes() + b"tampered")
    with pytest.raises(DataError, match="the model file changed after registration"):
        workspace.fetch_model(legacy, tmp_path / "b")


SIGNATURE = f"s1g{uuid.uuid4().hex}"
# a secret left in a text: a SAS signature, an account key or a bearer token not redacted
LEAKED = re.compile(r"sig=(?!REDACTED)[^&\s\"']+|AccountKey=(?!REDACTED)[^;\s]+|Bearer\s+(?!REDACTED)[\w.~+/=-]{6,}")
REFUSED = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to '
    b"authenticate the request. Make sure the value of Authorization header is formed correctly</Message></Error>"
)


def texts_of(state) -> list[str]:
    """What a person can read of a finished flow run: its logs, its state's message, its artifacts."""
    texts = log_lines(flow_run_id(state), expect="Finished in state") + [str(state.message)]
    for artifact in artifacts(flow_run_id(state)).values():
        texts += [str(artifact.data), str(artifact.description)]
    return texts


@pytest.mark.parametrize("flow_on", ["flow", "azure_flow", "azure_v2_flow"], ids=["local", "azureml", "azureml-v2"])
def test_a_faulty_flow_leaves_no_signature_key_or_token_in_any_text(flow_on, mirror, request, tmp_path):
    """A log read refused (its SAS URL: SDK v1 put the whole URL, signature included, in its error), and a mirror
    given as a SAS URL that fails: no text of the run carries a signature, an account key or a token."""
    run = request.getfixturevalue(flow_on)
    if flow_on == "azure_flow":
        request.getfixturevalue("fake_azure").fail(
            "GET", "/user_logs/std_log.txt", 403, "AuthenticationFailed", "Signature did not match", times=50
        )
    if flow_on == "azure_v2_flow":
        headers = {"Content-Type": "application/xml", "x-ms-error-code": "AuthenticationFailed"}
        fake = request.getfixturevalue("fake_azure_v2")
        fake.faults.fail("GET", "/user_logs/std_log.txt", "status", 403, times=50, body=REFUSED, headers=headers)
    sas_mirror = f"{mirror.url}nowhere/?sv=2024-11-04&sp=r&sig={SIGNATURE}"
    state = run(mirrors=[sas_mirror, mirror.url])
    texts = texts_of(state)
    assert any("nowhere" in text for text in texts)  # the failing mirror was named, its signature not
    assert [found for text in texts for found in LEAKED.findall(text)] == []
    assert not [text for text in texts if SIGNATURE in text or KEY in text]
