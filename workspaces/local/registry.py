"""The local workspace's model registry: plain operations on MLflow's (which version is champion is decided
in steps/registry.py). A version is the run's `outputs` folder; its model file's sha256 is a tag, checked
whenever the file is fetched back."""

from collections.abc import Mapping
from pathlib import Path

from workspaces.base import MODEL_FILE, MODEL_FILE_NAME, ModelVersion, RunResult
from workspaces.errors import DataError
from workspaces.files import copy_atomically, sha256_file
from workspaces.local.explain import explained
from workspaces.local.tracking import LocalTracking, uri_to_path
from workspaces.paths import inside


class LocalRegistry:
    @property
    def tracking(self) -> LocalTracking:  # the workspace's own (workspace.py)
        raise NotImplementedError

    CHAMPION = "champion"  # MLflow's alias

    def _version(self, version) -> ModelVersion:
        return ModelVersion.from_registry(version.name, version.version, version.run_id, version.source, version.tags)

    @explained
    def find_model_version(self, name: str, run_id: str) -> ModelVersion | None:
        found = self.tracking.find_version(name, run_id)
        return self._version(found) if found is not None else None

    @explained
    def create_model_version(self, run: RunResult, name: str, tags: Mapping[str, str]) -> ModelVersion:
        digest = sha256_file(self.tracking.artifact_path(run.run_id, MODEL_FILE))
        return self._version(self.tracking.create_version(name, run.run_id, {**tags, "model_sha256": digest}))

    @explained
    def champion(self, name: str) -> ModelVersion | None:
        found = self.tracking.version_by_alias(name, self.CHAMPION)
        return self._version(found) if found is not None else None

    @explained
    def set_champion(self, version: ModelVersion, previous: ModelVersion | None) -> None:
        self.tracking.set_alias(version.name, self.CHAMPION, version.version)  # an alias moves in one step

    @explained
    def fetch_model(self, version: ModelVersion, dest: Path) -> Path:
        source = inside(uri_to_path(version.source), MODEL_FILE_NAME)
        return verified_copy(source, inside(dest, MODEL_FILE_NAME), version.sha256)


def verified_copy(source: Path, dest: Path, expected_sha256: str) -> Path:
    digest = sha256_file(source)
    if digest != expected_sha256:
        raise DataError(
            f"{source}: sha256 {digest[:12]}... differs from the registered {expected_sha256[:12]}...; "
            "the model file changed after registration: refusing to load it"
        )
    copy_atomically(source, dest)
    return dest
