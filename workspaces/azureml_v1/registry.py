"""The Azure ML workspace's model registry (SDK v1): plain operations (which version is champion is decided in
steps/registry.py). SDK v1 has no aliases: the champion is a tag, `champion=true`, that one version carries."""

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workspaces.base import MODEL_FILE, MODEL_FILE_NAME, ModelVersion, RunResult
from workspaces.errors import DataError
from workspaces.files import sha256_file
from workspaces.paths import inside

log = logging.getLogger(__name__)

CHAMPION_TAG = "champion"


class AzureRegistry:
    sdk: Any
    _call: Callable[..., Any]

    def _version(self, model: dict) -> ModelVersion:
        name, version, run_id, url, tags = (model[k] for k in ("name", "version", "run_id", "url", "tags"))
        return ModelVersion.from_registry(name, version, run_id, url, tags, registered_at=model["created"])

    def model_versions(self, name: str) -> list[ModelVersion]:
        found = self._call(f"listing the versions of {name!r}", self.sdk.models, name)
        return sorted((self._version(model) for model in found), key=lambda v: int(v.version))

    def find_model_version(self, name: str, run_id: str) -> ModelVersion | None:
        found = self._call("looking up registered models", self.sdk.models, name, run_id)
        return self._version(found[0]) if found else None

    def create_model_version(self, run: RunResult, name: str, tags: Mapping[str, str]) -> ModelVersion:
        with tempfile.TemporaryDirectory() as folder:
            local = inside(folder, MODEL_FILE_NAME)
            self._call(
                f"downloading run {run.name!r}'s model", self.sdk.download_run_file, run.run_id, MODEL_FILE, local
            )
            all_tags = {**tags, "model_sha256": sha256_file(local)}
        properties = {"accuracy": repr(run.accuracy), "regularization rate": repr(run.regularization)}
        model = self._call(
            f"registering model {name!r}", self.sdk.register_model, run.run_id, name, MODEL_FILE, all_tags, properties
        )
        return self._once(self._version(model), run)

    def _once(self, version: ModelVersion, run: RunResult) -> ModelVersion:
        """The run's one version: the SDK sends a registration again when its answer is lost (its ClientBase
        retries a POST on a connection error), and the service then registers the run twice, with the same tags.
        Of the versions this registration made (its model's sha256), the oldest is kept, the others deleted; a
        version of the run registered by hand, without that tag, is left alone."""
        found = self._call("looking up registered models", self.sdk.models, version.name, run.run_id)
        made = (self._version(model) for model in found)
        versions = sorted((v for v in made if v.sha256 == version.sha256), key=lambda v: int(v.version))
        for extra in versions[1:]:
            log.warning("run %s was registered twice (an answer lost): deleting version %s", run.run_id, extra.version)
            self._call("deleting a duplicate version", self.sdk.delete_model, extra.name, extra.version)
        return versions[0] if versions else version

    def _champions(self, name: str) -> list[ModelVersion]:
        found = self._call("finding the champion", self.sdk.models, name, None, [[CHAMPION_TAG, "true"]])
        return [self._version(model) for model in found]

    def champion(self, name: str) -> ModelVersion | None:
        """SDK v1 has no aliases: the champion is the version tagged champion=true (the most accurate, should a
        crash between tagging one and untagging the other have left two)."""
        return max(self._champions(name), key=lambda v: v.accuracy, default=None)

    def set_champion(self, version: ModelVersion, previous: ModelVersion | None) -> None:
        self._call(
            "tagging the champion", self.sdk.set_model_tags, version.name, version.version, {CHAMPION_TAG: "true"}, []
        )
        for other in self._champions(version.name):
            if other.version != version.version:
                self._call(
                    "moving the champion tag", self.sdk.set_model_tags, other.name, other.version, {}, [CHAMPION_TAG]
                )

    def fetch_model(self, version: ModelVersion, dest: Path) -> Path:
        folder = self._call(
            f"downloading model {version.name}:{version.version}",
            self.sdk.download_model,
            version.name,
            version.version,
            Path(dest),
        )
        path = inside(dest, str(folder))  # the SDK's answer: where it put the file (or its folder), in dest
        path = path if path.is_file() else inside(path, MODEL_FILE_NAME)
        if sha256_file(path) != version.sha256:
            raise DataError(
                f"model {version.name}:{version.version}: the downloaded file's sha256 differs from the "
                "registered one; the model changed after registration: refusing to load it"
            )
        return path
