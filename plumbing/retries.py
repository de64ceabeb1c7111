"""The retry rule, shared by every step: retry only what can succeed on a second try.

Only a TransientError is retried (network errors, HTTP 429/5xx, a run killed from outside or pre-empted);
bad parameters, a failing training script, a MemoryError, wrong credentials or an unknown VM size fail at
once. Delays grow exponentially from the first one (2 s, or MNIST_FLOW_RETRY_BACKOFF seconds), with jitter so
parallel runs do not retry in step.
"""

import math
import os
from collections.abc import Mapping

from prefect.tasks import exponential_backoff

from workspaces.errors import is_transient

BACKOFF_SECONDS = 2.0
SETTING = "MNIST_FLOW_RETRY_BACKOFF"


def first_delay(environ: Mapping[str, str]) -> float:
    """MNIST_FLOW_RETRY_BACKOFF: the seconds before a step's first retry (each later one waits twice as long), as
    the Azure ML SDK v1's AZUREML_DEFAULT_BACKOFF sets its own; ValueError with the sentence the user reads."""
    value = environ.get(SETTING)
    if not value:
        return BACKOFF_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 3600:  # (NaN fails both)
        expected = "expected the seconds before a step's first retry, 0 to 3600 (default 2)"
        raise ValueError(f"{SETTING}={value!r}: {expected}")
    return seconds


def retry_if_transient(task, task_run, state) -> bool:
    return is_transient(state.result(raise_on_failure=False))


def retrying(retries: int = 3) -> dict:
    """Task options for `retries` retries of transient failures, after the first delay, 2x, 4x ... of it.

    Read when the task is defined; a bad value falls back to the default here, and the flow's parameter check
    (flows/parameters.py) refuses it with its one line before any step runs."""
    try:
        backoff = first_delay(os.environ)
    except ValueError:
        backoff = BACKOFF_SECONDS
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=backoff),
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_if_transient,
    }
