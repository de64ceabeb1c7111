"""register_best: the tutorial's `run.register_model('sklearn_mnist', 'outputs/sklearn_mnist_model.pkl')`,
for the best run by accuracy, with its lineage in tags.

Registering a run that was registered before returns its existing version; the alias `champion` moves only
to a version more accurate than the current champion. The registered file is fetched back (its sha256
checked) to compute the confusion matrix, so the matrix is the registered model's, not the run's memory.
"""

import tempfile
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
from prefect import get_run_logger
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import confusion_matrix

import workspaces
from tasks.caching import workspace_task
from tasks.code import TrainingCode
from tasks.dataset import LocalFiles
from tasks.mnist import load_split
from tasks.retries import retrying
from workspaces.base import ModelVersion, RunResult, WorkspaceRef

MODEL_NAME = "sklearn_mnist"
INPUT_CONTRACT = "784 float pixels in 0..1 (the 28x28 image's bytes divided by 255), row by row"


class RegisteredModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: ModelVersion
    test_accuracy: float  # of the registered file, recomputed on the test set
    confusion: list[list[int]]  # rows: true digit, columns: predicted digit


def best_run(results: Sequence[RunResult]) -> RunResult:
    """The most accurate run; between equals, the stronger regularization (the simpler model)."""
    if not results:
        raise ValueError("no training run to choose from")
    return max(results, key=lambda run: (run.accuracy, run.regularization))


def lineage_tags(run: RunResult, code: TrainingCode) -> dict[str, str]:
    return {
        "run_id": run.run_id,
        "accuracy": repr(run.accuracy),
        "regularization_rate": repr(run.regularization),
        "data_sha256": run.data_hash,
        "training_code_sha256": code.sha256,
        "input_contract": INPUT_CONTRACT,
        **{f"version_{name}": version for name, version in code.libraries.items()},
    }


def score_model_file(path: Path, files: LocalFiles) -> tuple[float, list[list[int]]]:
    X_test, y_test = load_split(files, "test")
    predicted = joblib.load(path).predict(X_test)
    matrix = confusion_matrix(y_test, predicted, labels=list(range(10)))
    return float(np.average(predicted == y_test)), matrix.tolist()


def still_registered(model: RegisteredModel, inputs: dict) -> bool:
    return workspaces.open_workspace(inputs["ws"]).holds(model.version)


@workspace_task(still_true=still_registered, **retrying())
def register_best(
    ws: WorkspaceRef, results: list[RunResult], files: LocalFiles, code: TrainingCode, name: str = MODEL_NAME
) -> RegisteredModel:
    logger = get_run_logger()
    workspace = workspaces.open_workspace(ws)
    best = best_run(results)
    version = workspace.register_model(best, name, lineage_tags(best, code))
    verb = "registered" if version.created else "already registered as"
    logger.info("best run %s (accuracy %.4f) %s %s version %s%s", best.name, best.accuracy, verb, name,
                version.version, ", now the champion" if version.champion else "")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        accuracy, matrix = score_model_file(workspace.fetch_model(version, Path(folder)), files)
    return RegisteredModel(version=version, test_accuracy=accuracy, confusion=matrix)
