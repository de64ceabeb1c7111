"""The scoring flow's tasks: thin wrappers over steps/scoring.py. Nothing here is cached: scoring takes seconds,
and its inputs are files a caller may change between runs under the same names."""

import tempfile
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

import workspaces
from steps.charts import data_uri
from steps.digits import digits_grid_png
from steps.registry import MODEL_NAME
from steps.report import confusion_markdown
from steps.scoring import Digits, Predictions, least_confident_titles, predict, predictions_csv, read_digits
from workspaces.base import ModelVersion, WorkspaceRef
from workspaces.errors import ConfigError
from workspaces.files import writing
from workspaces.paths import inside

TEST_SET = ("test-images.gz", "test-labels.gz")  # the workspace's own, under the tutorial's datastore names


@task(task_run_name="find {ref} of sklearn_mnist", cache_policy=NO_CACHE)
def find_model(ws: WorkspaceRef, ref: str) -> ModelVersion:
    version = workspaces.open_local(ws).model_version(MODEL_NAME, ref)
    get_run_logger().info("scoring with %s version %s (run %s)", version.name, version.version, version.run_id)
    return version


@task(task_run_name="read the digits", cache_policy=NO_CACHE)
def read_the_digits(ws: WorkspaceRef, images: str | None, labels: str | None) -> Digits:
    if images is None:
        folder = inside(ws.directory, "datastore", "mnist")
        images_file, labels_file = (inside(folder, name) for name in TEST_SET)
        if not images_file.is_file():
            raise ConfigError(f"the workspace holds no MNIST test set ({images_file}); give --images")
        digits = read_digits(images_file, labels_file)
    else:
        digits = read_digits(Path(images), Path(labels) if labels else None)
    known = "with" if digits.labels is not None else "without"
    get_run_logger().info("read %d digits %s labels", len(digits.images), known)
    return digits


@task(task_run_name="predict with version {version.version}", cache_policy=NO_CACHE)
def predict_digits(ws: WorkspaceRef, version: ModelVersion, digits: Digits) -> Predictions:
    with tempfile.TemporaryDirectory() as folder:  # the registered files, their sha256 checked, then loaded
        model = workspaces.open_local(ws).load_model(version, Path(folder))
    return predict(model, digits)


@task(task_run_name="write predictions.csv", cache_policy=NO_CACHE)
def write_predictions(folder: Path, digits: Digits, predictions: Predictions) -> Path:
    path = inside(folder, "predictions.csv")
    with writing(path) as partial:  # whole or not at all
        partial.write_text(predictions_csv(digits, predictions))
    return path


@task(task_run_name="publish the scores", cache_policy=NO_CACHE)
def publish_scores(version: ModelVersion, digits: Digits, predictions: Predictions, csv_path: Path) -> None:
    accuracy = predictions.accuracy(digits)
    lines = [
        f"# Scores of {version.name} version {version.version}",
        "",
        f"- digits scored: {len(digits.images)}",
        f"- accuracy: {accuracy:.4f}" if accuracy is not None else "- accuracy: unknown (no labels)",
        f"- predictions: `{csv_path}`",
    ]
    create_markdown_artifact("\n".join(lines), key="scores", description="What the scoring run found")
    if (matrix := predictions.confusion(digits)) is not None:
        title = f"Confusion matrix of version {version.version} on these digits"
        create_markdown_artifact(confusion_markdown(matrix, title), key="scoring-confusion-matrix")
    picks = predictions.least_confident()
    grid = digits_grid_png(digits.images[picks], least_confident_titles(digits, predictions, picks), fontsize=9)
    create_image_artifact(
        data_uri(grid),
        key="least-confident",
        description="The least confident predictions: predicted digit (probability), ≠ the true one if wrong",
    )
    get_run_logger().info("\n%s", "\n".join(lines))
