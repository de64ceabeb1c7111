"""The local workspace's run history and model registry: MLflow's own store on SQLite, in the workspace.

`mlflow ui --backend-store-uri sqlite:///.workspace/mlflow.db` shows what this writes. Two traps of MLflow 3.17,
measured: a model version must come from a logged model (`mlflow.register_model("runs:/<id>/...pkl")` fails
with "Unable to find a logged_model" after creating an empty registered model), so `create_version` makes one
from the MLflow model built from the run's pickle (servable.py) and registers it by its artifact
location and id (a `models:/<id>` source is looked up by the SQL store with the process's global tracking URI,
not the client's: "Logged model ... not found"). And an experiment's artifacts default to `./mlruns` of
whatever the current folder is, so every experiment is created with its artifact location inside the
workspace. Steps that two flows could race on (creating the tables, an experiment, a registered model) hold a
workspace lock; registration holds the registry lock of the workspace (tasks/register.py).
"""

import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.entities import LoggedModelStatus, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from workspaces.base import JOB_KEY_TAG, MODEL_FILE
from workspaces.local.servable import save_servable
from workspaces.local.team_door import AtTheDoor
from workspaces.locks import exclusive
from workspaces.owners import OWNER_TAG, is_alive, process_identity
from workspaces.paths import inside

