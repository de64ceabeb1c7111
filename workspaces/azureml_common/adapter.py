"""What both Azure ML adapters do alike, written once: connecting through their seam, and with their runs: the
tags a run is created with, attaching to a run under way, following one to its end (and cancelling it if the
flow stops watching: it is billed), cancelling every run of a flow that stops, and what a found run's status
means. Each adapter says how it opens its seam (`_open_seam`), cancels a run (`_cancel_remotely`), reads a
finished run's metrics (`_metrics`), knows its model is kept (`_has_model`) and fetches a registered one
(`fetch_model`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import joblib

from workspaces.azureml_common.errors import translate
from workspaces.azureml_common.runs import azure_outcome, follow, run_state, seconds_between
from workspaces.base import JOB_KEY_TAG, PAST_RUNS, KnownRun, ModelVersion, PastRun, RunHandle, RunResult
from workspaces.errors import RunCancelled, WorkspaceError
from workspaces.owners import OWNER_TAG, is_alive, process_identity

if TYPE_CHECKING:
    from workspaces.base import ComputeSpec, LogSink, TrainingJob, WorkspaceRef

log = logging.getLogger(__name__)


class AzureAdapter:
    poll_seconds: float
    compute_kind = "AmlCompute"  # its targets' kind: Azure ML's compute type for a cluster

    if TYPE_CHECKING:  # each adapter is made from its reference and its seam

        def __init__(self, ref: WorkspaceRef, seam: Any) -> None: ...

        def fetch_model(self, version: ModelVersion, dest: Path) -> Path: ...

    @staticmethod
    def _open_seam(ref: WorkspaceRef) -> Any:
        """What reaches the service (tests replace it behind this): the adapter's module-level `make_...`."""
        raise NotImplementedError

    @classmethod
    def connect(cls, ref: WorkspaceRef) -> Self:
        try:
            seam = cls._open_seam(ref)
        except Exception as exc:
            raise translate(exc, f"connecting to the workspace ({ref.config_path})") from exc
        log.info("connected to Azure ML workspace %r with %s", seam.workspace_name, seam.description)
        return cls(ref, seam)

    def _init_runs(self) -> None:
        self._live: dict[str, str] = {}  # run id -> name, of runs this process follows and has not seen end
        self._stopped: set[str] = set()
        self._stopping = False

    def _call(self, doing: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """`function`'s answer, or the SDK's error translated into a retried or a final one."""
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            raise translate(exc, doing) from exc

    # compute: the messages of the tutorial's "create or reuse" cell
    @staticmethod
    def _creating(spec: ComputeSpec) -> None:
        log.info(
            "creating a new compute target %r (%s, %d to %d nodes)",
            spec.name,
            spec.vm_size,
            spec.min_nodes,
            spec.max_nodes,
        )

    @staticmethod
    def _reusing(spec: ComputeSpec, kind: str, vm_size: str) -> None:
        """Reuse a found compute target, if it is a cluster: its VM size stays (Azure cannot change it)."""
        if kind.lower() != "amlcompute":
            raise WorkspaceError(
                f"compute target {spec.name!r} exists but is a {kind}, not an AmlCompute "
                "cluster; choose another --compute-name (AML_COMPUTE_CLUSTER_NAME)"
            )
        log.info("found compute target %r, just use it (%s)", spec.name, vm_size)
        if vm_size.lower() != spec.vm_size.lower():
            message = "compute %r keeps its VM size %s (%s requested); delete it to change it"
            log.warning(message, spec.name, vm_size, spec.vm_size)

    # what each adapter supplies
    def _cancel_remotely(self, run_id: str) -> None:
        raise NotImplementedError

    def _metrics(self, run_id: str) -> dict[str, float]:
        raise NotImplementedError

    def _has_model(self, run_id: str) -> bool:
        raise NotImplementedError

    def _completed_runs(self, experiment: str, limit: int) -> list[dict]:
        """The run history's Completed runs carrying a job key, newest first: id, tags, startTimeUtc, endTimeUtc."""
        raise NotImplementedError

    def past_runs(self, experiment: str, limit: int = PAST_RUNS) -> list[PastRun]:
        return [
            PastRun.from_tags(run["id"], run["tags"], seconds_between(run.get("startTimeUtc"), run.get("endTimeUtc")))
            for run in self._completed_runs(experiment, limit)
        ]

    # the same for both
    @staticmethod
    def _run_tags(job: TrainingJob) -> dict[str, str]:
        """A run's tags, given in the request that creates it: its job's key and the flow that owns it first."""
        return {
            JOB_KEY_TAG: job.key,
            OWNER_TAG: process_identity(),
            "run_name": job.run_name,
            "regularization": repr(job.regularization),
            "data_sha256": job.data.content_hash,
            "source_sha256": job.source_hash,
        }

    def _known(self, job: TrainingJob, run_id: str, status: str, tags: Mapping[str, str], url: str | None) -> KnownRun:
        """A found run as the rule of steps/training.py sees it: Completed counts as finished only with its
        accuracy and its model kept."""
        state = run_state(status)
        if state == "finished" and not ("accuracy" in self._metrics(run_id) and self._has_model(run_id)):
            state = "failed"
        owner = is_alive(tags.get(OWNER_TAG, ""))
        return KnownRun(
            run_id=run_id,
            name=tags.get("run_name", job.run_name),
            state=state,
            status=status,
            owner_alive=owner,
            url=url,
        )

    def start_flow(self) -> None:
        self._stopping = False  # an earlier flow of this process may have been cancelled

    def _refuse_when_stopping(self, job: TrainingJob) -> None:
        if self._stopping:
            raise RunCancelled(f"run {job.run_name!r} was not submitted: the flow is being cancelled", job.run_name)

    def attach(self, job: TrainingJob, run: KnownRun) -> RunHandle:
        self._live[run.run_id] = run.name
        return RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)

    def adopt(self, job: TrainingJob, run: KnownRun) -> RunResult:
        handle = RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)
        return azure_outcome(handle, {"status": "Completed"}, (), self._metrics(run.run_id), stopped=False)

    def _follow_to_the_end(self, history: Any, run: RunHandle, sink: LogSink, metrics: Callable[[], dict]) -> RunResult:
        try:
            details, tail = follow(history, run, sink, self.poll_seconds)
        except BaseException:
            self.cancel(run)  # never leave a billed run behind when we stop watching it
            raise
        finally:
            self._live.pop(run.run_id, None)
        return azure_outcome(run, details, tail, metrics(), run.run_id in self._stopped)

    def cancel(self, run: RunHandle) -> None:
        self._cancel(run.run_id)

    def _cancel(self, run_id: str) -> None:
        self._stopped.add(run_id)
        try:
            self._cancel_remotely(run_id)
        except Exception as exc:
            log.warning("could not cancel run %s (%s); cancel it in the studio", run_id, translate(exc, "cancelling"))

    def stop_all_runs(self) -> int:
        self._stopping = True
        for run_id in list(self._live):
            self._cancel(run_id)
        return len(self._live)

    def load_model(self, version: ModelVersion, folder: Path) -> Any:
        """The registered pickle, fetched (its sha256 checked) and unpickled: Azure ML registers the tutorial's
        file, which the run's environment pinned to this machine's scikit-learn so it loads here."""
        return joblib.load(self.fetch_model(version, folder))
