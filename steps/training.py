"""The tutorial's Estimator runs: one training job per regularization rate, and the rule that trains each job
at most once, written here once for every adapter.

A training run is the expensive thing: minutes of a billed node. Prefect's cache is the fast path (a step whose
result it persisted does not run at all); this rule makes the slow path right, after a crash between a run's end
and the persisting of its result, or a submit retried after it had in fact created its run. Every run carries
its job's key (TrainingJob.key) from its creation, and before submitting the workspace's own history is asked:

- a finished run, with its accuracy and its model: adopted, nothing is submitted;
- a run under way (queued, preparing, running, finalizing), its flow gone or not: attached, its log followed,
  as if this flow had submitted it;
- failed, cancelled or killed runs count for nothing (and so do finished ones when the flow is asked to
  --refresh-cache: the user wants the model trained again): a new run is submitted (a local run left RUNNING by a dead
  flow was already marked KILLED when the workspace was opened: its process died with its flow).
"""

from collections.abc import Callable, Sequence

from steps.code import TrainingCode
from workspaces.base import ComputeTarget, DataRef, KnownRun, RunHandle, RunResult, TrainingJob, Workspace


def run_name(rate: float) -> str:
    return f"reg-{rate:g}"


def training_jobs(
    experiment: str, rates: Sequence[float], data: DataRef, code: TrainingCode, compute: ComputeTarget
) -> list[TrainingJob]:
    return [
        TrainingJob(
            experiment=experiment,
            run_name=run_name(rate),
            regularization=rate,
            data=data,
            source_dir=code.folder,
            source_hash=code.sha256,
            compute=compute.name,
        )
        for rate in rates
    ]


def start_or_reuse(
    workspace: Workspace,
    job: TrainingJob,
    compute: ComputeTarget,
    say: Callable[[str], None],
    retrain: bool = False,
    reused: Callable[[KnownRun, str], None] = lambda known, how: None,
) -> RunHandle | RunResult:
    """A finished run's result, or the handle of a run to follow: one under way, else a new one. `retrain`
    (the flow's --refresh-cache) trains anew even where a finished run exists. `reused` hears of a run found
    instead of trained: "adopted" (finished) or "re-attached" (under way)."""
    known = reusable(workspace.find_runs(job), retrain)
    if known is None:
        return workspace.submit(job, compute)
    if known.state == "finished":
        say(f"run {known.run_id} already trained {job.run_name} (key {job.key[:12]}...): reused, nothing submitted")
        reused(known, "adopted")
        return workspace.adopt(job, known)
    owner = {True: "its flow still runs", False: "its flow is gone", None: "its flow is elsewhere"}
    say(f"run {known.run_id} of {job.run_name} is {known.status} ({owner[known.owner_alive]}): re-attached")
    reused(known, "re-attached")
    return workspace.attach(job, known)


def reusable(runs: Sequence[KnownRun], retrain: bool = False) -> KnownRun | None:
    """The run of a job's key that the job reuses, newest first: a finished one (unless `retrain`), else one
    under way; None: the job is trained. `--plan` asks the same question."""
    for known in runs:
        if (known.state == "finished" and not retrain) or known.state == "under_way":
            return known
    return None
