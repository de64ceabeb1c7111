"""The tutorial's local baseline: `LogisticRegression()` fitted on the full training set, scored on the test set,
with as many BLAS threads as the caller allows (the baseline overlaps the training runs on a local target)."""

import time

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from steps.dataset import LocalFiles
from steps.mnist import load_split


class BaselineResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    accuracy: float
    fit_seconds: float
    cpu_seconds: float | None  # the fit's own CPU time, when it ran on one thread
    train_images: int
    test_images: int


def fit_baseline(files: LocalFiles, threads: int) -> BaselineResult:
    """The tutorial's `LogisticRegression()` (its defaults), fitted with at most `threads` BLAS threads."""
    return fit_and_score(LogisticRegression(), files, threads)


def fit_and_score(model, files: LocalFiles, threads: int) -> BaselineResult:
    """Fit `model` on the training split with at most `threads` BLAS threads; its accuracy on the test split."""
    X_train, y_train = load_split(files, "train")
    X_test, y_test = load_split(files, "test")
    started, cpu_started = time.perf_counter(), time.thread_time()
    with threadpool_limits(limits=threads):
        model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    # on one thread its CPU time is the fit's own work; the wall time also counts waiting for a core that the
    # training runs hold, so the benchmarks compare both with the bare script's fit
    cpu_seconds = time.thread_time() - cpu_started if threads == 1 else None
    accuracy = float(np.average(model.predict(X_test) == y_test))
    return BaselineResult(
        accuracy=accuracy,
        fit_seconds=fit_seconds,
        cpu_seconds=cpu_seconds,
        train_images=len(y_train),
        test_images=len(y_test),
    )