# MLflow draws a progress bar for every artifact download: in a flow's log, a line of carriage returns per model
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class LocalTracking:
    def __init__(self, folder: Path, server: str | None = None):
        """The workspace's SQLite store, or the MLflow tracking server `server` (http(s)), shared by a team:
        then runs, artifacts and the registry are the server's, and only the locks stay in `folder`."""
        self.folder = Path(folder)
        self.server = server
        self.uri = server or f"sqlite:///{self.folder / 'mlflow.db'}"
        self.locks = self.folder / "locks"
        with exclusive(self.locks / "mlflow.lock"):  # the first use creates the tables: one process at a time
            client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            self.client = cast(MlflowClient, AtTheDoor(client, server)) if server else client
            self.client.search_experiments(max_results=1)
            self.client.search_registered_models(max_results=1)

    def experiment_id(self, name: str) -> str:
        with exclusive(self.locks / "mlflow.lock"):
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                return experiment.experiment_id
            if not self.server:
                location = inside(self.folder, "mlartifacts", name).as_uri()
                return self.client.create_experiment(name, artifact_location=location)
            try:  # in the server's artifact root
                return self.client.create_experiment(name)
            except MlflowException as exc:
                made = self.client.get_experiment_by_name(name) if made_elsewhere(exc) else None
                if made is None:
                    raise
                return made.experiment_id

    def start_run(self, experiment: str, name: str, tags: dict[str, str]) -> tuple[str, str]:
        """A new RUNNING run owned by this process; returns its id and experiment id."""
        experiment_id = self.experiment_id(experiment)
        run = self.client.create_run(experiment_id, run_name=name, tags={**tags, OWNER_TAG: process_identity()})
        return run.info.run_id, experiment_id

    def end_run(self, run_id: str, status: str, outputs: Path | None, log_file: Path | None) -> None:
        """Keep the run's files with it in MLflow, then set its final status (unless the script already did)."""
        if outputs is not None and outputs.is_dir():
            self.client.log_artifacts(run_id, str(outputs), "outputs")
        if log_file is not None and log_file.exists():
            self.client.log_artifact(run_id, str(log_file), "logs")
        if self.client.get_run(run_id).info.status != status:
            self.client.set_terminated(run_id, status)

    def runs_of_job(self, experiment: str, key: str) -> list:
        """The runs of `experiment` that carry the job key `key` (JOB_KEY_TAG), newest first."""
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        query = f"tags.`{JOB_KEY_TAG}` = '{key}'"  # the key is hex: nothing to escape
        return self.client.search_runs([found.experiment_id], query, order_by=["attributes.start_time DESC"])

    def finished_training_runs(self, experiment: str, limit: int) -> list:
        """The FINISHED runs of `experiment` that carry a job key, newest first."""
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        query = f"attributes.status = 'FINISHED' and tags.`{JOB_KEY_TAG}` != ''"
        return self.client.search_runs(
            [found.experiment_id], query, max_results=limit, order_by=["attributes.start_time DESC"]
        )

    def status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status

    def log_metric(self, run_id: str, name: str, value: float) -> None:
        self.client.log_metric(run_id, name, value)

    def metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)

    def finished_with(self, run_id: str, relative: str) -> bool:
        """Whether the run exists, FINISHED, and keeps the file `relative`: a cached training result still holds.
        One read of the run (every cached training step asks, on every warm flow)."""
        try:
            run = self.client.get_run(run_id)
            return run.info.status == "FINISHED" and self._keeps(run.info.artifact_uri, relative)
        except MlflowException:
            return False

    def mark_orphans_killed(self) -> list[str]:
        """Runs left RUNNING by a flow process that no longer lives (SIGKILL, power loss) are marked KILLED."""
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        if not experiments:
            return []
        running = self.client.search_runs(experiments, "attributes.status = 'RUNNING'", max_results=1000)
        orphans = [r.info.run_id for r in running if is_alive(r.data.tags.get(OWNER_TAG, "")) is False]
        for run_id in orphans:
            self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED))
        return orphans

    def has_artifact(self, run_id: str, relative: str) -> bool:
        """Whether the run keeps the file `relative` (a/b.pkl), in the workspace's folder or on the server."""
        try:
            return self._keeps(self.client.get_run(run_id).info.artifact_uri, relative)
        except MlflowException:
            return False

    def _keeps(self, artifact_uri: str, relative: str) -> bool:
        # the run's own artifact store, listed directly: MlflowClient.list_artifacts would read the run again
        repository = get_artifact_repository(artifact_uri, tracking_uri=self.uri)
        listed = repository.list_artifacts(posixpath.dirname(relative) or None)
        return any(f.path == relative and not f.is_dir for f in listed)

    def download_run_file(self, run_id: str, relative: str, dest: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, relative, str(dest)))

    def find_version(self, name: str, run_id: str):
        found = self.client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
        return found[0] if found else None

    def create_version(
        self, name: str, run_id: str, tags: dict[str, str], digest_of: Callable[[Path], str], test_images: Path
    ):
        """A new version of `name`: a logged model made from the run's pickle (servable.py; its `digest_of` the
        folder, as uploaded, becomes the tag `model_sha256`), the registered model created if need be. A crash
        between the logged model and the version leaves an unused logged model, nothing more."""
        with exclusive(self.locks / "mlflow.lock"):
            if not self.client.search_registered_models(f"name='{name}'"):
                try:
                    self.client.create_registered_model(name, description="LogisticRegression on MNIST (mnist-flow)")
                except MlflowException as exc:
                    if not made_elsewhere(exc):
                        raise
        run = self.client.get_run(run_id)
        model = self.client.create_logged_model(run.info.experiment_id, name=name, source_run_id=run_id)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch, "mlflow_model")
            save_servable(self.download_run_file(run_id, MODEL_FILE, Path(scratch)), folder, test_images)
            described = Model.load(folder)  # what log_model would record: which logged model, from which run
            described.model_id, described.run_id = model.model_id, run_id
            described.save(folder / "MLmodel")
            digest = digest_of(folder)
            self.client.log_model_artifacts(model.model_id, str(folder))
        self.client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        tags = {**tags, "model_sha256": digest}
        source = model.artifact_location
        return self.client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model.model_id)

    def download(self, source: str, dest: Path) -> Path:
        """The files a registered version's source holds, downloaded into `dest`."""
        return Path(download_artifacts(artifact_uri=source, dst_path=str(dest), tracking_uri=self.uri))

    def versions(self, name: str) -> list:
        """Every version of model `name`, oldest first."""
        return sorted(self.client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))

    def version_by_alias(self, name: str, alias: str):
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None

    def version_by_number(self, name: str, number: str):
        try:
            return self.client.get_model_version(name, number)
        except MlflowException:
            return None

    def held_versions(self, name: str) -> tuple[list[str], dict[str, str]]:
        """The version numbers of `name`, oldest first, and its aliases (alias -> version)."""
        numbers = sorted((v.version for v in self.client.search_model_versions(f"name='{name}'")), key=int)
        try:
            aliases = dict(self.client.get_registered_model(name).aliases)
        except MlflowException:
            aliases = {}
        return [str(n) for n in numbers], {alias: str(number) for alias, number in aliases.items()}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def version_exists(self, name: str, version: str) -> bool:
        try:
            self.client.get_model_version(name, version)
            return True
        except MlflowException:
            return False


def made_elsewhere(exc: MlflowException) -> bool:
    """A name another workspace of the same tracking server created first (the lock here holds only this
    folder's flows)."""
    return exc.error_code == "RESOURCE_ALREADY_EXISTS"
