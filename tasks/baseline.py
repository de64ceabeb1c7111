"""train_baseline: the tutorial's local model, `LogisticRegression()` on the full training set.

The model is built in the task's own body, so its hyper-parameters are part of TASK_SOURCE and so of the cache
key; the data (by sha256) and the training code (its hash and library versions) are inputs.
"""

from prefect import get_run_logger
from sklearn.linear_model import LogisticRegression

from plumbing.caching import workspace_task
from steps.baseline import BaselineResult, fit_and_score
from steps.code import TrainingCode
from steps.dataset import LocalFiles
from workspaces.base import ComputeTarget, WorkspaceRef


# how many threads fit it changes its speed, not its result
@workspace_task(exclude=("compute",), task_run_name="train the baseline")
def train_baseline(ws: WorkspaceRef, files: LocalFiles, code: TrainingCode, compute: ComputeTarget) -> BaselineResult:
    result = fit_and_score(LogisticRegression(), files, threads=compute.threads_here())
    cpu = f", {result.cpu_seconds:.1f} s of CPU on one thread" if result.cpu_seconds else ""
    get_run_logger().info(
        "baseline LogisticRegression(): accuracy %.4f on %d test images (fit in %.1f s%s)",
        result.accuracy,
        result.test_images,
        result.fit_seconds,
        cpu,
    )
    return result
