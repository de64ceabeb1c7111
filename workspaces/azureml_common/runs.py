"""Following an Azure ML run: its log line by line while it runs, what it is doing while it does not, then what its
end means for the flow.

The SDK's `wait_for_completion(show_output=True)` writes straight to `sys.stdout`, which Prefect does not
capture, and redirecting `sys.stdout` would mix parallel runs' lines under one name. So each run is polled
here: its status from one query for all the runs followed, its details (which list the log files with their
URLs) when its status changes, and the primary log from where the last read ended (polling.py says why: the
cost of polling stays flat in the number of runs), its new lines going to the sink.

What a run does between lines is said too (`Progress`; what each status means: statuses.py): waiting (NotStarted,
Starting, Provisioning, Preparing: its image; Queued: waiting for nodes), with a line again every HEARTBEAT_SECONDS
while nothing changes; stuck (NotResponding: its heartbeat is lost; Pausing, Paused, Unapproved, Unknown, or a
status neither SDK lists), a WARNING that names the run and how long it has been so; being cancelled or finalizing
for that long, a WARNING with the studio link. A run stuck for STUCK_DEADLINE_SECONDS is given up (the task fails,
saying so, and the run is left alone: the next flow re-attaches to it).

Following is never the reason a run dies: a failed poll (HTTP 429/5xx, the network) is tried again after a pause,
with a WARNING at the first and a line every HEARTBEAT_SECONDS while contact stays lost; after the patience
setting (MNIST_FLOW_FOLLOW_PATIENCE, 30 minutes unless set: settings.py) the following gives up, saying that the
run was not cancelled, where to see it, and that the next flow run re-attaches to it (a final error: the
patience was the retry). Only a stop of the flow cancels its runs (adapter.py).
"""

import collections
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import datetime

from workspaces.azureml_common.errors import message_of, status_code, translate
from workspaces.azureml_common.polling import Backoff, LogReader, StatusBoard, retry_after
from workspaces.azureml_common.settings import follow_patience
from workspaces.azureml_common.statuses import ENDED, WRITING, meaning, said
from workspaces.base import LogSink, RunHandle, RunResult, finished_run
from workspaces.errors import FlowError, RunCancelled, RunFailed, TransientError, WorkspaceError, with_log_tail

log = logging.getLogger(__name__)
# the SDK's own pattern for a script run's output logs (azureml.core.ScriptRun._output_logs_pattern)
OUTPUT_LOGS = re.compile(r"(user_logs/std_log[\D]*[0]*(?:_ps)?\.txt)|(azureml-logs/[\d]{2}.+\.txt)")
TERMINAL = ENDED
HEARTBEAT_SECONDS = 300.0  # a line again while a run waits or is stuck and nothing changes
STUCK_DEADLINE_SECONDS = 3600.0  # following gives up on a run stuck this long (the run is left alone)
TAIL_LINES = 20


class Progress:
    """What a run is doing between log lines (statuses.py says what each status means), said on each change of
    status and again every HEARTBEAT_SECONDS while it lasts: waiting at INFO; stuck, or in a status not known here,
    as a WARNING; being cancelled or finalizing for that long, a WARNING with its studio link, since it still bills.
    Following gives up (WorkspaceError) on a run stuck for STUCK_DEADLINE_SECONDS, and leaves it alone."""

    def __init__(self, run: RunHandle, clock: Callable[[], float] = time.monotonic):
        self.run, self.clock = run, clock
        self.status: str | None = None
        self.since = self.said = clock()

    def saw(self, status: str) -> None:
        now, kind = self.clock(), meaning(status)
        if status != self.status:
            self.status, self.since, self.said = status, now, now
            self._say(status, kind, 0)
        elif status != "Running" and now - self.said >= HEARTBEAT_SECONDS:
            self.said = now
            self._say(status, kind, now - self.since)
        if kind in ("stuck", "unknown") and now - self.since >= STUCK_DEADLINE_SECONDS:
            raise WorkspaceError(
                f"run {self.run.name!r} has been {status} for {(now - self.since) / 60:.0f} min; following it gave up "
                f"and it was not cancelled: look at it in the studio{self.where} (a new flow run re-attaches to it)"
            )

    @property
    def where(self) -> str:
        return f": {self.run.url}" if self.run.url else ""

    def _say(self, status: str, kind: str, seconds: float) -> None:
        doing = said(status)
        if doing is None:
            return
        lasting = f" for {seconds / 60:.0f} min" if seconds else ""
        if seconds and (kind == "stopping" or status == "Finalizing"):
            message = "run %s has been %s%s; it may still bill: look at it in the studio%s"
            log.warning(message, self.run.name, status, lasting, self.where)
            return
        level = logging.WARNING if kind in ("stuck", "unknown") else logging.INFO
        log.log(level, "run %s is %s%s", self.run.name, doing, lasting)


def primary_log(log_files: dict[str, str]) -> str | None:
    """The log a person would watch: the user log of the common runtime, else the driver log of rank 0."""
    names = sorted(name for name in log_files if OUTPUT_LOGS.match(name))
    for preferred in ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt", "azureml-logs/70_driver_log_0.txt"):
        if preferred in names:
            return preferred
    return names[-1] if names else None


