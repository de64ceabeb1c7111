"""The Azure ML SDK v1 objects of the tutorial, built offline: what to provision and what to submit.

None of these calls the service; their constructors validate a lot, which is why the contract tests build them.
- The tutorial's `Estimator` still exists in azureml-train-core 1.62 but is deprecated in favour of
  `ScriptRunConfig` + `Environment`, which take the same source folder, entry script, arguments and packages.
- With `ScriptRunConfig`, a `DataReference` in the arguments stays the literal `$AZUREML_DATAREFERENCE_<name>`
  unless the reference is also in the run configuration's `data_references` (the old Estimator registered it
  itself): `script_run_config` does both, so the run receives the mounted folder.
- The run's environment pins scikit-learn, numpy and joblib to the versions on this machine: the registered
  model is a pickle that this machine loads again (the confusion matrix, the sha256 check), and scikit-learn
  pickles are only reliable between equal versions.
"""

from importlib.metadata import version

from azureml.core import Environment, ScriptRunConfig
from azureml.core.compute import AmlCompute
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.runconfig import DataReferenceConfiguration

from workspaces.base import ComputeSpec, TrainingJob

ENVIRONMENT_NAME = "sklearn-mnist-env"
PYTHON_VERSION = "3.11"
PINNED = ("scikit-learn", "numpy", "joblib")
DATA_REFERENCE = "mnist"  # the run sees the mount as $AZUREML_DATAREFERENCE_mnist


def provisioning_configuration(spec: ComputeSpec):
    """The tutorial's `AmlCompute.provisioning_configuration`, with priority and scale-down time."""
    return AmlCompute.provisioning_configuration(
        vm_size=spec.vm_size,
        min_nodes=spec.min_nodes,
        max_nodes=spec.max_nodes,
        idle_seconds_before_scaledown=spec.idle_seconds_before_scaledown,
        vm_priority=spec.vm_priority,
    )


def training_environment() -> Environment:
    environment = Environment(ENVIRONMENT_NAME)
    environment.python.conda_dependencies = CondaDependencies.create(
        python_version=PYTHON_VERSION,
        pip_packages=[f"{name}=={version(name)}" for name in PINNED] + ["mlflow-skinny", "azureml-mlflow"],
    )
    return environment


def data_reference(datastore: str, path: str) -> DataReferenceConfiguration:
    return DataReferenceConfiguration(datastore_name=datastore, mode="mount", path_on_datastore=path)


def script_run_config(job: TrainingJob, compute_name: str, environment: Environment) -> ScriptRunConfig:
    """The tutorial's Estimator as a ScriptRunConfig: `--data-folder` is the mounted datastore folder."""
    config = ScriptRunConfig(
        source_directory=job.source_dir,
        script=job.entry_script,
        arguments=job.arguments(f"$AZUREML_DATAREFERENCE_{DATA_REFERENCE}"),
        compute_target=compute_name,
        environment=environment,
    )
    config.run_config.data_references = {DATA_REFERENCE: data_reference(job.data.datastore, job.data.path)}
    return config
