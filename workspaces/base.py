"""The workspace port: everything the flow needs from Azure ML, and the plain values that cross it.

The values are frozen pydantic models of plain data, so that Prefect can hash them into cache keys and pickle
them as persisted results. A client object (an SDK workspace, an MLflow client) never crosses the port: a task
receives a `WorkspaceRef` and opens the adapter with `workspaces.open_workspace(ref)`.

Beyond the design's five calls, the port has `delete_compute` (the tutorial's last cell), `cancel` and
`stop_all_runs` (a cancelled flow must stop its runs, which are billed on Azure), `fetch_model` (the confusion
matrix and the sha256 check need the registered file), `holds` (a cached result is used only while what it
points to still exists: see plumbing/caching.py), and the registry split into plain operations (find, create,
champion, set_champion) so that the policy of which version is champion is written once, in steps/registry.py.
"""

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from workspaces.errors import RunFailed
from workspaces.paths import inside
from workspaces.stop_report import StopReport

MODEL_FILE = "outputs/sklearn_mnist_model.pkl"  # where train.py saves the model, relative to the run
MODEL_FILE_NAME = "sklearn_mnist_model.pkl"
PAST_RUNS = 20  # how far back --plan looks in an experiment's history
JOB_KEY_TAG = "mnist_flow.job_key"  # every training run carries its job's idempotency key (TrainingJob.key)


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def sha256_of_mapping(mapping: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(sorted(mapping.items()))).encode()).hexdigest()


class WorkspaceRef(Value):
    """How to open a workspace again, in any task or process. Never holds a secret."""

    backend: str  # a name of the backends table (workspaces/backends.py)
    directory: str  # local state: the whole local workspace, or the cache and downloads of an Azure one
    config_path: str | None = None  # Azure ML config.json
    credentials_block: str | None = None  # name of a prefect-azure AzureMlCredentials block
    datastore: str | None = None  # Azure ML datastore; None: the workspace's default
    tracking_uri: str | None = None  # local: an MLflow tracking server (no user or password); None: SQLite

    def folder(self, name: str) -> Path:
        """A folder of the local state: results (the cache), downloads, reports, locks; refused if a symlink
        planted in the workspace would lead it outside."""
        return inside(self.directory, name)

    results_dir = property(lambda self: self.folder("results"))
    downloads_dir = property(lambda self: self.folder("downloads"))
    reports_dir = property(lambda self: self.folder("reports"))
    locks_dir = property(lambda self: self.folder("locks"))


class ComputeSpec(Value):
    """The tutorial's AmlCompute settings (AML_COMPUTE_CLUSTER_NAME, _MIN_NODES, _MAX_NODES, _SKU)."""

    name: str = "cpu-cluster"
    vm_size: str = "STANDARD_D2_V2"
    min_nodes: int = 0
    max_nodes: int = 4
    idle_seconds_before_scaledown: int = 1800
    vm_priority: Literal["dedicated", "lowpriority"] = "dedicated"
    max_run_minutes: int = 180  # a run's longest time on its node before the service cancels it (Azure ML)


