"""The flow with its default settings on the real MNIST (from ../shared/data/mnist, as a local mirror)."""

import json

import joblib
import numpy as np
import pytest

from tests.conftest import SHARED_MNIST
from tests.flows.flow_runs import flow_run_id, run_flow
from tests.prefect_api import artifacts
from training.utils import load_split
from workspaces.local.workspace import LocalWorkspace

pytestmark = pytest.mark.mnist


def test_default_run_on_full_mnist_scores_like_the_tutorial(prefect_api, tmp_path):
    assert SHARED_MNIST.is_dir(), f"the full MNIST is expected at {SHARED_MNIST}"
    state = run_flow(workspace_dir=str(tmp_path / "ws"), mirrors=[str(SHARED_MNIST)])
    assert state.is_completed(), state.message
    version = state.result()
    table = json.loads(artifacts(flow_run_id(state))["training-metrics"].data)
    baseline = next(row for row in table if row["run"] == "local baseline")
    assert baseline["accuracy"] >= 0.92  # the tutorial printed 0.9202; scikit-learn 1.9 gives about 0.9257
    assert version.accuracy >= 0.92 and version.regularization == 0.8

    model_file = LocalWorkspace(tmp_path / "ws").fetch_model(version, tmp_path / "model")
    X_test, y_test = load_split(tmp_path / "ws" / "datastore" / "mnist", "test")
    predicted = joblib.load(model_file).predict(X_test)
    assert predicted.shape == (10000,) and float(np.mean(predicted == y_test)) == pytest.approx(version.accuracy)
