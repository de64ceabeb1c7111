"""How a local run ended, in the terms of the retry rules: finished, failed on its own, or killed from outside.

A run whose process a signal killed, and not by us, is what a pre-empted node looks like: a second try may
succeed, so it is a TransientError. A run whose script exited with an error fails the same way again: RunFailed,
never retried, with the last lines of its log. A MemoryError is such a failure: the cure is fewer runs at once.
"""

from dataclasses import dataclass

from workspaces.base import RunHandle, RunResult, finished_run
from workspaces.errors import FlowError, RunCancelled, RunFailed, TransientError, with_log_tail
from workspaces.local.processes import signal_name

FEWER_NODES = "lower max_nodes (--max-nodes or AML_COMPUTE_CLUSTER_MAX_NODES) so that fewer runs share the memory"


@dataclass(frozen=True)
class Outcome:
    mlflow_status: str  # FINISHED, FAILED or KILLED
    result: RunResult | None = None
    error: FlowError | None = None


def run_outcome(
    run: RunHandle, returncode: int, stopped: bool, tail: tuple[str, ...], metrics: dict[str, float]
) -> Outcome:
    name = run.name
    if returncode == 0:
        try:
            return Outcome("FINISHED", result=finished_run(run, "Completed", metrics, tail))
        except RunFailed as error:  # it never logged its accuracy
            return Outcome("FAILED", error=error)
    if returncode < 0 and stopped:
        message = f"training run {name!r} was stopped because its flow was cancelled or interrupted"
        return Outcome("KILLED", error=RunCancelled(message, name, tail))
    if returncode < 0:
        message = (
            f"training run {name!r} was killed by {signal_name(returncode)} from outside (a pre-empted node, an "
            f"operator, or the kernel's out-of-memory killer); retrying. If it recurs, {FEWER_NODES}"
        )
        return Outcome("KILLED", error=TransientError(with_log_tail(message, tail[-5:])))
    out_of_memory = any("MemoryError" in line for line in tail)
    cause = f"it ran out of memory: {FEWER_NODES}" if out_of_memory else "not retried: it would fail the same way"
    message = f"training run {name!r} failed (exit status {returncode}); {cause}"
    return Outcome("FAILED", error=RunFailed(message, name, tail))
