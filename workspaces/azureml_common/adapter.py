"""What both Azure ML adapters do alike, written once: connecting through their seam, and with their runs: the
tags a run is created with, attaching to a run under way, following one to its end (and cancelling it if the
flow stops watching: it is billed), cancelling every run of a flow that stops, and what a found run's status
means. Each adapter says how it opens its seam (`_open_seam`), cancels a run (`_cancel_remotely`), reads a
finished run's metrics (`_metrics`), knows its model is kept (`_has_model`) and fetches a registered one
(`fetch_model`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import joblib

from workspaces.azureml_common.errors import translate
from workspaces.azureml_common.polling import StatusBoard
from workspaces.azureml_common.runs import azure_outcome, follow, seconds_between
from workspaces.azureml_common.statuses import run_state, under_way
from workspaces.azureml_common.stopping import Cancellations, cancel_all
from workspaces.base import JOB_KEY_TAG, PAST_RUNS, KnownRun, ModelVersion, PastRun, RunHandle, RunResult
from workspaces.errors import FlowError, RunCancelled, WorkspaceError
from workspaces.owners import FLOW_RUN_TAG, OWNER_TAG, current_flow_run, is_alive, process_identity
from workspaces.stop_report import StopReport

if TYPE_CHECKING:
    from workspaces.base import ComputeSpec, LogSink, TrainingJob, WorkspaceRef

log = logging.getLogger(__name__)
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
        self._left: dict[str, str] = {}  # run id -> name, of runs whose following gave up: a stop still cancels them
        self._urls: dict[str, str | None] = {}  # run id -> its studio link, for a warning that needs one
        self._experiments: dict[str, str] = {}  # run id -> its experiment (where its status is asked for)
        self._flow_runs: dict[str, str] = {}  # Prefect flow run -> the experiment of the runs it created here
        self._cancellations = Cancellations()
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
    def _run_tags(self, job: TrainingJob) -> dict[str, str]:
        """A run's tags, given in the request that creates it: its job's key, the process that owns it and the
        Prefect flow run it belongs to (found by it when that flow run is stopped, from any process)."""
        flow_run = current_flow_run()
        if flow_run:
            self._flow_runs[flow_run] = job.experiment
        return {
            JOB_KEY_TAG: job.key,
            OWNER_TAG: process_identity(),
            **({FLOW_RUN_TAG: flow_run} if flow_run else {}),
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
        self._cancellations = Cancellations()

    def _refuse_when_stopping(self, job: TrainingJob) -> None:
        if self._stopping:
            raise RunCancelled(f"run {job.run_name!r} was not submitted: the flow is being cancelled", job.run_name)

    def attach(self, job: TrainingJob, run: KnownRun) -> RunHandle:
        """Follow a run under way (CancelRequested too: it still runs and bills until Azure ML stops it; if it ends
        Canceled, the task's retry trains the job anew)."""
        if run.status == "CancelRequested":
            self._found_cancelling.add(run.run_id)
        self._watch(run.run_id, run.name, job.experiment, run.url)
        return RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)

    def _watch(self, run_id: str, name: str, experiment: str, url: str | None = None) -> None:
        """From here on, stopping the flow cancels the run."""
        self._live[run_id], self._experiments[run_id] = name, experiment
        if url:
            self._urls[run_id] = url

    def _submitted(self, run_id: str, url: str | None) -> None:
        """A run was created: a flow that began stopping meanwhile cancels it now, rather than leave it billing."""
        self._urls[run_id] = url
        if self._stopping:
            log.warning("run %s was created while the flow was stopping: cancelling it", self._live.get(run_id))
            self._cancel_runs({run_id: self._experiments[run_id]})

    def adopt(self, job: TrainingJob, run: KnownRun) -> RunResult:
        handle = RunHandle(run_id=run.run_id, name=run.name, job=job, url=run.url)
        return azure_outcome(handle, {"status": "Completed"}, (), self._logged(run.run_id), stopped=False)

    def _follow_to_the_end(self, history: Any, run: RunHandle, sink: LogSink, metrics: Callable[[], dict]) -> RunResult:
        """Follow the run to its end. Losing contact, a run stuck too long, or any error while following gives up
        the following and leaves the run alone (it is remembered: a later stop of the flow still cancels it, and
        the next flow re-attaches); only an interruption of the flow itself (Ctrl-C, a cancelled task, a
        termination) cancels it, since nothing would be left to watch a billed run."""
        self._urls[run.run_id] = run.url
        try:
            details, tail = follow(history, self._board, run, sink, self.poll_seconds)
        except FlowError:
            self._left[run.run_id] = run.name
            raise
        except Exception as exc:  # a defect while following is not a stop: the run goes on
            self._left[run.run_id] = run.name
            where = f": {run.url}" if run.url else ""
            raise WorkspaceError(
                f"following run {run.name!r} failed ({type(exc).__name__}: {exc}); the run was not cancelled and may "
                f"still be running on Azure ML{where}; the next flow run re-attaches to it"
            ) from exc
        except BaseException:
            self.cancel(run)
            raise
        finally:
            self._live.pop(run.run_id, None)
        self._left.pop(run.run_id, None)
        logged = self._logged(run.run_id, metrics) if details.get("status") == "Completed" else {}
        stopped, found_cancelling = run.run_id in self._cancellations.sent, run.run_id in self._found_cancelling
        return azure_outcome(run, details, tail, logged, stopped, found_cancelling)

    def cancel(self, run: RunHandle) -> None:
        self._urls[run.run_id] = run.url
        self._cancel_runs({run.run_id: self._experiments.get(run.run_id, run.job.experiment)})

    def _cancel_runs(self, runs: dict[str, str]) -> StopReport:
        """Cancel `runs` (run id -> experiment) all at once and see it taken (stopping.py)."""
        names = self._cancellations.names
        names.update({r: names.get(r) or self._live.get(r) or self._left.get(r) or r for r in runs})
        self._cancellations.links.update({r: url for r, url in self._urls.items() if r in runs and url})
        return cancel_all(runs, self._cancellations, self._cancel_remotely, self._confirming_statuses)

    def _confirming_statuses(self, experiment: str, run_ids: list[str]) -> dict[str, str]:
        """The runs' statuses in one query, each run's own where the query does not answer for it."""
        try:
            listed = self._run_statuses(experiment, run_ids)
        except Exception:
            listed = {}
        return {**{r: self._run_status(r) for r in run_ids if r not in listed}, **listed}

    def stop_all_runs(self) -> StopReport:
        """The flow is stopped: no new run starts in this process until the next flow, and every run of it is
        cancelled: those followed or left, and those the run history holds under its flow runs' tag."""
        self._stopping = True
        runs = {run_id: self._experiments.get(run_id, "") for run_id in [*self._live, *self._left]}
        for flow_run, experiment in list(self._flow_runs.items()):
            runs |= self._tagged_runs(flow_run, experiment)
        return self._cancel_runs(runs)

    def stop_runs_of(self, flow_run: str, experiment: str) -> StopReport:
        """Cancel the runs of Prefect flow run `flow_run`, from any process (the runner's cancellation hook): the
        ones under way that the run history holds under its tag."""
        self._stopping = True
        return self._cancel_runs(self._tagged_runs(flow_run, experiment))

    def _tagged_runs(self, flow_run: str, experiment: str) -> dict[str, str]:
        """The runs under way that carry `flow_run`'s tag (run id -> experiment); none if they cannot be listed."""
        try:
            found = self._runs_of_flow_run(flow_run, experiment)
        except Exception as exc:
            log.warning("could not list flow run %s's runs on Azure ML: %s", flow_run, translate(exc, "listing them"))
            return {}
        runs = {}
        for run in found:
            if under_way(run["status"]):
                runs[run["id"]] = experiment
                self._cancellations.names.setdefault(run["id"], run.get("name") or run["id"])
                self._urls.setdefault(run["id"], run.get("url"))
        return runs

    def _runs_of_flow_run(self, flow_run: str, experiment: str) -> list[dict]:
        """The runs carrying FLOW_RUN_TAG = `flow_run`: id, status, name, url each."""
        raise NotImplementedError

    def load_model(self, version: ModelVersion, folder: Path) -> Any:
        """The registered pickle, fetched (its sha256 checked) and unpickled: Azure ML registers the tutorial's
        file, which the run's environment pinned to this machine's scikit-learn so it loads here."""
        return joblib.load(self.fetch_model(version, folder))
