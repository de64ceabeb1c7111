"""The port's contract, tested once against every backend of the table (workspaces/backends.py): each test of this
folder runs on each workspace below, opened as the flow opens it, on what stands in for its service. A new backend
joins by one line here (a test checks that none is missing)."""

import importlib

import pytest

from tests.idx_files import write_tiny_datastore_files
from workspaces.base import ComputeSpec, TrainingJob
from workspaces.files import sha256_tree

# backend -> how its test folder opens it: "module:function(request, tmp_path) -> Workspace"
OPENED_BY = {
    "local": "tests.workspaces.local.contract:opened",
    "azureml": pytest.param("tests.workspaces.azureml_v1.contract:opened", marks=pytest.mark.azure_http),
    "azureml-v2": pytest.param("tests.workspaces.azureml_v2.contract:opened", marks=pytest.mark.azure_http),
}


@pytest.fixture(params=list(OPENED_BY.values()), ids=list(OPENED_BY))
def workspace(request, tmp_path):
    module, function = request.param.split(":")
    return getattr(importlib.import_module(module), function)(request, tmp_path)


@pytest.fixture
def job_and_compute(workspace, training_copy, tmp_path):
    """A job of the training folder as it is when asked for (tests edit it first), and a compute target."""

    def make(rate: float = 0.8):
        data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
        compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=2))
        job = TrainingJob(
            experiment="sklearn-mnist",
            run_name=f"reg-{rate:g}",
            regularization=rate,
            data=data,
            source_dir=str(training_copy),
            source_hash=sha256_tree(training_copy),
            compute=compute.name,
            libraries={"scikit-learn": "1.9.1"},
        )
        return job, compute

    return make
