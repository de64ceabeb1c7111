"""Polling Azure ML at a cost that does not grow with the number of runs a flow follows.

A flow follows its runs in parallel, one task (one thread) each. Asked one by one, N runs cost N run-history
requests per interval, and a sweep of 64 is throttled by its own polling. So:
- `StatusBoard`: the statuses of all the runs an adapter follows, asked for in one query (the run history's
  `runs:query` filtered on their ids, as the SDK's `get_runs_by_run_ids` writes it) at most once per interval,
  whoever asks; a follower asks for its run's details (its log's URL, its error) only when its status changed;
- `LogReader`: each log file read from the byte where the last read ended (an HTTP Range), so a log is read once;
- `Backoff`: the pause between two polls grows while nothing changes (no new line, no new status) and is back
  to the adapter's interval at the first change; a 429's Retry-After is waited out whatever the pause.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from workspaces.azureml_common.errors import translate
from workspaces.errors import FlowError, TransientError

log = logging.getLogger(__name__)

GROWTH = 1.5  # the pause grows by this while nothing changes ...
LONGEST = 6  # ... up to this many intervals (SDK v1: 30 s, SDK v2: 60 s)
LONGEST_SECONDS = 60.0
RETRY_AFTER_LONGEST = 300.0  # a Retry-After beyond this is taken for this (a following that gives up sooner says so)


class StatusBoard:
    """The statuses of the runs being followed, refreshed with one query per experiment, at most once an interval.
    A run the answer leaves out is not known until an answer lists it again (its follower asks for its details:
    SDK v1's pager drops hidden runs, v2 entries may be malformed), never left at its last listed status.
    A refresh that failed is not tried again before the interval is over: its error is given to each asker. A query
    the service refuses (a 4xx: an operation it does not answer for these runs, a permission it lacks) is given up
    for good, with one WARNING: each follower asks for its run's details instead, what azure-ai-ml's own
    `jobs.stream` polls (one request per run an interval rather than one for all)."""

    def __init__(
        self, query: Callable[[str, list[str]], dict[str, str]], interval: Callable[[], float], clock=time.monotonic
    ):
        self.query, self.interval, self.clock = query, interval, clock
        self.watched: dict[str, str] = {}  # run id -> its experiment
        self.known: dict[str, str] = {}
        self.asked_at = float("-inf")
        self.failure: Exception | None = None
        self.refused: FlowError | None = None
        self.lock = threading.Lock()

    def watch(self, run_id: str, experiment: str) -> None:
        with self.lock:
            self.watched[run_id] = experiment

    def forget(self, run_id: str) -> None:
        with self.lock:
            self.watched.pop(run_id, None)
            self.known.pop(run_id, None)

    def status(self, run_id: str) -> str | None:
        """The run's status as of at most one interval ago; None while the board has not listed it (a run watched
        since the last query, one the listing does not show, or every run once the query was refused: its follower
        asks for its details instead, as it does at its first poll anyway)."""
        with self.lock:
            if self.refused is None and self.clock() - self.asked_at >= self.interval():
                self._refresh()
            if self.failure is not None:
                raise self.failure
            return self.known.get(run_id)

    def _refresh(self) -> None:
        self.asked_at, self.failure = self.clock(), None
        by_experiment: dict[str, list[str]] = {}
        for run_id, experiment in self.watched.items():
            by_experiment.setdefault(experiment, []).append(run_id)
        try:
            for experiment, run_ids in by_experiment.items():
                listed = self.query(experiment, sorted(run_ids))
                for run_id in run_ids:  # (one left out is not known: it is not kept at its last status)
                    if run_id in listed:
                        self.known[run_id] = listed[run_id]
                    else:
                        self.known.pop(run_id, None)
        except Exception as exc:
            error = translate(exc, "listing the statuses of the runs followed")
            if isinstance(error, TransientError):
                self.failure = exc
                return
            self.refused, self.known = error, {}
            log.warning("%s; each run's details are asked for instead, one request per run an interval", error)


class LogReader:
    """A run's log files, each read from where the last read ended; complete lines only (a line still being
    written is kept until its end arrives, or the run ends)."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.pending: dict[str, bytes] = {}
        self.refused = False  # the storage refused the log even with a new URL: it is not read again

    def read(self, name: str, url: str, read_from: Callable[[str, int], bytes], final: bool = False) -> list[str]:
        start = self.offsets.get(name, 0)
        data = read_from(url, start)
        self.offsets[name] = start + len(data)
        text = self.pending.get(name, b"") + data
        *lines, rest = text.split(b"\n")
        if final and rest:
            lines, rest = [*lines, rest], b""
        self.pending[name] = rest
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]


class Backoff:
    """The pause before the next poll: the interval after a change, growing by GROWTH while nothing changes."""

    def __init__(self, interval: float):
        self.interval = interval
        self.longest = max(interval, min(LONGEST_SECONDS, LONGEST * interval))
        self.pause = interval

    def next(self, changed: bool) -> float:
        self.pause = self.interval if changed else min(self.longest, self.pause * GROWTH)
        return self.pause


def retry_after(exc: BaseException) -> float:
    """The seconds a throttled answer asks to wait (its Retry-After header, in seconds or as a date), or 0: read
    from azure-core's HttpResponseError (`response.headers`) or the SDK v1's ServiceException
    (`response_headers`)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or getattr(exc, "response_headers", None)
    cause = exc.__cause__
    if not headers and cause is not None and cause is not exc:
        return retry_after(cause)
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:  # an HTTP date; anything else is an answer not understood: no wait beyond the back-off
            seconds = (email.utils.parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            seconds = 0.0
    return max(0.0, min(RETRY_AFTER_LONGEST, seconds))
