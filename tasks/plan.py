"""`--plan`: what a run with these parameters would do, doing none of it. Each cached step's key is computed by
that step's own cache policy and looked up as the run looks it up (plumbing/caching.py: `WorkspaceTask.plan`),
so the plan cannot drift from the run. A step's input that an earlier step would compute is taken from that
step's record, even a stale one: the steps whose records go stale (download, upload) recompute the same value.
Nothing is downloaded, uploaded, provisioned, submitted or registered; no MLflow run is created; a workspace
that does not exist yet is not created.
"""

import statistics
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

import workspaces
from plumbing.caching import REFRESH_PARAMETER, Lookup
from steps.code import describe_training_code
from steps.dataset import Dataset
from steps.training import reusable, training_jobs
from tasks.baseline import train_baseline
from tasks.download import download_mnist
from tasks.look import look_at_digits
from tasks.register import register_best
from tasks.training import submit_training
from tasks.upload import upload_data
from workspaces.base import ComputeSpec, ComputeTarget, PastRun, TrainingJob, WorkspaceRef

RUNS, CACHED = "run", "cached"
TRAINS = "trains"


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # as the run names the step's task run ("train reg-0.8")
    plan: str  # "cached" or "run"
    why: str


def looked_up(name: str, found: Lookup | None, after: str = "") -> Step:
    if found is None:
        return Step(name=name, plan=RUNS, why=f"its input comes from {after}, which runs")
    return Step(name=name, plan=CACHED if found.cached else RUNS, why=found.why)


@task(task_run_name="plan the run", cache_policy=NO_CACHE)
def plan_the_run(
    ws: WorkspaceRef,
    dataset: Dataset,
    mirrors: tuple[str, ...],
    timeout: float,
    spec: ComputeSpec,
    training_dir: str,
    experiment: str,
    rates: tuple[float, ...],
    refresh: bool,
    delete_compute: bool,
) -> str:
    """The flow's steps in its order, each with what it would do: the markdown of the `plan` artifact."""
    given = {"flow_parameters": {"params": {REFRESH_PARAMETER: refresh}}}  # what the steps' policies read of them
    # a fresh local workspace is not created to be planned; an Azure one is only read (looking up is free)
    exists = ws.backend != "local" or Path(ws.directory, "locks").is_dir()  # made when a workspace is opened

    fetched = download_mnist.plan(ws, dataset, mirrors, timeout, **given)
    files = fetched.value
    looked = look_at_digits.plan(ws, files, **given) if files else None
    attached = exists and workspaces.open_workspace(ws).has_compute(spec.name)
    uploaded = upload_data.plan(ws, files, "mnist", **given) if files else None
    code = describe_training_code(training_dir)
    baseline = train_baseline.plan(ws, files, code, None, **given) if files else None
    steps = [
        Step(name=f"connect to the {ws.backend} workspace", plan=RUNS, why="every run" if exists else "creates it"),
        looked_up(f"download {dataset.name}", fetched),
        looked_up("look at the digits", looked, "the download"),
        Step(name=f"provision {spec.name}", plan=RUNS, why=provisions(spec, ws.backend, attached)),
        looked_up("upload to mnist", uploaded, "the download"),
        Step(name="hash the training code", plan=RUNS, why=f"every run (code {code.sha256[:12]}...)"),
        looked_up("train the baseline", baseline, "the download"),
    ]
    kind = "local" if ws.backend == "local" else "AmlCompute"  # only the name enters a training run's key
    compute = ComputeTarget.from_spec(spec, kind=kind, created=not attached)
    data = uploaded.value if uploaded else None
    history = workspaces.open_workspace(ws).past_runs(experiment) if exists else []
    results, trains = [], 0
    for rate in rates:
        if data is None:
            steps.append(Step(name=f"train reg-{rate:g}", plan=RUNS, why="its data come from the upload, which runs"))
            trains += 1  # at most: a finished run of the same data would be adopted
            continue
        [job] = training_jobs(experiment, [rate], data, code, compute)
        found = submit_training.plan(ws, compute, job, code, refresh, **given)
        if found.cached:
            why = found.why
        else:
            does = never_twice(ws, job, refresh, exists)
            trains += does == TRAINS
            why = f"{found.why} for key {job.key[:12]}...; {what_changed(job, history)}: {does}"
        steps.append(Step(name=f"train {job.run_name}", plan=CACHED if found.cached else RUNS, why=why))
        results.append(found.value if found.cached else None)
    trained = data is not None and all(result is not None for result in results)
    registered = register_best.plan(ws, results, files, code, **given) if trained else None
    steps.append(looked_up("register the best", registered, "a training run"))
    if delete_compute:
        steps.append(Step(name=f"delete {spec.name}", plan=RUNS, why="--delete-compute"))
    steps.append(Step(name="publish the report", plan=RUNS, why="every run"))
    markdown = plan_markdown(steps, ws, node_time(trains, history, experiment))
    create_markdown_artifact(markdown, key="plan", description="What a run with these parameters would do")
    get_run_logger().info("\n%s", markdown)
    return markdown


def provisions(spec: ComputeSpec, backend: str, attached: bool) -> str:
    """What provisioning would do, with the settings it would ask for (an existing cluster keeps its VM size:
    only its scale is updated)."""
    scale = f"{spec.min_nodes} to {spec.max_nodes} nodes"
    if attached:
        return f"attaches the existing target ({scale})"
    return (
        f"creates it ({scale})" if backend == "local" else f"creates it ({spec.vm_size}, {scale}, {spec.vm_priority})"
    )


def never_twice(ws: WorkspaceRef, job: TrainingJob, refresh: bool, exists: bool) -> str:
    """What the training step would do without a record: train, or reuse a run the workspace already has."""
    known = reusable(workspaces.open_workspace(ws).find_runs(job), refresh) if exists else None
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


def plan_markdown(steps: list[Step], ws: WorkspaceRef, estimate: str) -> str:
    rows = [f"| {s.name} | {s.plan} | {s.why} |" for s in steps]
    ran = sum(s.plan == RUNS for s in steps)
    return "\n".join(
        [
            f"# Plan: {ran} of {len(steps)} steps would run",
            "",
            "| step | plan | why |",
            "|---|---|---|",
            *rows,
            "",
            estimate,
            "",
            f"Workspace `{ws.directory}` ({ws.backend}). Nothing was downloaded, uploaded, provisioned, submitted or "
            "registered.",
        ]
    )
