"""The SDK v2 workspace's model registry: plain operations (which version is champion is decided in
steps/registry.py). A version is the job's `outputs` folder (`azureml://jobs/<job>/outputs/artifacts/paths/
outputs/`), its version number the registry's next; v2 has labels and stages, no aliases, so `champion` is a
tag, as in SDK v1. The model file is read from the workspace's artifact store, where the job's outputs are
(`ExperimentRun/dcid.<job>/outputs/`), to take and check its sha256."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspaces.azureml_v2.jobs import RUN_ID_TAG, model_asset
from workspaces.base import MODEL_FILE, MODEL_FILE_NAME, ModelVersion
from workspaces.errors import DataError
from workspaces.files import make_dirs, sha256_file
from workspaces.paths import inside

if TYPE_CHECKING:
    from workspaces.azureml_v2.storage import BlobFolder
    from workspaces.base import RunResult

CHAMPION_TAG = "champion"
log = logging.getLogger(__name__)


class V2Registry:
    ml: Any
    _call: Callable[..., Any]
    _find: Callable[..., Any]  # (workspace.py: what a call gets, None where the service answers 404)

    @property
    def artifacts(self) -> BlobFolder:  # the workspace's own (workspace.py)
        raise NotImplementedError

    def _version(self, model) -> ModelVersion:
        job = (model.tags or {}).get(RUN_ID_TAG) or job_of_path(str(model.path))
        created = getattr(model.creation_context, "created_at", None)
        return ModelVersion.from_registry(
            model.name,
            model.version,
            job,
            str(model.path),
            dict(model.tags or {}),
            registered_at=created.astimezone(UTC).isoformat(timespec="seconds") if created else "",
        )

    def model_versions(self, name: str) -> list[ModelVersion]:
        return sorted(self._versions(name), key=lambda v: int(v.version))

    def _versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`; none for a name never registered, which the service answers with a 404
        (UserError, ModelNotFound: recorded in Azure's own sessions), not an empty list."""
        listed = self._find(f"listing the versions of {name!r}", lambda: list(self.ml.models.list(name=name)))
        return [self._version(model) for model in listed or []]

    def find_model_version(self, name: str, run_id: str) -> ModelVersion | None:
        return next((v for v in self._versions(name) if v.run_id == run_id), None)

    def _model_file(self, job_name: str, dest: Path) -> Path:
        make_dirs(Path(dest))
        local = inside(dest, MODEL_FILE_NAME)
        self._call(
            f"downloading job {job_name}'s model",
            self.artifacts.download,
            f"ExperimentRun/dcid.{job_name}/{MODEL_FILE}",
            local,
        )
        return local

    def create_model_version(self, run: RunResult, name: str, tags: Mapping[str, str]) -> ModelVersion:
        with tempfile.TemporaryDirectory() as folder:
            digest = sha256_file(self._model_file(run.run_id, Path(folder)))
        model = self._call(
            f"registering model {name!r}",
            self.ml.models.create_or_update,
            model_asset(name, run.run_id, {**tags, "model_sha256": digest}),
        )
        return self._once(self._version(model), run)

    def _once(self, version: ModelVersion, run: RunResult) -> ModelVersion:
        """The run's one version: two machines registering the same run at once each create one (the SDK reads
        the registry's next version, then PUTs it; the registry lock is one machine's). Of the versions of this
        run with this model (its sha256), the oldest is kept and the others archived (SDK v2 deletes no model
        version; an archived one is left out of the listings); every flow answers the kept one."""
        same = [v for v in self._versions(version.name) if v.run_id == run.run_id and v.sha256 == version.sha256]
        same.sort(key=lambda v: int(v.version))
        for extra in same[1:]:
            log.warning(
                "run %s was registered twice (two flows at once): archiving version %s", run.run_id, extra.version
            )
            self._call("archiving a duplicate version", self.ml.models.archive, extra.name, extra.version)
        return same[0] if same else version

    def champion(self, name: str) -> ModelVersion | None:
        tagged = [v for v in self._versions(name) if v.tags.get(CHAMPION_TAG) == "true"]
        return max(tagged, key=lambda v: v.accuracy, default=None)

    def _tag(self, version: ModelVersion, champion: bool) -> None:
        model = self._call("reading a model version", self.ml.models.get, version.name, version.version)
        tags = {k: v for k, v in dict(model.tags or {}).items() if k != CHAMPION_TAG}
        model.tags = {**tags, CHAMPION_TAG: "true"} if champion else tags
        self._call("tagging the champion", self.ml.models.create_or_update, model)

    def set_champion(self, version: ModelVersion, previous: ModelVersion | None) -> None:
        self._tag(version, champion=True)
        for other in self._versions(version.name):
            if other.version != version.version and other.tags.get(CHAMPION_TAG) == "true":
                self._tag(other, champion=False)

    def fetch_model(self, version: ModelVersion, dest: Path) -> Path:
        path = self._model_file(version.run_id, Path(dest))
        if sha256_file(path) != version.sha256:
            raise DataError(
                f"model {version.name}:{version.version}: the downloaded file's sha256 differs from the "
                "registered one; the model changed after registration: refusing to load it"
            )
        return path


def job_of_path(path: str) -> str:
    """The job of a version registered without the run id tag, from its path: the form it was registered with
    (`azureml://jobs/<job>/outputs/...`) or the long form the service may rewrite it to (`azureml://subscriptions/
    .../datastores/workspaceartifactstore/paths/ExperimentRun/dcid.<job>/outputs/`); "" for neither."""
    found = re.search(r"azureml://jobs/([^/]+)/|/dcid\.([^/]+)/", path)
    return next(group for group in found.groups() if group) if found else ""
