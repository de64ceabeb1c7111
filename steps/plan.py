"""`--plan`'s reasoning, as plain functions: what provisioning would do, whether a training run would train or
reuse a run the workspace has, what changed since the last run of a rate, the node time the runs would take, and
the plan's markdown. The walk over the flow's steps is plumbing/pipeline.py's; tasks/plan.py publishes the result.
"""

import statistics
from collections.abc import Sequence

from steps.training import reusable
from workspaces.base import ComputeSpec, PastRun, TrainingJob, Workspace, WorkspaceRef

TRAINS = "trains"


def provisions(spec: ComputeSpec, settings: str, attached: bool) -> str:
    """What provisioning would do, with the settings it would ask for (`settings`: how the backend describes them;
    an existing target keeps its VM size, only its scale is updated)."""
    if attached:
        return f"attaches the existing target ({spec.min_nodes} to {spec.max_nodes} nodes)"
    return f"creates it ({settings})"


def never_twice(workspace: Workspace | None, job: TrainingJob, refresh: bool) -> str:
    """What the training step would do without a record: train, or reuse a run the workspace already has (None:
    a workspace that does not exist yet has none)."""
    known = reusable(workspace.find_runs(job), refresh) if workspace is not None else None
    if known is None:
        return TRAINS
    if known.state == "finished":
        return f"adopts finished run {known.run_id}: nothing trained"
    return f"re-attaches to run {known.run_id} ({known.status})"


def what_changed(job: TrainingJob, history: list[PastRun]) -> str:
    """Why a training run has no finished run to reuse, against the newest finished run of the same rate: its
    data, or its training code, differ (by which hash); the same both (only --refresh-cache or the libraries
    make such a run train again); or no such run yet."""
    same_rate = [past for past in history if past.regularization == repr(job.regularization)]
    if not same_rate:
        return f"no earlier finished run of {job.run_name}"
    last = same_rate[0]
    changed = [
        f"{what} changed since run {last.run_id} (sha256 {then[:12]}... then, {now[:12]}... now)"
        for what, then, now in (
            ("data", last.data_hash, job.data.content_hash),
            ("training code", last.source_hash, job.source_hash),
        )
        if then != now
    ]
    return "; ".join(changed) or f"same data and code as run {last.run_id}"


def node_time(trains: int, history: list[PastRun], experiment: str) -> str:
    """An estimate of the node time the runs that would train take: the median of the experiment's earlier
    runs (queueing and image builds on Azure not counted: the run history's times are the script's own)."""
    seconds = [past.node_seconds for past in history if past.node_seconds is not None]
    if not trains:
        return "Node time: none (no training run would train)."
    if not seconds:
        return f"Node time: {trains} training run(s) would train; no history yet in experiment `{experiment}`."
    typical = statistics.median(seconds)
    return (
        f"Node time: about {trains * typical / 60:.1f} node-minutes for {trains} training run(s), at the median "
        f"{typical / 60:.1f} min of the {len(seconds)} earlier finished run(s) of experiment `{experiment}`."
    )


def plan_markdown(rows: Sequence[tuple[str, str, str]], ws: WorkspaceRef, notes: Sequence[str]) -> str:
    """The plan's table (step, plan, why), its notes, and the promise that nothing was done."""
    ran = sum(plan == "run" for _, plan, _ in rows)
    return "\n".join(
        [
            f"# Plan: {ran} of {len(rows)} steps would run",
            "",
            "| step | plan | why |",
            "|---|---|---|",
            *(f"| {name} | {plan} | {why} |" for name, plan, why in rows),
            "",
            *notes,
            "",
            f"Workspace `{ws.directory}` ({ws.backend}). Nothing was downloaded, uploaded, provisioned, submitted or "
            "registered.",
        ]
    )
