"""The Azure ML SDK v1 objects of the tutorial, built offline: what to provision and what to submit.

None of these calls the service; their constructors validate a lot, which is why the contract tests build them.
- The tutorial's `Estimator` still exists in azureml-train-core 1.62 but is deprecated in favour of
  `ScriptRunConfig` + `Environment`, which take the same source folder, entry script, arguments and packages.
- With `ScriptRunConfig`, a `DataReference` in the arguments stays the literal `$AZUREML_DATAREFERENCE_<name>`
  unless the reference is also in the run configuration's `data_references` (the old Estimator registered it
  itself): `script_run_config` does both, so the run receives the mounted folder.
- The run's environment (`training_environment`), each package on purpose:
  - scikit-learn, numpy and joblib at this machine's versions: the registered model is a pickle that this
    machine loads again (the confusion matrix, the sha256 check), reliable only between equal versions;
  - azureml-core at this machine's version: on the older runtime the connection of MLflow to the run is made by
    azureml-core's code inside the job; without it `run.get_metrics()` stays empty and every run would end
    "without logging 'accuracy'". Not azureml-defaults, the tutorial's: through azureml-dataset-runtime it
    requires numpy<2.3.3 on Linux, which no image with this machine's numpy can satisfy (measured: pip reports
    ResolutionImpossible);
  - azureml-mlflow 1.62.0.post6 with mlflow-skinny 3.15.0: train.py logs through MLflow, and azureml-mlflow
    caps mlflow-skinny at 3.15.0, so the job gets that version on purpose rather than whatever pip settles on;
  - no pip options: `CondaDependencies.create` adds `--find-links <index>/index.html` and `--extra-index-url`
    whenever the SDK's index_location.txt differs from its default (it does, by a trailing path), which sends
    the image build's pip to parse the whole of PyPI's project list. The specification is built without them.
"""

from importlib.metadata import version

from azureml.core import Environment, ScriptRunConfig
from azureml.core.compute import AmlCompute
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.runconfig import DataReferenceConfiguration

from workspaces.base import ComputeSpec, TrainingJob

ENVIRONMENT_NAME = "sklearn-mnist-env"
PYTHON_VERSION = "3.11"
PINNED_HERE = ("scikit-learn", "numpy", "joblib", "azureml-core")  # at this machine's versions
METRICS = ("azureml-mlflow==1.62.0.post6", "mlflow-skinny==3.15.0")  # the newest pair that installs together
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


def pip_packages() -> list[str]:
    return [f"{name}=={version(name)}" for name in PINNED_HERE] + list(METRICS)


def training_environment() -> Environment:
    """The run's environment: Python 3.11 and exactly the packages above (see the module's docstring)."""
    dependencies = CondaDependencies()  # not .create(): it adds pip options a real image build chokes on
    dependencies.set_python_version(PYTHON_VERSION)
    for package in dependencies.pip_packages:  # the template's default, azureml-defaults (numpy<2.3.3)
        dependencies.remove_pip_package(package)
    for package in pip_packages():
        dependencies.add_pip_package(package)
    dependencies.remove_channel("anaconda")  # only Python comes from conda: conda-forge has it, under no licence terms
    environment = Environment(ENVIRONMENT_NAME)
    environment.python.conda_dependencies = dependencies
    return environment


def data_reference(datastore: str, path: str) -> DataReferenceConfiguration:
    return DataReferenceConfiguration(datastore_name=datastore, mode="mount", path_on_datastore=path)


def script_run_config(
    job: TrainingJob, compute_name: str, environment: Environment, max_run_minutes: int = 180
) -> ScriptRunConfig:
    """The tutorial's Estimator as a ScriptRunConfig: `--data-folder` is the mounted datastore folder; the run is
    cancelled by the service after `max_run_minutes` (the SDK's default is 30 days of a billed node)."""
    config = ScriptRunConfig(
        source_directory=job.source_dir,
        script=job.entry_script,
        arguments=job.arguments(f"$AZUREML_DATAREFERENCE_{DATA_REFERENCE}"),
        compute_target=compute_name,
        environment=environment,
        max_run_duration_seconds=max_run_minutes * 60,
    )
    config.run_config.data_references = {DATA_REFERENCE: data_reference(job.data.datastore, job.data.path)}
    return config
