"""publish_report: what a person opens in the Prefect UI, published at every run, cached steps included.

Cached steps do not run, so they cannot publish anything; this last, uncached step renders their values
into artifacts with stable keys: sample-digits, training-metrics, accuracy-vs-regularization,
confusion-matrix, model-card, model-link and run-summary (what ran, what was cached, where the model is).
"""

import time
from collections import Counter

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_image_artifact, create_link_artifact, create_markdown_artifact, create_table_artifact,
)  # fmt: skip
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.context import get_run_context

from tasks.baseline import BaselineResult
from tasks.charts import accuracy_chart_png, data_uri, png_file_uri
from tasks.register import INPUT_CONTRACT, RegisteredModel
from workspaces.base import ComputeTarget, RunResult, WorkspaceRef

FINAL_STATES = {"Completed", "Cached", "Failed", "Crashed", "Cancelled"}


def metrics_rows(results: list[RunResult], baseline: BaselineResult, model: RegisteredModel) -> list[dict]:
    rows = [{"run": "local baseline", "regularization rate": "-", "accuracy": round(baseline.accuracy, 4),
             "peak memory (MB)": "-", "run id": "-", "registered": ""}]  # fmt: skip
    for run in sorted(results, key=lambda r: r.regularization):
        registered = f"version {model.version.version}" if run.run_id == model.version.run_id else ""
        rows.append({"run": run.name, "regularization rate": run.regularization, "accuracy": round(run.accuracy, 4),
                     "peak memory (MB)": run.metrics.get("peak_memory_mb", "-"), "run id": run.run_id,
                     "registered": registered})  # fmt: skip
    return rows


def confusion_markdown(matrix: list[list[int]]) -> str:
    header = "| true \\ predicted | " + " | ".join(str(d) for d in range(10)) + " |"
    rule = "|---" * 11 + "|"
    rows = [f"| **{digit}** | " + " | ".join(str(n) for n in row) + " |" for digit, row in enumerate(matrix)]
    return "\n".join(["# Confusion matrix of the registered model", "", header, rule, *rows])


def model_card(model: RegisteredModel) -> str:
    v = model.version
    libraries = ", ".join(f"{k.removeprefix('version_')} {val}" for k, val in v.tags.items() if k.startswith("version_"))
    return "\n".join([
        f"# Model card: {v.name} version {v.version}" + (" (champion)" if v.champion else ""),
        "", "| | |", "|---|---|",
        f"| name | `{v.name}` |", f"| version | {v.version} |",
        f"| accuracy | {model.test_accuracy:.4f} on the test set, recomputed from the registered file |",
        f"| regularization rate | {v.regularization:g} (`LogisticRegression(C={1 / v.regularization:g}, random_state=42)`) |",
        f"| run id | `{v.run_id}` |", f"| data sha256 | `{v.tags.get('data_sha256', '')}` |",
        f"| training code sha256 | `{v.tags.get('training_code_sha256', '')}` |",
        f"| libraries | {libraries} |", f"| model file | `{v.source}` |", f"| model file sha256 | `{v.sha256}` |",
        "", "## Input contract", "", INPUT_CONTRACT + ".", "",
        "## Loading it", "",
        "A joblib pickle, the tutorial's format: loading a pickle executes code, so load only models from your own "
        "registry, after checking the file's sha256 against the one above.",
    ])  # fmt: skip


def step_states(settle_seconds: float = 10.0) -> dict[str, Counter]:
    """Each step's task-run states in this flow run, read back from Prefect (which records them a moment
    after they happen, hence the short wait for every other step to be final)."""
    context = get_run_context()
    flow_run_id, own_id = context.task_run.flow_run_id, context.task_run.id
    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + settle_seconds
    with get_client(sync_client=True) as client:
        while True:
            runs = [r for r in client.read_task_runs(flow_run_filter=flow_filter) if r.id != own_id]
            if all(r.state_name in FINAL_STATES for r in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    states: dict[str, Counter] = {}
    for run in sorted(runs, key=lambda r: r.expected_start_time or r.created):
        states.setdefault(run.name.rsplit("-", 1)[0], Counter())[run.state_name] += 1
    return states


def summary_markdown(states: dict[str, Counter], ws: WorkspaceRef, compute: ComputeTarget, model: RegisteredModel) -> str:
    lines = ["# Run summary", "", "| step | runs |", "|---|---|"]
    for step, counts in states.items():
        lines.append(f"| {step} | " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) + " |")
    v = model.version
    lines += ["", f"Workspace: `{ws.directory}` ({ws.backend}); compute `{compute.name}` ({compute.kind}, "
              f"up to {compute.max_nodes} nodes).", "",
              f"Model: `{v.name}` version {v.version}" + (" (champion)" if v.champion else "") +
              f", accuracy {model.test_accuracy:.4f}, file `{v.source}`."]  # fmt: skip
    return "\n".join(lines)


@task
def publish_report(
    ws: WorkspaceRef, compute: ComputeTarget, sample_png: str, baseline: BaselineResult,
    results: list[RunResult], model: RegisteredModel,
) -> None:  # fmt: skip
    create_image_artifact(png_file_uri(sample_png), key="sample-digits", description="30 random training digits")
    create_table_artifact(metrics_rows(results, baseline, model), key="training-metrics",
                          description="Test accuracy of every training run and of the local baseline")  # fmt: skip
    create_image_artifact(data_uri(accuracy_chart_png(results, baseline.accuracy)), key="accuracy-vs-regularization",
                          description="Test accuracy against regularization rate")  # fmt: skip
    create_markdown_artifact(confusion_markdown(model.confusion), key="confusion-matrix")
    create_markdown_artifact(model_card(model), key="model-card")
    if model.version.url:
        create_link_artifact(model.version.url, link_text=f"run {model.version.run_id}", key="model-link",
                             description="The registered model's run (MLflow UI or Azure ML studio)")  # fmt: skip
    summary = summary_markdown(step_states(), ws, compute, model)
    create_markdown_artifact(summary, key="run-summary")
    get_run_logger().info("\n%s", summary)
