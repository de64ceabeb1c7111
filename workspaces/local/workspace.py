"""The local workspace (the embedded default): one folder plays Azure ML's workspace, datastore, compute and
registry, so the whole flow runs on a laptop with no cloud account.

    <folder>/datastore/<target>/   uploaded files under the tutorial's names, and manifest.json of their sha256s
    <folder>/compute/<name>.json   a compute target; its slot locks bound the runs executing at once
    <folder>/runs/<run-id>/        snapshot of the source folder, outputs/ (the model), run.log (the full log)
    <folder>/mlflow.db, mlartifacts/   MLflow run history and model registry (tracking.py, registry.py)
    <folder>/results/              Prefect's persisted task results: the cache (plumbing/caching.py)
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import importlib
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from training.utils import PARSED_DIR_VARIABLE
from workspaces.base import (
    JOB_KEY_TAG,
    MODEL_FILE,
    PAST_RUNS,
    DataRef,
    KnownRun,
    PastRun,
    RunHandle,
    RunResult,
    finished_run,
)
from workspaces.errors import ConfigError, RunCancelled, TransientError, with_log_tail
from workspaces.files import SOURCE_IGNORE, copy_atomically, make_dirs, sha256_file, sha256_tree, write_bytes_atomically
from workspaces.local import runs as local_runs
from workspaces.local.compute import KIND, LocalCompute
from workspaces.local.explain import explained
from workspaces.local.outcome import run_outcome
from workspaces.local.processes import THREAD_VARIABLES
from workspaces.local.rebuild import THREADS_TAG
from workspaces.local.registry import LocalRegistry
from workspaces.local.runs import TAIL_LINES
from workspaces.local.tracking import LocalTracking
from workspaces.locks import exclusive, release
from workspaces.owners import OWNER_TAG, is_alive, process_identity
from workspaces.paths import inside
from workspaces.stop_report import StopReport

if TYPE_CHECKING:  # names used in annotations only
    from collections.abc import Sequence

    from workspaces.base import ComputeSpec, ComputeTarget, LogSink, ModelVersion, RunState, TrainingJob, WorkspaceRef


log = logging.getLogger(__name__)


class LocalWorkspace(LocalRegistry):
    compute_kind = KIND  # its targets' kind: local, their runs share this machine's cores

    def __init__(self, directory: str | Path, tracking_uri: str | None = None):
        self.root = Path(directory).resolve()
        self.tracking_uri = tracking_uri  # an MLflow tracking server; None: the workspace's SQLite file
        self.name = f"local workspace {self.root}"
        self._stopped_runs: dict[str, None] = {}  # stopped since the flow started (asked again: the same report)
        make_dirs(self.path("datastore"), self.path("runs"), self.path("results"))
        # a write probe: an unwritable or full workspace fails here, clearly, before anything is done
        write_bytes_atomically(self.path("locks", "writable"), b"\0" * 65536)
        self.compute = LocalCompute(self.path("compute"), self.path("locks", "compute.lock"))
        self._remove_earlier_parsed_copies()
        self._tracking: concurrent.futures.Future[LocalTracking] = concurrent.futures.Future()
        if tracking_uri is not None:  # a team's server that refuses this worker says so before anything is done
            self._tracking.set_result(self._open_tracking())
        else:  # MLflow takes seconds to load and, in a new workspace, to create its tables: let that happen
            # while the flow downloads and looks at the data; the first step that needs the run history waits
            opener = concurrent.futures.ThreadPoolExecutor(1, "mlflow-store")
            self._tracking = opener.submit(contextvars.copy_context().run, self._open_tracking)
            opener.shutdown(wait=False)  # its one thread ends when the store is open

    @classmethod
    def connect(cls, ref: WorkspaceRef) -> LocalWorkspace:
        return cls(ref.directory, ref.tracking_uri)

    @classmethod
    def preload(cls, ref: WorkspaceRef) -> None:
        """MLflow's SQLite stores, which opening the workspace imports (on the store's thread) unless a server
        keeps its runs (workspaces.preload says why a command imports them first)."""
        if ref.tracking_uri is None:
            importlib.import_module("mlflow.store.tracking.sqlalchemy_store")
            importlib.import_module("mlflow.store.model_registry.sqlalchemy_store")

    def start_flow(self) -> None:
        local_runs.stopping.clear()  # an earlier flow of this process may have been cancelled
        self._stopped_runs = {}

    def _open_tracking(self) -> LocalTracking:
        tracking = LocalTracking(self.root, self.tracking_uri)
        for run_id in tracking.mark_orphans_killed():
            log.warning("run %s was left running by a flow that no longer exists; marked KILLED", run_id)
        return tracking

    def _remove_earlier_parsed_copies(self) -> None:
        """An earlier version kept the parsed arrays beside the datastore's files too (210 MB on MNIST); the runs now
        read the one copy beside the downloads. Only real folders of the workspace: never through a symlink."""
        for target in self.path("datastore").iterdir():
            earlier = target / ".parsed"
            if not target.is_symlink() and not earlier.is_symlink() and earlier.is_dir():
                shutil.rmtree(earlier, ignore_errors=True)

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

    def has_compute(self, name: str) -> bool:
        """Whether provisioning `name` would attach an existing target (read only: for --plan)."""
        return self.path("compute", f"{name}.json").is_file()

    # runs -----------------------------------------------------------------------------------------------------
    @explained
    def submit(self, job: TrainingJob, compute: ComputeTarget) -> RunHandle:
        """Wait for a free node of `compute`, snapshot the source folder, start the entry script as a process."""
        slot = self.compute.acquire_node(compute, cancelled=local_runs.stopping.is_set)
        if slot is None:
            raise RunCancelled(f"run {job.run_name!r} was not started: the flow is being cancelled", job.run_name)
        run_id = None
        try:
            tags = {
                JOB_KEY_TAG: job.key,
                "regularization": repr(job.regularization),
                "data_sha256": job.data.content_hash,
                "source_sha256": job.source_hash,
                "compute": compute.name,
                THREADS_TAG: str(compute.threads_here()),  # lbfgs's bits depend on it: --reproduce uses it
            }
            run_id, experiment_id = self.tracking.start_run(job.experiment, job.run_name, tags)
            run_dir = self.path("runs", run_id)
            snapshot(Path(job.source_dir), run_dir, job.source_hash)
            handle = RunHandle(run_id=run_id, name=job.run_name, job=job, url=self._run_url(experiment_id, run_id))
            env = {"MLFLOW_TRACKING_URI": self.tracking.uri, "MLFLOW_RUN_ID": run_id}
            # one copy of the parsed arrays in the workspace: the one the flow's own steps keep beside the downloads
            env[PARSED_DIR_VARIABLE] = str(self.path("downloads", ".parsed"))
            env.update(dict.fromkeys(THREAD_VARIABLES, str(compute.threads_here())))
            local_runs.launch(handle, run_dir, job.data.mount, slot, env)
        except BaseException:
            release(slot)
            if run_id is not None and local_runs.live_run(run_id) is None:  # created, never started: it failed
                with contextlib.suppress(Exception):
                    self.tracking.end_run(run_id, "FAILED", None, None)
            raise
        return handle

    @explained
    def find_runs(self, job: TrainingJob) -> list[KnownRun]:
        """The runs of this job in MLflow. A RUNNING one whose flow is dead is marked KILLED first (its process
        died with its flow: PR_SET_PDEATHSIG); a FINISHED one counts only with its accuracy and model file."""
        self.tracking.mark_orphans_killed()
        found = []
        for run in self.tracking.runs_of_job(job.experiment, job.key):
            run_id, status, owner = run.info.run_id, run.info.status, run.data.tags.get(OWNER_TAG, "")
            alive = is_alive(owner)
            state: RunState
            if status == "FINISHED" and "accuracy" in run.data.metrics and self._has_model(run_id):
                state = "finished"
            elif status == "RUNNING" and (local_runs.live_run(run_id) or (alive and owner != process_identity())):
                state = "under_way"  # this process's, or another living flow's: followed through its log
            else:
                state = "failed"
            url = self._run_url(run.info.experiment_id, run_id)
            name = run.data.tags.get("mlflow.runName", job.run_name)
            found.append(KnownRun(run_id=run_id, name=name, state=state, status=status, owner_alive=alive, url=url))
        return found

    def past_runs(self, experiment: str, limit: int = PAST_RUNS) -> list[PastRun]:
        return [
            PastRun.from_tags(run.info.run_id, run.data.tags, (run.info.end_time - run.info.start_time) / 1000)
            for run in self.tracking.finished_training_runs(experiment, limit)
        ]

    def _has_model(self, run_id: str) -> bool:
        """The run's model is kept with the run in MLflow, or still in its folder if its flow died before that."""
        return self.tracking.has_artifact(run_id, MODEL_FILE) or self.path("runs", run_id, MODEL_FILE).is_file()

    @explained
    def adopt(self, job: TrainingJob, run: KnownRun) -> RunResult:
        """A finished run's result; its files are kept with it in MLflow if its flow died before doing so."""
        if not self.tracking.has_artifact(run.run_id, MODEL_FILE):
            folder = self.path("runs", run.run_id)
            self.tracking.end_run(run.run_id, "FINISHED", folder / "outputs", folder / "run.log")
        handle = RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)
        return finished_run(handle, "Completed", self.tracking.metrics(run.run_id))

    def attach(self, job: TrainingJob, run: KnownRun) -> RunHandle:
        return RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)

    def _follow_another_flows_run(self, run: RunHandle, sink: LogSink) -> RunResult:
        """A run a living flow of another process started: its log followed until MLflow says it ended, or its
        flow dies (and the run with it); then adopted, or retried (the next attempt submits a new run)."""
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

        def line(text: str) -> None:
            tail.append(text)
            sink(text)

        def ended() -> bool:
            known = {k.run_id: k for k in self.find_runs(run.job)}.get(run.run_id)
            return known is None or known.state != "under_way"

        local_runs.follow_log(self.path("runs", run.run_id, "run.log"), line, ended)
        known = {k.run_id: k for k in self.find_runs(run.job)}.get(run.run_id)
        if known is not None and known.state == "finished":
            return self.adopt(run.job, known)
        status = known.status if known is not None else "gone"
        message = f"run {run.name!r} of another flow ended {status}; retrying, which trains it here"
        raise TransientError(with_log_tail(message, tuple(tail)[-5:]))

    @explained
    def stream_logs(self, run: RunHandle, sink: LogSink) -> RunResult:
        """Follow the run's log into `sink` until it ends; then classify how it ended (outcome.py)."""
        live = local_runs.live_run(run.run_id)
        if live is None:
            return self._follow_another_flows_run(run, sink)
        returncode = local_runs.follow(live, sink)
        if live.peak_memory_mb is not None and live.cpu_seconds is not None:  # its process's, from wait4
            self.tracking.log_metric(run.run_id, "peak_memory_mb", round(live.peak_memory_mb, 1))
            self.tracking.log_metric(run.run_id, "process_cpu_seconds", round(live.cpu_seconds, 2))
        run_dir = self.path("runs", run.run_id)
        outcome = run_outcome(run, returncode, live.stopped, tuple(live.tail), self.tracking.metrics(run.run_id))
        self.tracking.end_run(run.run_id, outcome.mlflow_status, run_dir / "outputs", live.log_file)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None  # an outcome has one or the other
        return outcome.result

    def cancel(self, run: RunHandle) -> None:
        local_runs.stop(run.run_id)

    def stop_all_runs(self) -> StopReport:
        self._stopped_runs |= dict.fromkeys(
            local_runs.stop_all()
        )  # every local run of this process: they share its life
        return StopReport(stopped=tuple(self._stopped_runs))

    def _run_url(self, experiment_id: str, run_id: str) -> str:
        ui = self.tracking_uri or "http://127.0.0.1:5000"  # the server's own UI, else `mlflow ui`'s default port
        return f"{ui}/#/experiments/{experiment_id}/runs/{run_id}"

    # cache validity -------------------------------------------------------------------------------------------
    def holds(self, value: DataRef | RunResult | ModelVersion) -> bool:
        if isinstance(value, DataRef):
            held = Manifest(self.path("datastore", value.path, "manifest.json")).read()
            return all(
                held.get(n) == h and self.path("datastore", value.path, n).is_file() for n, h in value.files.items()
            )
        if isinstance(value, RunResult):
            return self.tracking.finished_with(value.run_id, MODEL_FILE)
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
