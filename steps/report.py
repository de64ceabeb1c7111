"""What a person reads in the Prefect UI, rendered from the steps' values: the metrics table, the confusion
matrix, the model card and the run summary (tasks/report.py publishes them as artifacts)."""

from collections import Counter

from steps.baseline import BaselineResult
from steps.registry import INPUT_CONTRACT, RegisteredModel
from workspaces.base import ComputeTarget, RunResult, WorkspaceRef


def metrics_rows(results: list[RunResult], baseline: BaselineResult, model: RegisteredModel) -> list[dict]:
    rows = [
        {
            "run": "local baseline",
            "regularization rate": "-",
            "accuracy": round(baseline.accuracy, 4),
            "peak memory (MB)": "-",
            "run id": "-",
            "registered": "",
        }
    ]
    for run in sorted(results, key=lambda r: r.regularization):
        registered = f"version {model.version.version}" if run.run_id == model.version.run_id else ""
        rows.append(
            {
                "run": run.name,
                "regularization rate": run.regularization,
                "accuracy": round(run.accuracy, 4),
                "peak memory (MB)": run.metrics.get("peak_memory_mb", "-"),
                "run id": run.run_id,
                "registered": registered,
            }
        )
    return rows


def confusion_markdown(matrix: list[list[int]], title: str = "Confusion matrix of the registered model") -> str:
    header = "| true \\ predicted | " + " | ".join(str(d) for d in range(10)) + " |"
    rule = "|---" * 11 + "|"
    rows = [f"| **{digit}** | " + " | ".join(str(n) for n in row) + " |" for digit, row in enumerate(matrix)]
    return "\n".join([f"# {title}", "", header, rule, *rows])


def model_card(model: RegisteredModel) -> str:
    v = model.version
    libraries = ", ".join(
        f"{k.removeprefix('version_')} {val}" for k, val in v.tags.items() if k.startswith("version_")
    )
    return "\n".join(
        [
            f"# Model card: {v.name} version {v.version}" + (" (champion)" if v.champion else ""),
            "",
            "| | |",
            "|---|---|",
            f"| name | `{v.name}` |",
            f"| version | {v.version} |",
            f"| accuracy | {model.test_accuracy:.4f} on the test set, recomputed from the registered file |",
            f"| regularization rate | {v.regularization:g} "
            f"(`LogisticRegression(C={1 / v.regularization:g}, random_state=42)`) |",
            f"| run id | `{v.run_id}` |",
            f"| data sha256 | `{v.tags.get('data_sha256', '')}` |",
            f"| training code sha256 | `{v.tags.get('training_code_sha256', '')}` |",
            f"| libraries | {libraries} |",
            f"| model file | `{v.source}` |",
            f"| model file sha256 | `{v.sha256}` |",
            "",
            "## Input contract",
            "",
            INPUT_CONTRACT + ".",
            "",
            "## Loading it",
            "",
            "A joblib pickle, the tutorial's format: loading a pickle executes code, so load only models from your own "
            "registry, after checking the file's sha256 against the one above.",
        ]
    )


def summary_markdown(
    states: dict[str, Counter], order: list[str], ws: WorkspaceRef, compute: ComputeTarget, model: RegisteredModel
) -> str:
    """What ran and what came from the cache, step by step in the flow's order (its table's), then where."""
    lines = ["# Run summary", "", "| step | runs |", "|---|---|"]
    for step in [*(name for name in order if name in states), *(name for name in states if name not in order)]:
        counts = states[step]
        lines.append(f"| {step} | " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) + " |")
    v = model.version
    lines += [
        "",
        f"Workspace: `{ws.directory}` ({ws.backend}); compute `{compute.name}` ({compute.kind}, "
        f"up to {compute.max_nodes} nodes).",
        "",
        f"Model: `{v.name}` version {v.version}"
        + (" (champion)" if v.champion else "")
        + f", accuracy {model.test_accuracy:.4f}, file `{v.source}`.",
    ]
    return "\n".join(lines)
