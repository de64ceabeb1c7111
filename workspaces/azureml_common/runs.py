"""Following an Azure ML run: its log line by line while it runs, what it is doing while it does not, then what its
end means for the flow.

The SDK's `wait_for_completion(show_output=True)` writes straight to `sys.stdout`, which Prefect does not
capture, and redirecting `sys.stdout` would mix parallel runs' lines under one name. So each run is polled
here, as the SDK polls: its details list the log files with their URLs; the primary one is read again at
every poll and the lines not yet seen go to the sink.

What a run does between lines is said too (`Progress`): waiting (NotStarted, Starting, Provisioning, Preparing:
its image; Queued: waiting for nodes), with a line again every HEARTBEAT_SECONDS while nothing changes; and stuck
(NotResponding: its heartbeat is lost; Pausing, Paused, Unapproved), a WARNING that names the run and how long it
has been so. A run stuck for STUCK_DEADLINE_SECONDS is given up (the task fails, saying so, and the run is left
alone: the next flow re-attaches to it).

Following is never the reason a run dies: a failed poll (HTTP 429/5xx, the network) is tried again after a pause,
and when contact stays lost for MAX_POLL_FAILURES polls in a row the following gives up (a TransientError: the
task's retry re-attaches to the run, which was never cancelled). Only a cancelled or interrupted flow cancels its
runs (adapter.py).
"""

import collections
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime

from workspaces.azureml_common.errors import translate
from workspaces.base import LogSink, RunHandle, RunResult, RunState, finished_run
from workspaces.errors import FlowError, RunCancelled, RunFailed, TransientError, WorkspaceError, with_log_tail

log = logging.getLogger(__name__)
# the SDK's own pattern for a script run's output logs (azureml.core.ScriptRun._output_logs_pattern)
OUTPUT_LOGS = re.compile(r"(user_logs/std_log[\D]*[0]*(?:_ps)?\.txt)|(azureml-logs/[\d]{2}.+\.txt)")
TERMINAL = {"Completed", "Failed", "Canceled"}
# the statuses of a run still going: the SDK's running statuses (azureml/_restclient/constants.py
# RunStatus.get_running_statuses) and Finalizing; v2's job statuses add none beyond these
WAITING = {"NotStarted", "Starting", "Provisioning", "Preparing", "Queued"}
STUCK = {"NotResponding", "Pausing", "Paused", "Unapproved"}
UNDER_WAY = WAITING | STUCK | {"Running", "Finalizing"}
SAID = {
    "Starting": "starting",
    "Provisioning": "waiting for its compute to be created",
    "Preparing": "preparing its environment (the image is built once)",
    "Queued": "queued, waiting for nodes",
    "NotResponding": "not responding (its heartbeat is lost)",
    "Pausing": "pausing",
    "Paused": "paused",
    "Unapproved": "waiting for approval",
}
MAX_POLL_FAILURES = 8
HEARTBEAT_SECONDS = 300.0  # a line again while a run waits or is stuck and nothing changes
STUCK_DEADLINE_SECONDS = 3600.0  # following gives up on a run stuck this long (the run is left alone)
TAIL_LINES = 20


class Progress:
    """What a run is doing between log lines, said on each change of status and every HEARTBEAT_SECONDS while it
    waits or is stuck; StuckTooLong once it has been stuck for STUCK_DEADLINE_SECONDS."""

    def __init__(self, run: RunHandle, clock: Callable[[], float] = time.monotonic):
        self.run, self.clock = run, clock
        self.status: str | None = None
        self.since = self.said = clock()

    def saw(self, status: str) -> None:
        now = self.clock()
        if status != self.status:
            self.status, self.since, self.said = status, now, now
            self._say(status, 0)
        elif status in WAITING | STUCK and now - self.said >= HEARTBEAT_SECONDS:
            self.said = now
            self._say(status, now - self.since)
        if status in STUCK and now - self.since >= STUCK_DEADLINE_SECONDS:
            where = f": {self.run.url}" if self.run.url else ""
            raise WorkspaceError(
                f"run {self.run.name!r} has been {status} for {(now - self.since) / 60:.0f} min; following it gave up "
                f"and it was not cancelled: look at it in the studio{where} (a new flow run re-attaches to it)"
            )

    def _say(self, status: str, seconds: float) -> None:
        if status not in SAID:
            return
        lasting = f" for {seconds / 60:.0f} min" if seconds else ""
        level = logging.WARNING if status in STUCK else logging.INFO
        log.log(level, "run %s is %s%s", self.run.name, SAID[status], lasting)


def primary_log(log_files: dict[str, str]) -> str | None:
    """The log a person would watch: the user log of the common runtime, else the driver log of rank 0."""
    names = sorted(name for name in log_files if OUTPUT_LOGS.match(name))
    for preferred in ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt", "azureml-logs/70_driver_log_0.txt"):
        if preferred in names:
            return preferred
    return names[-1] if names else None


def follow(sdk, run: RunHandle, sink: LogSink, poll_seconds: float, sleep: Callable = time.sleep, clock=time.monotonic):
    """Stream the run's log into `sink` until it ends; its final details and the last lines of its log."""
    emitted: dict[str, int] = {}
    tail: collections.deque = collections.deque(maxlen=TAIL_LINES)
    progress = Progress(run, clock)
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
                emitted[name] = max(emitted.get(name, 0), len(lines))
            failures = 0
        except Exception as exc:
            error = translate(exc, f"following run {run.name!r}")
            failures += 1
            if not isinstance(error, TransientError):
                raise error from exc
            if failures > MAX_POLL_FAILURES:
                raise TransientError(
                    f"lost contact with Azure ML while following run {run.name!r} ({error}); the run was not "
                    "cancelled: the retry re-attaches to it"
                ) from exc
            sleep(min(60.0, poll_seconds * 2**failures))
            continue
        status = str(details.get("status"))
        if status in TERMINAL:
            return details, tuple(tail)
        progress.saw(status)
        sleep(poll_seconds)


def run_state(status: str) -> RunState:
    """What a run's status means for the rule that trains a job once (steps/training.py): a Completed run may be
    adopted (if it logged its accuracy and kept its model), one under way attached (NotResponding and Paused
    among them: such a run is alive, and a second one beside it would bill twice); CancelRequested, Canceled
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
