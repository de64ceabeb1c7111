"""train_baseline: the tutorial's local model, `LogisticRegression()` on the full training set.

The model is built in the task's own body, so its hyper-parameters are part of TASK_SOURCE and so of the cache
key; the data (by sha256) and the training code (its hash and library versions) are inputs.
"""

import time

import numpy as np
from prefect import get_run_logger
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression

from tasks.caching import workspace_task
from tasks.code import TrainingCode
from tasks.dataset import LocalFiles
from tasks.mnist import load_split
from workspaces.base import WorkspaceRef


class BaselineResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    accuracy: float
    fit_seconds: float
    train_images: int
    test_images: int


@workspace_task()
def train_baseline(ws: WorkspaceRef, files: LocalFiles, code: TrainingCode) -> BaselineResult:
    logger = get_run_logger()
    X_train, y_train = load_split(files, "train")
    X_test, y_test = load_split(files, "test")
    started = time.perf_counter()
    clf = LogisticRegression()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    accuracy = float(np.average(clf.predict(X_test) == y_test))
    logger.info("baseline LogisticRegression(): accuracy %.4f on %d test images (fit in %.1f s)",
                accuracy, len(y_test), fit_seconds)  # fmt: skip
    return BaselineResult(accuracy=accuracy, fit_seconds=fit_seconds, train_images=len(y_train),
                          test_images=len(y_test))  # fmt: skip
