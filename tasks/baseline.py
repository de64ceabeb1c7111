"""train_baseline: the tutorial's local model, `LogisticRegression()` on the full training set (steps/baseline.py).

Cached by the data (by sha256), the training code (its hash and library versions) and the code the step runs
(plumbing/step_code.py: steps/baseline.py among it, so a changed model is a changed result).
"""

from prefect import get_run_logger

from plumbing.caching import workspace_task
from steps.baseline import BaselineResult, fit_baseline
from steps.code import TrainingCode
from steps.dataset import LocalFiles
from workspaces.base import ComputeTarget, WorkspaceRef


# how many threads fit it changes its speed, not its result
@workspace_task(exclude=("compute",), task_run_name="train the baseline")
def train_baseline(ws: WorkspaceRef, files: LocalFiles, code: TrainingCode, compute: ComputeTarget) -> BaselineResult:
    result = fit_baseline(files, threads=compute.threads_here())
    cpu = f", {result.cpu_seconds:.1f} s of CPU on one thread" if result.cpu_seconds else ""
    get_run_logger().info(
        "baseline LogisticRegression(): accuracy %.4f on %d test images (fit in %.1f s%s)",
        result.accuracy,
        result.test_images,
        result.fit_seconds,
        cpu,
    )
    return result
