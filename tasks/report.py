"""publish_report: what a person opens in the Prefect UI, published at every run, cached steps included.

Cached steps do not run, so they cannot publish anything; this last, uncached step renders their values
into artifacts with stable keys: sample-digits, training-metrics, accuracy-vs-regularization,
confusion-matrix, model-card, model-link, champion-history (a table and a chart of every version) and
run-summary (what ran, what was cached, where the model is); a picture that its key's latest version already
holds is linked, not sent again (plumbing/pictures.py). A chart is drawn once for its data and its code
and kept in the workspace's reports/charts/: a cached run reads it back (drawing both took a third of a second
and more of every warm run, docs/benchmarks.md).
"""

import time
from collections import Counter
from collections.abc import Callable

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

import workspaces
from plumbing.pictures import Picture, publish_pictures
from plumbing.step_code import code_hash
from steps.baseline import BaselineResult
from steps.charts import accuracy_chart_png, data_uri, png_file_uri
from steps.history import history_chart_png, history_rows
from steps.registry import RegisteredModel
from steps.report import confusion_markdown, metrics_rows, model_card, summary_markdown
from workspaces.base import ComputeTarget, RunResult, WorkspaceRef
from workspaces.files import write_bytes_atomically
from workspaces.paths import inside

FINAL_STATES = {"Completed", "Cached", "Failed", "Crashed", "Cancelled"}


def step_states(settle_seconds: float = 10.0) -> dict[str, Counter]:
    """Each step's task-run states in this flow run, read back from Prefect (which records them a moment
    after they happen, hence the short wait for every other step to be final)."""
    context = TaskRunContext.get()
    assert context is not None, "step_states is called from a task"
    flow_run_id, own_id = context.task_run.flow_run_id, context.task_run.id
    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id] if flow_run_id else []))
    deadline = time.monotonic() + settle_seconds
    with get_client(sync_client=True) as client:
        while True:
            runs = [r for r in client.read_task_runs(flow_run_filter=flow_filter) if r.id != own_id]
            if all(r.state_name in FINAL_STATES for r in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    states: dict[str, Counter] = {}
    for run in sorted(runs, key=lambda r: str(r.expected_start_time or r.created)):  # ISO times sort as strings
        states.setdefault(run.task_key.rsplit("-", 1)[0], Counter())[run.state_name] += 1  # the function's name
    return states


def chart(ws: WorkspaceRef, draw: Callable[..., bytes], *data) -> str:
    """`draw(*data)` as a data URI: read back if this code drew these data before, else drawn and kept (the
    chart's older pictures removed: one per chart)."""
    key = hash_objects(draw.__qualname__, code_hash(draw.__module__), *data, raise_on_failure=True)
    folder = inside(ws.reports_dir, "charts")
    path = inside(folder, f"{draw.__name__}-{key}.png")
    try:
        return data_uri(path.read_bytes())
    except OSError:  # never drawn (or removed by another flow meanwhile)
        png = draw(*data)
    write_bytes_atomically(path, png)
    for older in folder.glob(f"{draw.__name__}-*.png"):
        if older != path:
            older.unlink(missing_ok=True)
    return data_uri(png)


def publish_champion_history(ws: WorkspaceRef, name: str) -> Picture:
    """Every registered version of `name` and when each was champion: the trend, without MLflow or the studio.
    The table is published; the chart is returned, to be published with the run's other pictures."""
    workspace = workspaces.open_workspace(ws)
    versions = workspace.model_versions(name)
    create_table_artifact(
        history_rows(versions, workspace.champion(name)),
        key="champion-history",
        description=f"Every version of {name}: its date, accuracy, regularization, data, and when it was champion",
    )
    return Picture(
        chart(ws, history_chart_png, versions),
        key="champion-history-chart",
        description=f"Test accuracy of every version of {name}; the stars were champion",
    )


@task(task_run_name="publish the report")
def publish_report(
    ws: WorkspaceRef,
    compute: ComputeTarget,
    sample_png: str,
    baseline: BaselineResult,
    results: list[RunResult],
    model: RegisteredModel,
    steps: list[str],
) -> None:
    """Every artifact of the run; `steps` are the flow's steps in its order (the run summary's rows)."""
    create_table_artifact(
        metrics_rows(results, baseline, model),
        key="training-metrics",
        description="Test accuracy of every training run and of the local baseline",
    )
    create_markdown_artifact(confusion_markdown(model.confusion), key="confusion-matrix")
    create_markdown_artifact(model_card(model), key="model-card")
    if model.version.url:
        create_link_artifact(
            model.version.url,
            link_text=f"run {model.version.run_id}",
            key="model-link",
            description="The registered model's run (MLflow UI or Azure ML studio)",
        )
    history_chart = publish_champion_history(ws, model.version.name)
    publish_pictures(
        Picture(png_file_uri(sample_png), key="sample-digits", description="30 random training digits"),
        Picture(
            chart(ws, accuracy_chart_png, results, baseline.accuracy),
            key="accuracy-vs-regularization",
            description="Test accuracy against regularization rate",
        ),
        history_chart,
    )
    summary = summary_markdown(step_states(), steps, ws, compute, model)
    create_markdown_artifact(summary, key="run-summary")
    get_run_logger().info("\n%s", summary)
