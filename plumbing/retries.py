"""The retry rule, shared by every step: retry only what can succeed on a second try.

Only a TransientError is retried (network errors, HTTP 429/5xx, a run killed from outside or pre-empted);
bad parameters, a failing training script, a MemoryError, wrong credentials or an unknown VM size fail at
once. Delays grow exponentially from BACKOFF_SECONDS, with jitter so parallel runs do not retry in step.
"""

from prefect.tasks import exponential_backoff

from workspaces.errors import is_transient

BACKOFF_SECONDS = 2.0


def retry_if_transient(task, task_run, state) -> bool:
    return is_transient(state.result(raise_on_failure=False))


def retrying(retries: int = 3, backoff: float = BACKOFF_SECONDS) -> dict:
    """Task options for `retries` retries of transient failures, after backoff, 2x, 4x ... seconds."""
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=backoff),
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_if_transient,
    }
