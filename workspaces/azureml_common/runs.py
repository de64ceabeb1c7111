"""Following an Azure ML run: its log line by line while it runs, then what its end means for the flow.

The SDK's `wait_for_completion(show_output=True)` writes straight to `sys.stdout`, which Prefect does not
capture, and redirecting `sys.stdout` would mix parallel runs' lines under one name. So each run is polled
here, as the SDK polls: its details list the log files with their URLs; the primary one is read again at
every poll and the lines not yet seen go to the sink. A failed poll (HTTP 429/5xx, the network) is tried
again after a pause, without re-submitting the run.
"""

import collections
import re
import time
from collections.abc import Callable
from datetime import datetime

from workspaces.azureml_common.errors import translate
from workspaces.base import LogSink, RunHandle, RunResult, RunState, finished_run
from workspaces.errors import FlowError, RunCancelled, RunFailed, TransientError, with_log_tail

# the SDK's own pattern for a script run's output logs (azureml.core.ScriptRun._output_logs_pattern)
OUTPUT_LOGS = re.compile(r"(user_logs/std_log[\D]*[0]*(?:_ps)?\.txt)|(azureml-logs/[\d]{2}.+\.txt)")
TERMINAL = {"Completed", "Failed", "Canceled"}
# the statuses of a run that is still going (Run.get_status's documentation, azureml-core 1.61)
UNDER_WAY = {"NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing"}
MAX_POLL_FAILURES = 8
TAIL_LINES = 20


def primary_log(log_files: dict[str, str]) -> str | None:
    """The log a person would watch: the user log of the common runtime, else the driver log of rank 0."""
    names = sorted(name for name in log_files if OUTPUT_LOGS.match(name))
    for preferred in ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt", "azureml-logs/70_driver_log_0.txt"):
        if preferred in names:
            return preferred
    return names[-1] if names else None


def follow(sdk, run: RunHandle, sink: LogSink, poll_seconds: float, sleep: Callable = time.sleep):
    """Stream the run's log into `sink` until it ends; its final details and the last lines of its log."""
    emitted: dict[str, int] = {}
    tail: collections.deque = collections.deque(maxlen=TAIL_LINES)
    failures = 0
    while True:
        try:
            details = sdk.run_details(run.run_id)
            name = primary_log(details.get("logFiles") or {})
            if name:
                lines = sdk.read_url(details["logFiles"][name]).splitlines()
                for line in lines[emitted.get(name, 0) :]:
                    tail.append(line)
                    sink(line)
                emitted[name] = len(lines)
            failures = 0
        except Exception as exc:
            error = translate(exc, f"following run {run.name!r}")
            failures += 1
            if not isinstance(error, TransientError) or failures > MAX_POLL_FAILURES:
                raise error from exc
            sleep(min(60.0, poll_seconds * 2**failures))
            continue
        if details.get("status") in TERMINAL:
            return details, tuple(tail)
        sleep(poll_seconds)


def run_state(status: str) -> RunState:
    """What a run's status means for the rule that trains a job once (steps/training.py): a Completed run may be
    adopted (if it logged its accuracy and kept its model), one under way attached; CancelRequested, Canceled
    and Failed runs count for nothing."""
    if status == "Completed":
        return "finished"
    return "under_way" if status in UNDER_WAY else "failed"


def seconds_between(start: str | None, end: str | None) -> float | None:
    """A run's time on its node from the run history's startTimeUtc and endTimeUtc (ISO 8601, 'Z'); None when
    either is missing or not a time (an answer of the service is input: a plan is not refused for it)."""
    try:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def last_value(value):
    return value[-1] if isinstance(value, list) else value


def azure_outcome(run: RunHandle, details: dict, tail: tuple[str, ...], metrics: dict, stopped: bool) -> RunResult:
    """The run's result, or the error that says how it ended (see the retry rules in workspaces/errors.py)."""
    name, status = run.name, str(details.get("status"))
    metrics = {key: float(last_value(value)) for key, value in (metrics or {}).items()}
    if status == "Completed":
        return finished_run(run, status, metrics, tail)
    raise run_error(name, status, details.get("error") or {}, tail, stopped)


def run_error(name: str, status: str, error: dict, tail: tuple[str, ...], stopped: bool) -> FlowError:
    if status == "Canceled":
        if stopped:
            return RunCancelled(f"training run {name!r} was cancelled because its flow was cancelled", name, tail)
        return RunFailed(
            f"training run {name!r} was cancelled outside the flow (in the studio?); not retried", name, tail
        )
    inner = error.get("error", error)
    code, message = inner.get("code", "unknown"), " ".join(str(inner.get("message", "")).split())[:400]
    if re.search(r"preempt|nodelost|node was lost|node.*(lost|removed)", f"{code} {message}", re.IGNORECASE):
        return TransientError(
            with_log_tail(
                f"training run {name!r} lost its node ({code}: {message}), as a "
                "pre-empted low-priority VM does; retrying",
                tail[-5:],
            )
        )
    return RunFailed(
        f"training run {name!r} failed on Azure ML ({code}: {message}); not retried: it would fail the same way",
        name,
        tail,
    )