def follow(
    history,
    board: StatusBoard,
    run: RunHandle,
    sink: LogSink,
    poll_seconds: float,
    sleep: Callable = time.sleep,
    clock=time.monotonic,
    patience: float | None = None,
):
    """Stream the run's log into `sink` until it ends; its final details and the last lines of its log.

    Its status comes from `board` (one query for every run followed); its details (log files, error) are asked
    for only when its status changed, while its log is not listed yet, and when a log's URL is refused (its SAS
    expired); its log is read from where the last read ended (polling.py). `patience`: the seconds contact may
    stay lost (default: the setting)."""
    reader, pause = LogReader(), Backoff(poll_seconds)
    tail: collections.deque = collections.deque(maxlen=TAIL_LINES)
    progress, contact = Progress(run, clock), Contact(run, poll_seconds, clock, patience)
    details: dict = {}
    status: str | None = None
    board.watch(run.run_id, run.job.experiment)
    try:
        while True:
            try:
                listed = board.status(run.run_id)
                ended = listed in TERMINAL
                unlisted_log = listed in WRITING and not primary_log(details.get("logFiles") or {})
                if listed is None or listed != status or ended or unlisted_log:
                    details = history.run_details(run.run_id)
                    ended = str(details.get("status")) in TERMINAL
                changed = str(details.get("status")) != status
                status = str(details.get("status"))
                lines = _new_lines(history, run.run_id, reader, details, ended)
                contact.back()
            except Exception as exc:
                sleep(contact.lost(exc))
                continue
            for line in lines:
                tail.append(line)
                sink(line)
            if ended:
                return details, tuple(tail)
            progress.saw(status)
            sleep(pause.next(changed or bool(lines)))
    finally:
        board.forget(run.run_id)


class Contact:
    """Contact with the service while following a run: a failed poll that may pass (translated: a
    TransientError) is waited out, said at the first, again every HEARTBEAT_SECONDS, and given up after the
    patience; any other failure ends the following at once. The run is never cancelled for either."""

    def __init__(self, run: RunHandle, poll_seconds: float, clock: Callable[[], float], patience: float | None):
        self.run, self.poll_seconds, self.clock = run, poll_seconds, clock
        self.patience = follow_patience(os.environ) if patience is None else patience
        self.since: float | None = None
        self.said = 0.0
        self.failures = 0

    def back(self) -> None:
        if self.since is not None:
            log.info("contact with Azure ML is back: following run %s again", self.run.name)
        self.since, self.failures = None, 0

    def lost(self, exc: Exception) -> float:
        """How long to wait before the next poll; the error that ends the following, raised."""
        error = translate(exc, f"following run {self.run.name!r}")
        if not isinstance(error, TransientError):
            raise error from exc
        now, self.failures, what = self.clock(), self.failures + 1, message_of(exc)
        if self.since is None:
            self.since = self.said = now
            log.warning(
                "lost contact with Azure ML while following run %s (%s); trying again for up to %.0f min: the run "
                "goes on meanwhile",
                self.run.name,
                what,
                self.patience / 60,
            )
        elif now - self.said >= HEARTBEAT_SECONDS:
            self.said = now
            lost = (now - self.since) / 60
            log.warning(
                "still no contact with Azure ML after %.0f min (%s); run %s is not cancelled", lost, what, self.run.name
            )
        if now - self.since >= self.patience:
            where = f": {self.run.url}" if self.run.url else ""
            raise WorkspaceError(
                f"lost contact with Azure ML for {(now - self.since) / 60:.0f} min while following run "
                f"{self.run.name!r} ({what}); the run was not cancelled and may still be running on Azure ML{where}; "
                "the next flow run re-attaches to it"
            ) from exc
        return max(retry_after(exc), min(60.0, self.poll_seconds * 2 ** min(self.failures, 8)))


def _new_lines(history, run_id: str, reader: LogReader, details: dict, final: bool) -> list[str]:
    """The primary log's lines not read yet; a URL the storage refuses (a SAS that expired) is asked for again
    with the run's details, once. Refused again, the log is given up with a WARNING, and the run followed by its
    status alone: a log nobody may read is no reason to stop watching a billed run."""
    name = primary_log(details.get("logFiles") or {})
    if not name or reader.refused:
        return []
    try:
        return reader.read(name, details["logFiles"][name], history.read_from, final)
    except Exception as exc:
        if status_code(exc) != 403:
            raise
    details.update(history.run_details(run_id))
    try:
        return reader.read(name, details["logFiles"][name], history.read_from, final)
    except Exception as exc:
        if status_code(exc) != 403:
            raise
        reader.refused = True
        log.warning(
            "the storage refused reading run %s's log (%s); its lines are not shown here, its status is followed",
            run_id,
            message_of(exc),
        )
        return []


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


def azure_outcome(
    run: RunHandle, details: dict, tail: tuple[str, ...], metrics: dict, stopped: bool, found_cancelling: bool = False
) -> RunResult:
    """The run's result, or the error that says how it ended (see the retry rules in workspaces/errors.py).
    `stopped`: this flow cancelled it; `found_cancelling`: it was CancelRequested when this flow attached to it."""
    name, status = run.name, str(details.get("status"))
    metrics = {key: float(last_value(value)) for key, value in (metrics or {}).items()}
    if status == "Completed":
        return finished_run(run, status, metrics, tail)
    raise run_error(name, status, details.get("error") or {}, tail, stopped, found_cancelling)


def run_error(
    name: str, status: str, error: dict, tail: tuple[str, ...], stopped: bool, found_cancelling: bool = False
) -> FlowError:
    if status == "Canceled":
        if stopped:
            return RunCancelled(f"training run {name!r} was cancelled because its flow was cancelled", name, tail)
        if found_cancelling:  # an earlier flow's stop, seen through: a Canceled run counts for nothing, train anew
            return TransientError(
                f"training run {name!r} was being cancelled when this flow found it (an earlier flow was stopped); "
                "it is Canceled now: retrying submits a new run"
            )
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