class ComputeTarget(Value):
    name: str
    kind: str  # the backend's word for it (the backends table's compute_kind: Azure's "AmlCompute" ...)
    vm_size: str
    min_nodes: int
    max_nodes: int
    created: bool  # False: an existing target was attached
    shares_this_machine: bool = False  # its runs use this machine's cores (the adapter says)
    max_run_minutes: int = 180  # the spec's: what a run submitted to it is given as its time limit

    @classmethod
    def from_spec(
        cls, spec: ComputeSpec, kind: str, created: bool, vm_size: str | None = None, shares_this_machine: bool = False
    ) -> "ComputeTarget":
        """The target `spec` asks for (an attached one keeps its own VM size: Azure cannot change it)."""
        return cls(
            name=spec.name,
            kind=kind,
            vm_size=vm_size or spec.vm_size,
            min_nodes=spec.min_nodes,
            max_nodes=spec.max_nodes,
            created=created,
            shares_this_machine=shares_this_machine,
            max_run_minutes=spec.max_run_minutes,
        )

    def threads_here(self) -> int:
        """Threads a fit on this machine may use while the target's runs go. Runs that share the machine's cores,
        `max_nodes` at once, leave the baseline one run's share, so numeric libraries never oversubscribe them;
        beside a remote cluster the machine is the baseline's alone."""
        cores = os.cpu_count() or 1
        return max(1, cores // max(1, self.max_nodes)) if self.shares_this_machine else cores


class DataRef(Value):
    """Files in a datastore, as training runs receive them (`--data-folder`)."""

    datastore: str
    path: str  # folder inside the datastore: "mnist", the tutorial's target path
    files: dict[str, str]  # file name -> sha256
    mount: str  # what `--data-folder` is given: a local folder, or the adapter's mount reference

    @property
    def content_hash(self) -> str:
        return sha256_of_mapping(self.files)


class TrainingJob(Value):
    """The tutorial's Estimator: a source folder, its entry script and arguments, an experiment."""

    experiment: str
    run_name: str
    regularization: float
    data: DataRef
    source_dir: str
    source_hash: str  # sha256 of the source folder's files: part of the cache key
    compute: str  # the compute target's name
    libraries: dict[str, str] = {}  # the versions the training code runs on (scikit-learn, numpy ...)
    entry_script: str = "train.py"

    def arguments(self, data_folder: str) -> list[str]:
        return ["--data-folder", data_folder, "--regularization", repr(self.regularization)]

    @property
    def key(self) -> str:
        """The idempotency key: a hash of everything that decides the model (experiment, data, training code,
        regularization, libraries), and of nothing that does not (the compute's scale, the run's name). Every
        run carries it as a tag from its creation; a run with the same key trained the same model."""
        decides = {
            "experiment": self.experiment,
            "data": self.data.content_hash,
            "code": self.source_hash,
            "entry_script": self.entry_script,
            "regularization": repr(self.regularization),
            "libraries": self.libraries,
        }
        return hashlib.sha256(json.dumps(decides, sort_keys=True).encode()).hexdigest()


class RunHandle(Value):
    run_id: str
    name: str
    job: TrainingJob
    url: str | None = None


RunState = Literal["finished", "under_way", "failed"]


class KnownRun(Value):
    """A run of the workspace's history that carries a job's key: what `find_runs` answers.

    finished: it ended well, with its accuracy and its model file: adopt it, train nothing.
    under_way: queued, preparing, running or finalizing, its owner gone or not: attach to it and wait.
    failed: failed, cancelled, killed, or finished without a model: it counts for nothing; train again."""

    run_id: str
    name: str
    state: RunState
    status: str  # the backend's own word: FINISHED, Running, Canceled ...
    owner_alive: bool | None = None  # the flow process that created it (None: another machine's, or unknown)
    url: str | None = None


class PastRun(Value):
    """A finished training run of an experiment's history, as `--plan` compares a job with it: what it was
    trained on (its tags), and how long it held a node (start to end; None when the backend did not say)."""

    run_id: str
    name: str
    regularization: str  # repr() of the rate, as tagged
    data_hash: str
    source_hash: str
    node_seconds: float | None = None

    @classmethod
    def from_tags(cls, run_id: str, tags: Mapping[str, str], seconds: float | None) -> "PastRun":
        return cls(
            run_id=run_id,
            name=tags.get("run_name", tags.get("mlflow.runName", run_id)),
            regularization=tags.get("regularization", ""),
            data_hash=tags.get("data_sha256", ""),
            source_hash=tags.get("source_sha256", ""),
            node_seconds=seconds,
        )


class RunResult(Value):
    run_id: str
    name: str
    status: str
    regularization: float
    metrics: dict[str, float]
    data_hash: str
    source_hash: str
    url: str | None = None

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]


class ModelVersion(Value):
    name: str
    version: str
    run_id: str
    accuracy: float
    regularization: float
    source: str  # where the registry keeps the model's files
    sha256: str  # of the model file, checked whenever it is loaded again
    tags: dict[str, str]
    created: bool = False  # False: this run was registered before and its version is reused
    champion: bool = False  # the alias "champion" points at this version after registration
    url: str | None = None
    registered_at: str = ""  # when the registry created it (ISO 8601, UTC); "" where the answer did not say

    @classmethod
    def from_registry(
        cls,
        name: str,
        version: str,
        run_id: str,
        source: str,
        tags: Mapping[str, str],
        url: str | None = None,
        registered_at: str = "",
    ) -> "ModelVersion":
        """A version as a registry holds it; its figures come from the lineage tags registration gave it (a
        version registered by hand, without them, has accuracy -1: any version beats it)."""
        return cls(
            name=name,
            version=str(version),
            run_id=run_id or "",
            source=source,
            tags=dict(tags),
            url=url,
            accuracy=float(tags.get("accuracy", -1)),
            regularization=float(tags.get("regularization_rate", "nan")),
            sha256=tags.get("model_sha256", ""),
            registered_at=registered_at,
        )


