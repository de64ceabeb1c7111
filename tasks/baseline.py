"""train_baseline: the tutorial's local model, `LogisticRegression()` on the full training set.

The model is built in the task's own body, so its hyper-parameters are part of TASK_SOURCE and so of the cache
key; the data (by sha256) and the training code (its hash and library versions) are inputs.
"""

import time

import numpy as np
from prefect import get_run_logger
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from tasks.caching import workspace_task
from tasks.code import TrainingCode
from tasks.dataset import LocalFiles
from tasks.mnist import load_split
from workspaces.base import ComputeTarget, WorkspaceRef


class BaselineResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    accuracy: float
    fit_seconds: float
    train_images: int
    test_images: int


@workspace_task(exclude=("compute",))  # how many threads fit it changes its speed, not its result
def train_baseline(ws: WorkspaceRef, files: LocalFiles, code: TrainingCode, compute: ComputeTarget) -> BaselineResult:
    logger = get_run_logger()
    X_train, y_train = load_split(files, "train")
    X_test, y_test = load_split(files, "test")
    threads = compute.threads_here()  # one run's share of a local target's cores
    started, cpu_started = time.perf_counter(), time.thread_time()
    clf = LogisticRegression()
    with threadpool_limits(limits=threads):
        clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    # on one thread its CPU time is the fit's own work; the wall time also counts waiting for a core that the
    # training runs hold, so the benchmarks compare both with the bare script's fit
    cpu_seconds = time.thread_time() - cpu_started if threads == 1 else None
    accuracy = float(np.average(clf.predict(X_test) == y_test))
    logger.info("baseline LogisticRegression(): accuracy %.4f on %d test images (fit in %.1f s%s)", accuracy,
                len(y_test), fit_seconds, f", {cpu_seconds:.1f} s of CPU on one thread" if cpu_seconds else "")  # fmt: skip
    return BaselineResult(accuracy=accuracy, fit_seconds=fit_seconds, train_images=len(y_train),
                          test_images=len(y_test))  # fmt: skip
