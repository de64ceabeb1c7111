"""Layer 1: the SDK v2 entities of the tutorial, built offline with the real azure-ai-ml, and their REST form
(`_to_rest_object()`): what would be sent is what the tutorial means."""

from importlib.metadata import version

import pytest

pytest.importorskip("azure.ai.ml", reason="the `azure-v2` extra is not installed (make install-azure-v2)")

from tests.workspaces.jobs import TUTORIAL_CLUSTER
from tests.workspaces.jobs import a_job as tutorial_job
from workspaces.azureml_v2.jobs import (
    IMAGE,
    aml_compute,
    command_job,
    conda_file,
    data_asset,
    data_version,
    model_asset,
    training_environment,
)
from workspaces.base import TrainingJob

FILES = {"train-images.gz": "a" * 64, "train-labels.gz": "b" * 64}


def a_job(rate: float = 0.8) -> TrainingJob:
    return tutorial_job("azureml:mnist:1", FILES, rate)


def test_the_cluster_is_the_tutorials_with_its_priority_and_scale_down():
    rest = aml_compute(TUTORIAL_CLUSTER)._to_rest_object().as_dict()["properties"]
    assert rest["computeType"] == "AmlCompute"
    props = rest["properties"]
    assert (props["vmSize"], props["vmPriority"]) == ("STANDARD_D2_V2", "LowPriority")
    assert props["scaleSettings"] == {"maxNodeCount": 4, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT20M"}


def test_the_data_asset_is_a_uri_folder_versioned_by_its_files():
    asset = data_asset("workspaceblobstore", "mnist/0f64", FILES)
    rest = asset._to_rest_object().as_dict()["properties"]
    assert (asset.name, asset.version) == ("mnist", data_version(FILES))
    assert (
        rest["dataType"] == "uri_folder"
        and rest["dataUri"] == "azureml://datastores/workspaceblobstore/paths/mnist/0f64/"
    )
    assert data_version(FILES) == data_version(dict(reversed(FILES.items())))  # the same files, the same version
    assert data_version({**FILES, "train-labels.gz": "c" * 64}) != data_version(FILES)


def test_the_environment_pins_what_unpickles_here_and_gets_metrics_to_the_job():
    environment = training_environment()
    assert environment.image == IMAGE and environment.name == "sklearn-mnist-env"
    pins = conda_file()["dependencies"][-1]["pip"]
    assert pins == [f"{n}=={version(n)}" for n in ("scikit-learn", "numpy", "joblib")] + [
        "azureml-mlflow==1.62.0.post6",
        "mlflow-skinny==3.15.0",
    ]
    assert "python=3.11" in conda_file()["dependencies"]
    assert training_environment().version == environment.version  # a hash of the specification: stable


def test_the_command_job_is_the_tutorials_estimator():
    job = command_job(
        a_job(),
        "mnist-flow-abc-1",
        "cpu-cluster",
        "https://x.blob.core.windows.net/c/code/abc/",
        "azureml:mnist:1",
        {"mnist_flow.job_key": "abc"},
    )
    assert job.command == "python train.py --data-folder ${{inputs.data}} --regularization 0.8"
    assert (job.name, job.display_name, job.experiment_name, job.compute) == (
        "mnist-flow-abc-1",
        "reg-0.8",
        "sklearn-mnist",
        "cpu-cluster",
    )
    data = job.inputs["data"]
    assert (data.type, data.path, data.mode) == ("uri_folder", "azureml:mnist:1", "ro_mount")
    assert job.tags == {"mnist_flow.job_key": "abc"} and job.code.endswith("/code/abc/")


def test_the_model_is_the_jobs_outputs_folder():
    model = model_asset("sklearn_mnist", "mnist-flow-abc-1", {"run_id": "mnist-flow-abc-1"})
    rest = model._to_rest_object().as_dict()["properties"]
    assert rest["modelType"] == "custom_model"
    assert rest["modelUri"] == "azureml://jobs/mnist-flow-abc-1/outputs/artifacts/paths/outputs/"
