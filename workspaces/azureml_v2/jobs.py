"""The tutorial's objects in SDK v2 (azure-ai-ml), built offline: the cluster, the data asset, the training
environment, the command job per regularization rate, the registered model. Their constructors and
`_to_rest_object()` validate a lot: the contract tests check what would be sent.

- The training environment: no curated environment has scikit-learn 1.9, so one is built from Microsoft's
  Ubuntu 22.04 base image with a conda file: Python 3.11 and the same pins as SDK v1's (workspaces/azureml_v1/
  jobs.py explains each): this machine's scikit-learn, numpy and joblib, so the registered pickle loads here;
  azureml-mlflow 1.62.0.post6 with mlflow-skinny 3.15.0, the newest pair that installs together, so train.py's
  MLflow logging reaches the job's metrics. Its version is a hash of that specification: unchanged, it is
  neither built nor registered again.
- The job is named by the job's idempotency key and attempt (see workspace.py), tagged with the key.
"""

import hashlib
import json
from importlib.metadata import version

from azure.ai.ml import Input, command
from azure.ai.ml.constants import AssetTypes, InputOutputModes
from azure.ai.ml.entities import AmlCompute, Data, Environment, Model

from workspaces.base import ComputeSpec, TrainingJob
from workspaces.owners import FLOW_RUN_TAG

IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
ENVIRONMENT_NAME = "sklearn-mnist-env"
PINNED_HERE = ("scikit-learn", "numpy", "joblib")
METRICS = ("azureml-mlflow==1.62.0.post6", "mlflow-skinny==3.15.0")
DATA_NAME = "mnist"  # the tutorial's folder name
# AmlCompute's `tier` is turned into the REST body's vmPriority by snake_to_pascal: "LowPriority", which its
# docstring offers, would be sent as "Lowpriority"; the snake-case spelling (what the SDK reads back) is right
TIER = {"dedicated": "dedicated", "lowpriority": "low_priority"}


def aml_compute(spec: ComputeSpec) -> AmlCompute:
    """The tutorial's cluster: AML_COMPUTE_CLUSTER_* settings, dedicated or low-priority nodes."""
    return AmlCompute(
        name=spec.name,
        size=spec.vm_size,
        min_instances=spec.min_nodes,
        max_instances=spec.max_nodes,
        idle_time_before_scale_down=spec.idle_seconds_before_scaledown,
        tier=TIER[spec.vm_priority],
    )


def data_version(files: dict[str, str]) -> str:
    """A data asset's version from its files' sha256s: the same files, the same version."""
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:16]


def data_asset(datastore: str, folder: str, files: dict[str, str]) -> Data:
    """The uploaded folder as a versioned uri_folder asset named after the tutorial's `mnist` folder."""
    return Data(
        name=DATA_NAME,
        version=data_version(files),
        type=AssetTypes.URI_FOLDER,
        path=f"azureml://datastores/{datastore}/paths/{folder}/",
        description="MNIST, the four files of the Azure ML tutorial",
        tags={"files": json.dumps(files, sort_keys=True)},
    )


def conda_file() -> dict:
    pins = [f"{name}=={version(name)}" for name in PINNED_HERE] + list(METRICS)
    return {"name": "sklearn-mnist", "channels": ["conda-forge"], "dependencies": ["python=3.11", "pip", {"pip": pins}]}


def training_environment() -> Environment:
    spec = conda_file()
    digest = hashlib.sha256(json.dumps({"image": IMAGE, "conda": spec}, sort_keys=True).encode()).hexdigest()[:16]
    return Environment(
        name=ENVIRONMENT_NAME,
        version=digest,
        image=IMAGE,
        conda_file=spec,
        description="scikit-learn, numpy and joblib as on the machine that registers the model",
    )


def command_job(
    job: TrainingJob, name: str, compute: str, code: str, data: str, tags: dict[str, str], max_run_minutes: int = 180
):
    """The tutorial's Estimator as a command job: train.py with `--data-folder` the data asset, mounted
    read-only, and `--regularization` the rate; `code` is the training folder already in the datastore. The
    service cancels it after `max_run_minutes` (its `limits.timeout`)."""
    return command(
        name=name,
        display_name=job.run_name,
        experiment_name=job.experiment,
        compute=compute,
        code=code,
        command=f"python {job.entry_script} --data-folder ${{{{inputs.data}}}} --regularization {job.regularization!r}",
        inputs={"data": Input(type=AssetTypes.URI_FOLDER, path=data, mode=InputOutputModes.RO_MOUNT)},
        environment=training_environment(),
        tags=tags,
        # the flow run also as a property: the jobs' listing filters properties by value, tags only by key
        properties={FLOW_RUN_TAG: tags[FLOW_RUN_TAG]} if FLOW_RUN_TAG in tags else {},
        timeout=max_run_minutes * 60,
    )


RUN_ID_TAG = "mnist_flow.run_id"  # the job a version came from, kept as a tag: the service may rewrite its path


def model_asset(name: str, job_name: str, tags: dict[str, str]) -> Model:
    """The run's `outputs` folder as a model version (the tutorial registers outputs/sklearn_mnist_model.pkl)."""
    return Model(
        name=name,
        type=AssetTypes.CUSTOM_MODEL,
        tags={**tags, RUN_ID_TAG: job_name},
        path=f"azureml://jobs/{job_name}/outputs/artifacts/paths/outputs/",
    )
