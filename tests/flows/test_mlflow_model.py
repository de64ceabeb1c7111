"""The registered version is an MLflow model: what an MLflow user does with `models:/sklearn_mnist@champion`
works, in this process and through a real `mlflow models serve` process on 127.0.0.1."""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import joblib
import mlflow.pyfunc
import numpy as np
import pytest
from mlflow import MlflowClient

from tests.servers import free_port, serving
from training.utils import load_split
from workspaces.local.workspace import LocalWorkspace

CHAMPION = "models:/sklearn_mnist@champion"
BIN = Path(sys.executable).parent
MLFLOW = str(BIN / "mlflow")
ACTIVATED = {"PATH": f"{BIN}:{os.environ['PATH']}"}  # the server execs `uvicorn` from PATH: the venv activated


@pytest.fixture
def champion(trained_workspace, trained_champion, monkeypatch):
    """A flow run's registered champion (the session's trained workspace); MLflow's own API pointed at the
    workspace's registry."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained_workspace / 'mlflow.db'}")
    return trained_champion


@pytest.fixture
def test_images(trained_workspace):
    return load_split(trained_workspace / "datastore" / "mnist", "test")[0]


def tutorial_pickle(run_id: str):
    return joblib.load(MlflowClient().download_artifacts(run_id, "outputs/sklearn_mnist_model.pkl"))


def test_pyfunc_loads_the_champion_by_alias_with_its_signature(champion, test_images, trained_workspace, tmp_path):
    model = mlflow.pyfunc.load_model(CHAMPION)
    assert model.metadata.run_id == champion.run_id
    [inputs] = model.metadata.get_input_schema().inputs
    assert (inputs.type, inputs.shape) == (np.dtype("float32"), (-1, 784))
    predicted = model.predict(test_images)
    assert predicted.tolist() == tutorial_pickle(champion.run_id).predict(test_images).tolist()
    run = MlflowClient().get_run(champion.run_id)
    assert float(run.data.params["regularization rate"]) == champion.regularization
    assert run.data.metrics["regularization rate"] == champion.regularization
    # loading by alias wrote MLflow's registered_model_meta into the registry's copy: the flow still trusts it
    checked = LocalWorkspace(trained_workspace).load_model(champion, tmp_path / "fetched")
    assert checked.predict(test_images).tolist() == predicted.tolist()


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_mlflow_models_serve_answers_digits_and_refuses_the_wrong_shape(champion, test_images, tmp_path):
    port = free_port()
    command = [MLFLOW, "models", "serve", "-m", CHAMPION, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with serving(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", ACTIVATED):
        status, answer = post(f"http://127.0.0.1:{port}/invocations", {"inputs": test_images[:20].tolist()})
        assert status == 200, answer
        assert answer["predictions"] == tutorial_pickle(champion.run_id).predict(test_images[:20]).tolist()
        status, answer = post(f"http://127.0.0.1:{port}/invocations", {"inputs": [[0.5] * 28]})
    assert status == 400 and "784" in answer["message"], answer
