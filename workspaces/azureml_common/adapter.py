"""What both Azure ML adapters do alike, written once: connecting through their seam, and with their runs: the
tags a run is created with, attaching to a run under way, following one to its end (and cancelling it if the
flow stops watching: it is billed), cancelling every run of a flow that stops, and what a found run's status
means. Each adapter says how it opens its seam (`_open_seam`), cancels a run (`_cancel_remotely`), reads a
finished run's metrics (`_metrics`), knows its model is kept (`_has_model`) and fetches a registered one
(`fetch_model`)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import joblib

from workspaces.azureml_common.errors import translate
from workspaces.azureml_common.polling import StatusBoard
from workspaces.azureml_common.runs import azure_outcome, follow, seconds_between
from workspaces.azureml_common.statuses import run_state
from workspaces.base import JOB_KEY_TAG, PAST_RUNS, KnownRun, ModelVersion, PastRun, RunHandle, RunResult
from workspaces.errors import FlowError, RunCancelled, WorkspaceError
from workspaces.owners import OWNER_TAG, is_alive, process_identity

if TYPE_CHECKING:
    from workspaces.base import ComputeSpec, LogSink, TrainingJob, WorkspaceRef

log = logging.getLogger(__name__)
CANCEL_CHECKS = 5  # looks at a cancelled run's status before warning that its cancellation was not taken
CANCELLED_OR_ENDED = {"CancelRequested", "Canceled", "Completed", "Failed"}
METRICS_READS = 3  # reads of a Completed run's metrics before it is taken for one that never logged its accuracy


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
        self._urls: dict[str, str | None] = {}  # run id -> its studio link, for a warning that needs one
        self._stopped: set[str] = set()
        self._found_cancelling: set[str] = set()  # runs attached to while CancelRequested (an earlier flow's stop)
        self._stopping = False
        # the statuses of every run this adapter follows, in one query an interval (polling.py)
        self._board = StatusBoard(self._run_statuses, lambda: self.poll_seconds)

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
    def _reusing(spec: ComputeSpec, kind: str, vm_size: str, state: str | None = None, errors: Any = None) -> None:
        """Reuse a found compute target, if it is a cluster that was provisioned: its VM size stays (Azure cannot
        change it). A cluster whose provisioning failed takes no run: nothing is submitted to it."""
        if kind.lower() != "amlcompute":
            raise WorkspaceError(
                f"compute target {spec.name!r} exists but is a {kind}, not an AmlCompute "
                "cluster; choose another --compute-name (AML_COMPUTE_CLUSTER_NAME)"
            )
        AzureAdapter._provisioned(spec, state, errors)
        log.info("found compute target %r, just use it (%s)", spec.name, vm_size)
        if vm_size.lower() != spec.vm_size.lower():
            message = "compute %r keeps its VM size %s (%s requested); delete it to change it"
            log.warning(message, spec.name, vm_size, spec.vm_size)

    @staticmethod
    def _provisioned(spec: ComputeSpec, state: str | None, errors: Any) -> None:
        """A cluster whose provisioning failed takes no run: one line saying so, nothing submitted."""
        if str(getattr(state, "value", state)).lower() == "failed":  # (SDK v2 hands an enum member: its value)
            said = f" ({' '.join(str(errors).split())[:300]})" if errors else ""
            raise WorkspaceError(
                f"compute target {spec.name!r}: its provisioning failed{said}; nothing was submitted to it: delete it "
                "in the studio and run again, or choose another --compute-name"
            )

    # what each adapter supplies
    def _cancel_remotely(self, run_id: str) -> None:
        raise NotImplementedError

    def _metrics(self, run_id: str) -> dict[str, float]:
        raise NotImplementedError

    def _run_status(self, run_id: str) -> str:
        raise NotImplementedError

    def _run_statuses(self, experiment: str, run_ids: list[str]) -> dict[str, str]:
        """The statuses of an experiment's runs `run_ids`, in one request (a page of them)."""
        raise NotImplementedError

    def _logged(self, run_id: str, read: Callable[[], dict] | None = None) -> dict[str, float]:
        """A Completed run's metrics, read again (METRICS_READS times, a pause between) while its accuracy is not
        among them: SDK v1 answers no metrics at all when listing their names failed (its metrics client swallows
        the error), and a run taken for one that never logged its accuracy fails for good, or is trained again."""
        read = read or (lambda: self._metrics(run_id))
        metrics: dict[str, float] = {}
        for attempt in range(METRICS_READS):
            metrics = read()
            if "accuracy" in metrics:
                break
            time.sleep(self.poll_seconds * (attempt + 1))
        return metrics

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
        if state == "finished" and not ("accuracy" in self._logged(run_id) and self._has_model(run_id)):
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
        """Follow a run under way (CancelRequested too: it still runs and bills until Azure ML stops it; if it ends
        Canceled, the task's retry trains the job anew)."""
        if run.status == "CancelRequested":
            self._found_cancelling.add(run.run_id)
        self._live[run.run_id] = run.name
        self._urls[run.run_id] = run.url
        return RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)

    def adopt(self, job: TrainingJob, run: KnownRun) -> RunResult:
        handle = RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)
        return azure_outcome(handle, {"status": "Completed"}, (), self._logged(run.run_id), stopped=False)

    def _follow_to_the_end(self, history: Any, run: RunHandle, sink: LogSink, metrics: Callable[[], dict]) -> RunResult:
        """Follow the run to its end. Losing contact, or a run stuck too long, gives up the following and leaves
        the run alone (a FlowError: a retry or the next flow re-attaches); only an interruption of the flow itself
        (a cancelled task, Ctrl-C) cancels it, since nothing would be left to watch a billed run."""
        self._urls[run.run_id] = run.url
        try:
            details, tail = follow(history, self._board, run, sink, self.poll_seconds)
        except FlowError:
            raise
        except BaseException:
            self.cancel(run)
            raise
        finally:
            self._live.pop(run.run_id, None)
        logged = self._logged(run.run_id, metrics) if details.get("status") == "Completed" else {}
        stopped, found_cancelling = run.run_id in self._stopped, run.run_id in self._found_cancelling
        return azure_outcome(run, details, tail, logged, stopped, found_cancelling)

    def cancel(self, run: RunHandle) -> None:
        self._urls[run.run_id] = run.url
        self._cancel(run.run_id)

    def _cancel(self, run_id: str) -> None:
        """Ask for the run's cancellation, then see it taken (CancelRequested, Canceled, or an end): the service's
        answer to a cancel says nothing reliable (SDK v1 does not even look at it), so a run still going after
        CANCEL_CHECKS polls gets a WARNING with its studio link: it may still bill."""
        self._stopped.add(run_id)
        where = f": {self._urls[run_id]}" if self._urls.get(run_id) else ""
        try:
            self._cancel_remotely(run_id)
        except Exception as exc:
            log.warning(
                "could not cancel run %s (%s); cancel it in the studio%s", run_id, translate(exc, "cancelling"), where
            )
            return
        for check in range(CANCEL_CHECKS):
            with contextlib.suppress(Exception):  # (a failed look is one look less)
                if self._run_status(run_id) in CANCELLED_OR_ENDED:
                    return
            time.sleep(self.poll_seconds * (check + 1))
        log.warning(
            "run %s was asked to cancel, but has not; it may still run and bill: cancel it in the studio%s",
            run_id,
            where,
        )

    def stop_all_runs(self) -> int:
        self._stopping = True
        for run_id in list(self._live):
            self._cancel(run_id)
        return len(self._live)

    def load_model(self, version: ModelVersion, folder: Path) -> Any:
        """The registered pickle, fetched (its sha256 checked) and unpickled: Azure ML registers the tutorial's
        file, which the run's environment pinned to this machine's scikit-learn so it loads here."""
        return joblib.load(self.fetch_model(version, folder))
