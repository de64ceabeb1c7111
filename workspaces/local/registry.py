"""The local workspace's model registry: plain operations on MLflow's (which version is champion is decided
in steps/registry.py). A version is a logged model made from the run's pickle as an MLflow model, so
`mlflow models serve -m models:/sklearn_mnist@champion` and `mlflow.pyfunc.load_model` use it; one sha256 over
all its files (the names and contents of what MLflow loads) is a tag, checked whenever it is fetched back.
Versions registered before the MLflow model existed are a run's `outputs` folder with the tutorial's pickle,
fetched as such."""

import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import mlflow.sklearn

from workspaces.base import MODEL_FILE_NAME, ModelVersion, Rebuilt, RunResult
from workspaces.errors import ConfigError, DataError
from workspaces.files import copy_atomically, make_dirs, sha256_file, sha256_tree
from workspaces.local.explain import explained
from workspaces.local.rebuild import rebuild
from workspaces.local.tracking import LocalTracking
from workspaces.paths import inside


class LocalRegistry:
    root: Path  # the workspace's folder (workspace.py)

    @property
    def tracking(self) -> LocalTracking:  # the workspace's own (workspace.py)
        raise NotImplementedError

    CHAMPION = "champion"  # MLflow's alias

    def _version(self, version) -> ModelVersion:
        created = version.creation_timestamp  # milliseconds since the epoch
        registered = datetime.fromtimestamp(created / 1000, UTC).isoformat(timespec="seconds") if created else ""
        return ModelVersion.from_registry(
            version.name, version.version, version.run_id, version.source, version.tags, registered_at=registered
        )

    @explained
    def find_model_version(self, name: str, run_id: str) -> ModelVersion | None:
        found = self.tracking.find_version(name, run_id)
        return self._version(found) if found is not None else None

    @explained
    def create_model_version(self, run: RunResult, name: str, tags: Mapping[str, str]) -> ModelVersion:
        test_images = inside(self.root, "datastore", "mnist", "test-images.gz")  # the model's input example
        return self._version(self.tracking.create_version(name, run.run_id, dict(tags), model_digest, test_images))

    @explained
    def model_versions(self, name: str) -> list[ModelVersion]:
        return [self._version(found) for found in self.tracking.versions(name)]

    @explained
    def champion(self, name: str) -> ModelVersion | None:
        found = self.tracking.version_by_alias(name, self.CHAMPION)
        return self._version(found) if found is not None else None

    @explained
    def model_version(self, name: str, ref: str) -> ModelVersion:
        """A version by number (`3`) or alias (`champion`); ConfigError saying what the registry holds if none."""
        found = (
            self.tracking.version_by_number(name, ref) if ref.isdigit() else self.tracking.version_by_alias(name, ref)
        )
        if found is not None:
            return self._version(found)
        numbers, aliases = self.tracking.held_versions(name)
        held = f"versions {', '.join(numbers)}" if numbers else "no versions"
        named = ", ".join(f"{alias} -> {number}" for alias, number in sorted(aliases.items()))
        kind = "version" if ref.isdigit() else "alias"
        raise ConfigError(f"{name} has no {kind} {ref!r}; the registry holds {held}" + (f" ({named})" if named else ""))

    @explained
    def set_champion(self, version: ModelVersion, previous: ModelVersion | None) -> None:
        self.tracking.set_alias(version.name, self.CHAMPION, version.version)  # an alias moves in one step

    @explained
    def fetch_model(self, version: ModelVersion, dest: Path) -> Path:
        """The version's MLflow model folder in `dest` (its files checked against the registered sha256)."""
        make_dirs(dest)
        staging = Path(tempfile.mkdtemp(prefix=".model.", suffix=".part", dir=dest))
        try:
            folder = self.tracking.download(version.source, staging)
            if not (folder / "MLmodel").is_file():  # registered before the MLflow model: a run's outputs folder
                return verified_copy(inside(folder, MODEL_FILE_NAME), inside(dest, MODEL_FILE_NAME), version.sha256)
            digest = model_digest(folder)
            if digest != version.sha256:
                raise DataError(
                    f"{name_of(version)}: the files of its model hash to {digest[:12]}..., not the registered "
                    f"{version.sha256[:12]}...; the model changed after registration: refusing to load it"
                )
            return folder.rename(inside(dest, MLFLOW_MODEL_NAME))
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # whatever was not renamed into place

    @explained
    def rebuild(self, version: ModelVersion, folder: Path) -> Rebuilt:
        """Train `version` again from its recorded code, data, rate and threads, unregistered (rebuild.py)."""
        return rebuild(self.root, self.tracking, version, folder)

    def load_model(self, version: ModelVersion, folder: Path) -> Any:
        """The version's model, fetched into `folder` (its files checked) and loaded as MLflow loads it."""
        fetched = self.fetch_model(version, folder)
        if fetched.is_dir():
            return mlflow.sklearn.load_model(str(fetched))
        return joblib.load(fetched)  # registered before the MLflow model: the tutorial's pickle


MLFLOW_MODEL_NAME = "mlflow_model"


# MLflow writes this into the registry's own copy of a model whenever it is loaded by `models:/name@alias`
# (`mlflow models serve`, `pyfunc.load_model`): its bookkeeping (name and version), not the model
WRITTEN_ON_LOAD = ("registered_model_meta",)


def model_digest(folder: Path) -> str:
    """One sha256 over every file MLflow loads: MLmodel, model.skops, the environment files, the examples."""
    return sha256_tree(folder, ignore=WRITTEN_ON_LOAD)


def name_of(version: ModelVersion) -> str:
    return f"{version.name} version {version.version}"


def verified_copy(source: Path, dest: Path, expected_sha256: str) -> Path:
    digest = sha256_file(source)
    if digest != expected_sha256:
        raise DataError(
            f"{source}: sha256 {digest[:12]}... differs from the registered {expected_sha256[:12]}...; "
            "the model file changed after registration: refusing to load it"
        )
    copy_atomically(source, dest)
    return dest
