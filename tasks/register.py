"""register_best: the tutorial's `run.register_model('sklearn_mnist', 'outputs/sklearn_mnist_model.pkl')`,
for the best run by accuracy, with its lineage in tags (the policy: steps/registry.py). Cached by the runs;
a cached registration whose version was deleted registers again. A new version, and a champion that moved, are
told to Prefect's event feed (steps/events.py)."""

import tempfile
from pathlib import Path

from prefect import get_run_logger

import workspaces
from plumbing.caching import still_held, workspace_task
from plumbing.retries import retrying
from steps import events
from steps.code import TrainingCode
from steps.dataset import LocalFiles
from steps.registry import MODEL_NAME, RegisteredModel, best_run, lineage_tags, register
from steps.scoring import score_model
from tasks.notify import emit
from workspaces.base import RunResult, WorkspaceRef
from workspaces.locks import exclusive


@workspace_task(still_true=still_held(lambda model: model.version), task_run_name="register the best", **retrying())
def register_best(
    ws: WorkspaceRef, results: list[RunResult], files: LocalFiles, code: TrainingCode, name: str = MODEL_NAME
) -> RegisteredModel:
    workspace = workspaces.open_workspace(ws)
    best = best_run(results)
    with exclusive(ws.locks_dir / "registry.lock"):  # one flow at a time moves the champion alias
        previous = workspace.champion(name)
        version = register(workspace, best, name, lineage_tags(best, code))
    if version.created:
        emit(events.registered(version, best))
    emit(events.champion_moved(version, previous))
    verb = "registered" if version.created else "already registered as"
    # "now the champion" only when it became so now; the champion already ("best run ... now the champion" was said
    # of a version that had been for a while)
    moved = version.champion and (previous is None or previous.version != version.version)
    champion = ", now the champion" if moved else (", the champion" if version.champion else "")
    get_run_logger().info(
        "best run %s (accuracy %.4f) %s %s version %s%s",
        best.name,
        best.accuracy,
        verb,
        name,
        version.version,
        champion,
    )
    with tempfile.TemporaryDirectory() as folder:
        accuracy, matrix = score_model(workspace.load_model(version, Path(folder)), files)
    return RegisteredModel(version=version, test_accuracy=accuracy, confusion=matrix)