LogSink = Callable[[str], None]


def finished_run(run: RunHandle, status: str, metrics: Mapping[str, float], tail: tuple[str, ...] = ()) -> RunResult:
    """The result of a run whose script ended without error: RunFailed if it never logged its accuracy."""
    if "accuracy" not in metrics:
        message = f"training run {run.name!r} ended without logging 'accuracy'; its script must mlflow.log_metric it"
        raise RunFailed(message, run.name, tail)
    return RunResult(
        run_id=run.run_id,
        name=run.name,
        status=status,
        regularization=run.job.regularization,
        metrics=dict(metrics),
        data_hash=run.job.data.content_hash,
        source_hash=run.job.source_hash,
        url=run.url,
    )


class Workspace(Protocol):
    name: str

    def start_flow(self) -> None: ...  # a flow starts with it: runs may start again after an earlier cancellation

    def provision_compute(self, spec: ComputeSpec) -> ComputeTarget: ...  # create or attach
    def has_compute(self, name: str) -> bool: ...  # read only: would provisioning attach? (--plan)
    def delete_compute(self, compute: ComputeTarget) -> None: ...
    def upload(self, files: Sequence[Path], target: str) -> DataRef: ...  # idempotent by content
    # a training run is created once per job key: see steps/training.py for the rule that uses these
    def find_runs(self, job: TrainingJob) -> list[KnownRun]: ...  # the runs carrying job.key, newest first
    # read only, for --plan: the experiment's finished training runs (those carrying a job key), newest first
    def past_runs(self, experiment: str, limit: int = PAST_RUNS) -> list[PastRun]: ...
    def submit(self, job: TrainingJob, compute: ComputeTarget) -> RunHandle: ...  # tagged with job.key at creation
    def attach(self, job: TrainingJob, run: KnownRun) -> RunHandle: ...  # follow a run under way (stream_logs)
    def adopt(self, job: TrainingJob, run: KnownRun) -> RunResult: ...  # a finished run's result
    def stream_logs(self, run: RunHandle, sink: LogSink) -> RunResult: ...  # blocks until done
    def cancel(self, run: RunHandle) -> None: ...
    def stop_all_runs(self) -> StopReport: ...  # the flow stopped: every run it started, cancelled, and said so
    # the registry: plain operations; which version is champion is decided in steps/registry.py
    def find_model_version(self, name: str, run_id: str) -> ModelVersion | None: ...
    def create_model_version(self, run: RunResult, name: str, tags: Mapping[str, str]) -> ModelVersion: ...
    def champion(self, name: str) -> ModelVersion | None: ...
    def model_versions(self, name: str) -> list[ModelVersion]: ...  # every version, oldest first (its history)
    def set_champion(self, version: ModelVersion, previous: ModelVersion | None) -> None: ...
    def fetch_model(self, version: ModelVersion, dest: Path) -> Path: ...  # verifies the sha256
    def load_model(self, version: ModelVersion, folder: Path) -> Any: ...  # fetched, checked, ready to predict
    def holds(self, value: DataRef | RunResult | ModelVersion) -> bool: ...


@dataclass(frozen=True)
class Rebuilt:
    """A registered version trained again from what was recorded about it (`--reproduce`)."""

    recorded_model: Path  # the run's own model file (the tutorial's pickle)
    rebuilt_model: Path
    test_data: Path  # the folder of the data the version was trained on
    notes: list[str]  # what was checked, and how it was rebuilt


@runtime_checkable
class LocalOnly(Protocol):
    """What the features of the local workspace only (the scoring flow, `--reproduce`) need of it."""

    def model_version(self, name: str, ref: str) -> ModelVersion: ...  # by number or alias; ConfigError if none
    def load_model(self, version: ModelVersion, folder: Path) -> Any: ...
    def rebuild(self, version: ModelVersion, folder: Path) -> Rebuilt: ...  # DataError if its inputs changed
