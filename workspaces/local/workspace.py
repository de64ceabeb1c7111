"""The local workspace (the embedded default): one folder plays Azure ML's workspace, datastore, compute and
registry, so the whole flow runs on a laptop with no cloud account.

    <folder>/datastore/<target>/   uploaded files under the tutorial's names, and manifest.json of their sha256s
    <folder>/compute/<name>.json   a compute target; its slot locks bound the runs executing at once
    <folder>/runs/<run-id>/        snapshot of the source folder, outputs/ (the model), run.log (the full log)
    <folder>/mlflow.db, mlartifacts/   MLflow run history and model registry (workspaces/local_mlflow.py)
    <folder>/results/              Prefect's persisted task results: the cache (tasks/caching.py)
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from workspaces.base import MODEL_FILE, MODEL_FILE_NAME, DataRef, ModelVersion, RunHandle, RunResult
from workspaces.errors import ConfigError, DataError, FlowError, RunCancelled, WorkspaceError
from workspaces.files import (
    SOURCE_IGNORE,
    copy_atomically,
    explain_os_error,
    make_dirs,
    sha256_file,
    sha256_tree,
    write_bytes_atomically,
)
from workspaces.local import runs as local_runs
from workspaces.local.compute import LocalCompute
from workspaces.local.outcome import run_outcome
from workspaces.local.tracking import LocalTracking, uri_to_path
from workspaces.locks import exclusive, release
from workspaces.paths import inside

if TYPE_CHECKING:  # names used in annotations only
    from collections.abc import Mapping, Sequence

    from workspaces.base import ComputeSpec, ComputeTarget, LogSink, TrainingJob


log = logging.getLogger(__name__)


def explained(method):
    """The OS's and SQLite's write failures inside a workspace call, as one WorkspaceError that says what to do
    (a full disk shows up as ENOSPC from a copy, or as "database or disk is full" from MLflow's SQLite)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FlowError:
            raise
        except OSError as exc:
            raise explain_os_error(exc, Path(exc.filename or self.root)) from exc
        except Exception as exc:
            if "disk is full" in str(exc) or "disk I/O error" in str(exc):
                raise WorkspaceError(
                    f"no space left on the device writing {self.root / 'mlflow.db'}; free some "
                    "space and run again (the registry's SQLite database is intact)"
                ) from exc
            raise

    return call


class LocalWorkspace:
    def __init__(self, directory: str | Path):
        self.root = Path(directory).resolve()
        self.name = f"local workspace {self.root}"
        make_dirs(self.path("datastore"), self.path("runs"), self.path("results"))
        # a write probe: an unwritable or full workspace fails here, clearly, before anything is done
        write_bytes_atomically(self.path("locks", "writable"), b"\0" * 65536)
        self.compute = LocalCompute(self.path("compute"), self.path("locks", "compute.lock"))
        # MLflow takes seconds to load and, in a new workspace, to create its tables: let that happen while
        # the flow downloads and looks at the data; the first step that needs the run history waits for it
        opener = concurrent.futures.ThreadPoolExecutor(1, "mlflow-store")
        self._tracking = opener.submit(contextvars.copy_context().run, self._open_tracking)
        opener.shutdown(wait=False)  # its one thread ends when the store is open

    def _open_tracking(self) -> LocalTracking:
        tracking = LocalTracking(self.root)
        for run_id in tracking.mark_orphans_killed():
            log.warning("run %s was left running by a flow that no longer exists; marked KILLED", run_id)
        return tracking

    def path(self, *names: str) -> Path:
        """A path of the workspace; WorkspaceError if names, or a symlink in the workspace, lead outside it."""
        return inside(self.root, *names)

    @property
    def tracking(self) -> LocalTracking:
        return self._tracking.result()

    # compute --------------------------------------------------------------------------------------------------
    @explained
    def provision_compute(self, spec: ComputeSpec) -> ComputeTarget:
        return self.compute.create_or_attach(spec)

    @explained
    def delete_compute(self, compute: ComputeTarget) -> None:
        self.compute.delete(compute.name)

    # datastore ------------------------------------------------------------------------------------------------
    @explained
    def upload(self, files: Sequence[Path], target: str) -> DataRef:
        """Copy what the datastore does not already hold with the same content; record each file's sha256."""
        folder = self.path("datastore", target)
        manifest = Manifest(self.path("datastore", target, "manifest.json"))
        with exclusive(self.path("locks", f"datastore-{target}.lock")):
            for stale in folder.glob(".*.part"):  # left by a copy killed half-way: none is under way while we lock
                stale.unlink(missing_ok=True)
            held = manifest.read()
            for path in map(Path, files):
                digest = sha256_file(path)
                if held.get(path.name) == digest and self.path("datastore", target, path.name).is_file():
                    log.info("datastore already holds %s/%s (sha256 %s...); not copied", target, path.name, digest[:12])
                    continue
                copy_atomically(path, self.path("datastore", target, path.name))
                held[path.name] = digest  # recorded only once the file is whole under its name
                manifest.write(held)
                log.info("uploaded %s to datastore %s/%s", path.name, target, path.name)
        files_held = {Path(p).name: held[Path(p).name] for p in files}
        return DataRef(datastore="workspace", path=target, files=files_held, mount=str(self.path("datastore")))

    # runs -----------------------------------------------------------------------------------------------------
    @explained
    def submit(self, job: TrainingJob, compute: ComputeTarget) -> RunHandle:
        """Wait for a free node of `compute`, snapshot the source folder, start the entry script as a process."""
        slot = self.compute.acquire_node(compute, cancelled=local_runs.stopping.is_set)
        if slot is None:
            raise RunCancelled(f"run {job.run_name!r} was not started: the flow is being cancelled", job.run_name)
        try:
            tags = {
                "regularization": repr(job.regularization),
                "data_sha256": job.data.content_hash,
                "source_sha256": job.source_hash,
                "compute": compute.name,
            }
            run_id, experiment_id = self.tracking.start_run(job.experiment, job.run_name, tags)
            run_dir = self.path("runs", run_id)
            snapshot(Path(job.source_dir), run_dir, job.source_hash)
            handle = RunHandle(run_id=run_id, name=job.run_name, job=job, url=self._run_url(experiment_id, run_id))
            env = {"MLFLOW_TRACKING_URI": self.tracking.uri, "MLFLOW_RUN_ID": run_id}
            env.update(dict.fromkeys(local_runs.THREAD_VARIABLES, str(compute.threads_here())))
            local_runs.launch(handle, run_dir, job.data.mount, slot, env)
        except BaseException:
            release(slot)
            raise
        return handle

    @explained
    def stream_logs(self, run: RunHandle, sink: LogSink) -> RunResult:
        """Follow the run's log into `sink` until it ends; then classify how it ended (local_outcome.py)."""
        live = local_runs.live_run(run.run_id)
        if live is None:
            raise RunCancelled(f"run {run.name!r} is not running in this process", run.name)
        returncode = local_runs.follow(live, sink)
        if live.peak_memory_mb is not None:
            self.tracking.log_metric(run.run_id, "peak_memory_mb", round(live.peak_memory_mb, 1))
        run_dir = self.path("runs", run.run_id)
        outcome = run_outcome(run, returncode, live.stopped, tuple(live.tail), self.tracking.metrics(run.run_id))
        self.tracking.end_run(run.run_id, outcome.mlflow_status, run_dir / "outputs", live.log_file)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None  # an outcome has one or the other
        return outcome.result

    def cancel(self, run: RunHandle) -> None:
        local_runs.stop(run.run_id)

    def stop_all_runs(self) -> int:
        return local_runs.stop_all()  # every local run of this process: they share its life

    def _run_url(self, experiment_id: str, run_id: str) -> str:
        return f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}"  # `mlflow ui`'s default port

    # registry -------------------------------------------------------------------------------------------------
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

    # cache validity -------------------------------------------------------------------------------------------
    def holds(self, value: DataRef | RunResult | ModelVersion) -> bool:
        if isinstance(value, DataRef):
            held = Manifest(self.path("datastore", value.path, "manifest.json")).read()
            return all(
                held.get(n) == h and self.path("datastore", value.path, n).is_file() for n, h in value.files.items()
            )
        if isinstance(value, RunResult):
            model = self.tracking.artifact_path(value.run_id, MODEL_FILE)
            return self.tracking.run_exists(value.run_id) and model.is_file()
        return self.tracking.version_exists(value.name, value.version)


class Manifest:
    """The datastore folder's record of which content each file name holds."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def write(self, held: dict[str, str]) -> None:
        write_bytes_atomically(self.path, json.dumps(held, indent=1, sort_keys=True).encode())


def snapshot(source: Path, run_dir: Path, expected_hash: str) -> None:
    """Copy the source folder into the run's folder: the run executes this copy, not the live folder."""
    shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns(*SOURCE_IGNORE), dirs_exist_ok=True)
    if sha256_tree(run_dir) != expected_hash:
        raise ConfigError(f"{source} changed while the flow was starting its runs; run the flow again")


def verified_copy(source: Path, dest: Path, expected_sha256: str) -> Path:
    digest = sha256_file(source)
    if digest != expected_sha256:
        raise DataError(
            f"{source}: sha256 {digest[:12]}... differs from the registered {expected_sha256[:12]}...; "
            "the model file changed after registration: refusing to load it"
        )
    copy_atomically(source, dest)
    return dest
