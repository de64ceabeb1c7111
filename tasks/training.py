"""submit_training: the tutorial's Estimator runs, one per regularization rate, on the compute target.

Each job is trained at most once (steps/training.py: a finished run of it is adopted, one under way attached);
a new run is submitted, its log followed line by line into the Prefect run log under the run's name while it
goes, and its metrics returned. A run killed from outside (a pre-empted node) is retried; a run whose script
fails is not, and the flow ends with its last log lines. A finished run is cached by data, training code,
regularization and compute, so adding one rate runs exactly one new run.
"""

from typing import cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, PrefectWrappedFuture, as_completed
from prefect.runtime import flow_run

import workspaces
from plumbing.caching import still_held, workspace_task
from plumbing.pipeline import CACHED, RUNS, UNKNOWN, Planned, Row, Step, Values
from plumbing.retries import retrying
from steps import events
from steps.code import TrainingCode
from steps.plan import TRAINS, never_twice, node_time, what_changed
from steps.training import run_name, start_or_reuse
from tasks.notify import emit
from workspaces.base import ComputeTarget, RunResult, TrainingJob, WorkspaceRef
from workspaces.errors import RunCancelled, RunFailed
from workspaces.owners import creating_runs_for


def wait_for_runs(runs: list[PrefectFuture]) -> list[RunResult]:
    """Every run's result once all have ended, with a progress artifact that counts them: a failed run does
    not cut the others short (their results are cached for the re-run). Interrupted while waiting (Ctrl-C,
    a worker's SIGTERM on cancellation), stop the runs first: Prefect waits for the tasks' threads before it
    ends the flow, and those wait for the runs. Nothing else stops them: a progress update Prefect's API
    refuses is a line in the log, not a reason to cancel healthy runs."""
    description = f"{len(runs)} training runs"
    progress = cast(UUID, create_progress_artifact(0.0, key="training-progress", description=description))  # sync
    try:
        for finished, _ in enumerate(as_completed(runs), start=1):
            if ended(runs) <= finished:  # none other ended meanwhile: runs that end together get one update
                show_progress(progress, 100.0 * finished / len(runs))
    except BaseException as stopped:
        if not isinstance(stopped, Exception):  # Ctrl-C, a termination: the flow is being stopped, not failing
            get_run_logger().warning("the flow is being stopped: %s", workspaces.stop_all_runs().line())
        raise
    return [run.result() for run in runs]


def ended(runs: list[PrefectFuture]) -> int:
    """How many of the runs' tasks are known to have ended, asking no one (a cached run's sixteen end at once:
    sixteen updates of the progress artifact were a fifth of a second of every warm flow, docs/benchmarks.md)."""
    return sum(run.wrapped_future.done() for run in runs if isinstance(run, PrefectWrappedFuture))


def show_progress(artifact: UUID, percent: float) -> None:
    try:
        update_progress_artifact(artifact, percent)
    except Exception as exc:
        get_run_logger().warning("could not update the training progress artifact (%s); the runs go on", exc)


# the target's scale settings are left out of the key (the job names the target): more nodes, same models
@workspace_task(
    still_true=still_held(), exclude=("compute", "retrain"), task_run_name="train {job.run_name}", **retrying(retries=2)
)
def submit_training(
    ws: WorkspaceRef, compute: ComputeTarget, job: TrainingJob, code: TrainingCode, retrain: bool = False
) -> RunResult:
    logger = get_run_logger()
    workspace = workspaces.open_workspace(ws)
    reused = lambda known, how: emit(events.run_reused(job, known, how))  # noqa: E731
    with creating_runs_for(str(flow_run.get_id() or "")):  # (their tag: a stop from anywhere finds them)
        run = start_or_reuse(workspace, job, compute, logger.info, retrain, reused)  # a job is trained once
    if isinstance(run, RunResult):
        return run
    logger.info("run %s (regularization %g) on %r: %s", run.name, job.regularization, compute.name, run.url)
    try:
        result = workspace.stream_logs(run, lambda line: logger.info("[%s] %s", run.name, line))
    except RunFailed as error:  # of its own: not retried (a cancelled flow's runs are told by the flow's state)
        if not isinstance(error, RunCancelled):
            emit(events.training_failed(job, str(error)))
        raise
    logger.info("run %s finished: accuracy %.4f", run.name, result.accuracy)
    return result


def plan_training(step: Step, values: Values) -> Planned:
    """Each rate's run: cached, or what it would do without a record (train, adopt a finished run, re-attach to
    one under way) and why; the node time the runs that train would take, from the experiment's history."""
    ws, params = values["ws"], values.params
    workspace = workspaces.open_workspace(ws) if workspaces.readable(ws) else None
    history = workspace.past_runs(params.experiment_name) if workspace is not None else []
    if values["jobs"] is UNKNOWN:  # their data come from the upload, which runs: each trains, at most
        why = "its data come from the upload, which runs"
        rows = [Row(f"train {run_name(rate)}", RUNS, why) for rate in params.regularization]
        return Planned(rows, notes=[node_time(len(rows), history, params.experiment_name)])
    rows, results, trains = [], [], 0
    for job in values["jobs"]:
        arguments = values.arguments(step, job=job)
        found = submit_training.plan(*arguments, flow_parameters=values.flow_parameters)
        why = found.why
        if not found.cached:
            does = never_twice(workspace, job, params.refresh_cache)
            trains += does == TRAINS
            why = f"{found.why} for key {job.key[:12]}...; {what_changed(job, history)}: {does}"
        rows.append(Row(step.named(arguments), CACHED if found.cached else RUNS, why))
        results.append(found.value if found.cached else UNKNOWN)
    value = UNKNOWN if any(result is UNKNOWN for result in results) else results
    return Planned(rows, value, [node_time(trains, history, params.experiment_name)])
