"""Contract tests: the real Azure ML SDK v1 objects the adapter submits, built offline, field by field.
An SDK change or a wrong argument shows up here, without a workspace."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")

from importlib.metadata import version

from azureml.core import Environment, ScriptRunConfig
from azureml.core.compute.amlcompute import AmlComputeProvisioningConfiguration
from azureml.exceptions import ComputeTargetException

from tests.conftest import PROJECT
from tests.workspaces.jobs import TUTORIAL_CLUSTER, a_job
from workspaces.azureml_v1.jobs import provisioning_configuration, script_run_config, training_environment
from workspaces.base import ComputeSpec, TrainingJob


def job(rate: float = 0.8) -> TrainingJob:
    return a_job("workspaceblobstore/mnist", {"train-images.gz": "0" * 64}, rate)


def test_the_tutorials_provisioning_configuration():
    config = provisioning_configuration(TUTORIAL_CLUSTER)
    assert isinstance(config, AmlComputeProvisioningConfiguration)
    assert (config.vm_size, config.vm_priority) == ("STANDARD_D2_V2", "lowpriority")
    scale = config.scale_settings
    assert (scale.minimum_node_count, scale.maximum_node_count, scale.idle_seconds_before_scaledown) == (0, 4, 1200)
    config.validate_configuration()


def test_the_sdks_constructor_itself_refuses_max_below_min():
    spec = ComputeSpec.model_construct(**{**ComputeSpec().model_dump(), "min_nodes": 5})  # past our own checks
    with pytest.raises(ComputeTargetException, match="max nodes count must be greater than or equal to min"):
        provisioning_configuration(spec)


def test_the_environment_is_exactly_what_the_run_needs():
    environment = training_environment()
    assert isinstance(environment, Environment) and environment.name == "sklearn-mnist-env"
    dependencies = environment.python.conda_dependencies
    here = ("scikit-learn", "numpy", "joblib", "azureml-core")  # the models load here; metrics reach the run
    assert list(dependencies.pip_packages) == [f"{name}=={version(name)}" for name in here] + [
        "azureml-mlflow==1.62.0.post6",
        "mlflow-skinny==3.15.0",
    ]
    assert dependencies.get_python_version() == "3.11"
    # defect: CondaDependencies.create added `--find-links .../simple/index.html` and `--extra-index-url`
    serialized = dependencies.serialize_to_string()
    assert list(dependencies.pip_options) == [] and "--find-links" not in serialized and "index-url" not in serialized
    assert list(dependencies.conda_channels) == ["conda-forge"]


def test_the_environment_resolves_as_an_image_build_would(processes, tmp_path):
    """pip, asked (against the package registry) to install the run's packages for this platform, Python 3.11:
    the environment an image build would make exists. (azureml-defaults, the tutorial's, does not with this
    numpy: azureml-dataset-runtime requires numpy<2.3.3 on Linux.)"""
    packages = list(training_environment().python.conda_dependencies.pip_packages)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        str(tmp_path / "report.json"),
        *packages,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if "Network is unreachable" in result.stderr or "Failed to establish a new connection" in result.stderr:
        pytest.skip("the package registry cannot be reached from here: " + result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr[-2000:]
    installed = {
        i["metadata"]["name"].lower(): i["metadata"]["version"]
        for i in json.loads((tmp_path / "report.json").read_text())["install"]
    }
    assert installed["numpy"] == version("numpy") and installed["mlflow-skinny"] == "3.15.0"


def test_the_script_run_config_is_the_tutorials_estimator():
    config = script_run_config(job(), "cpu-cluster", training_environment())
    assert isinstance(config, ScriptRunConfig)
    assert config.source_directory == str(PROJECT / "training") and config.script == "train.py"
    assert config.arguments == ["--data-folder", "$AZUREML_DATAREFERENCE_mnist", "--regularization", "0.8"]
    assert config.run_config.target == "cpu-cluster"
    assert config.run_config.environment.name == "sklearn-mnist-env"


def test_the_data_reference_is_registered_so_the_mount_is_expanded():
    # a bare reference in the arguments would stay the literal "$AZUREML_DATAREFERENCE_..." with ScriptRunConfig
    reference = script_run_config(job(), "cpu-cluster", training_environment()).run_config.data_references["mnist"]
    assert (reference.data_store_name, reference.path_on_data_store, reference.mode) == (
        "workspaceblobstore",
        "mnist",
        "mount",
    )
