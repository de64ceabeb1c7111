"""What a person reads in the Prefect UI (steps/report.py), rendered from the steps' values: the metrics table,
the confusion matrix, the model card and the run summary. tests/flows/ checks they are published as artifacts."""

from collections import Counter

from steps.baseline import BaselineResult
from steps.registry import INPUT_CONTRACT, RegisteredModel
from steps.report import confusion_markdown, metrics_rows, model_card, summary_markdown
from tests.workspaces.jobs import a_run_result as a_result
from workspaces.base import ComputeTarget, ModelVersion, WorkspaceRef

BASELINE = BaselineResult(accuracy=0.92616, fit_seconds=8.2, cpu_seconds=8.1, train_images=60000, test_images=10000)


def registered(run_id: str = "run-2", champion: bool = True) -> RegisteredModel:
    tags = {"accuracy": "0.93", "regularization_rate": "0.4", "data_sha256": "d" * 64, "version_numpy": "2.4.6"}
    version = ModelVersion.from_registry("sklearn_mnist", "3", run_id, "models/3", {**tags, "model_sha256": "f" * 64})
    return RegisteredModel(
        version=version.model_copy(update={"champion": champion}),
        test_accuracy=0.9301,
        confusion=[[1 if i == j else 0 for j in range(10)] for i in range(10)],
    )


def test_the_metrics_table_has_the_baseline_first_then_the_runs_by_rate_and_marks_the_registered_one():
    runs = [a_result("run-1", 0.9263, 0.8), a_result("run-2", 0.93, 0.4)]
    rows = metrics_rows(runs, BASELINE, registered())
    assert [row["run"] for row in rows] == ["local baseline", "reg-0.4", "reg-0.8"]
    assert rows[0]["accuracy"] == 0.9262 and rows[0]["regularization rate"] == "-"
    assert [row["registered"] for row in rows] == ["", "version 3", ""]
    assert rows[1]["peak memory (MB)"] == "-"  # a run that did not measure it


def test_the_confusion_matrix_is_a_markdown_table_of_ten_digits():
    lines = confusion_markdown(registered().confusion).splitlines()
    assert lines[0] == "# Confusion matrix of the registered model"
    assert lines[2] == "| true \\ predicted | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |"
    assert len(lines) == 4 + 10 and lines[4].startswith("| **0** | 1 | 0 |")


def test_the_model_card_says_what_a_user_needs_to_load_and_trust_the_file():
    card = model_card(registered())
    assert card.splitlines()[0] == "# Model card: sklearn_mnist version 3 (champion)"
    assert "| regularization rate | 0.4 (`LogisticRegression(C=2.5, random_state=42)`) |" in card
    assert "| libraries | numpy 2.4.6 |" in card and f"| model file sha256 | `{'f' * 64}` |" in card
    assert INPUT_CONTRACT in card and "loading a pickle executes code" in card
    assert "(champion)" not in model_card(registered(champion=False)).splitlines()[0]


def test_the_summary_lists_the_steps_in_the_flows_order_then_any_other():
    states = {"register the best": Counter(Cached=1), "train reg-0.8": Counter(Completed=1, Failed=1), "x": Counter()}
    ws = WorkspaceRef(backend="local", directory="/tmp/ws")
    compute = ComputeTarget(name="cpu-cluster", kind="local", vm_size="-", min_nodes=0, max_nodes=2, created=False)
    summary = summary_markdown(states, ["train reg-0.8", "register the best"], ws, compute, registered())
    lines = summary.splitlines()
    assert lines[4:7] == ["| train reg-0.8 | 1 Completed, 1 Failed |", "| register the best | 1 Cached |", "| x |  |"]
    assert "compute `cpu-cluster` (local, up to 2 nodes)" in summary
    assert "Model: `sklearn_mnist` version 3 (champion), accuracy 0.9301, file `models/3`." in summary
