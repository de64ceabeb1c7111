"""Cancelling a flow's Azure ML runs when the flow is stopped, by whoever stops it, quickly and truthfully.

Prefect's runner gives a cancelled flow's process 30 seconds between its SIGTERM and its SIGKILL, and only then
runs the flow's on_cancellation hook, in another process. So the runs are cancelled all at once, not one after
another: every cancel request is sent in a thread of its own (a request that hangs holds only its own thread, and
is given up after CANCEL_SECONDS); then their statuses are asked for together, every CONFIRM_POLL_SECONDS, until
each is CancelRequested or over, or CONFIRM_SECONDS have passed. A run is cancelled once per process (the
command's way out asks again: it gets the same report, and no request is sent twice), and the report says which
runs were confirmed cancelling and which were not, with their studio links (stop_report.py).

Which runs: those the adapter follows or gave up following (in memory), and those the workspace's run history
holds under the flow run's tag (FLOW_RUN_TAG, given to every run in the request that creates it), which is how a
stop made in another process (the runner's hook) or a run created while the flow was stopping is reached.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from workspaces.azureml_common.errors import translate
from workspaces.stop_report import StopReport

log = logging.getLogger(__name__)
CANCEL_SECONDS = 10.0  # the longest a cancel request is waited for
CONFIRM_SECONDS = 15.0  # the longest the cancellations are waited to be taken (together: well inside the 30 s)
CONFIRM_POLL_SECONDS = 1.0
TAKEN = {"CancelRequested", "Canceled", "Completed", "Failed"}  # a cancel was taken, or nothing is left to cancel
WHERE = "on Azure ML"


@dataclass
class Cancellations:
    """The cancellations this process sent, and what was seen of them: the runs' names, links and experiments."""

    names: dict[str, str] = field(default_factory=dict)  # run id -> its name (reg-0.8)
    links: dict[str, str] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)
    sent: dict[str, None] = field(default_factory=dict)  # (in the order sent: the report's)
    confirmed: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # run id -> why its cancel could not be sent

    def report(self, run_ids: list[str]) -> StopReport:
        stopped = tuple(self.names.get(r, r) for r in run_ids if r in self.confirmed)
        unconfirmed = tuple(
            (self.names.get(r, r), self.links.get(r) or self.refused.get(r, ""))
            for r in run_ids
            if r not in self.confirmed
        )
        return StopReport(WHERE, stopped, unconfirmed)


def cancel_all(
    runs: Mapping[str, str],
    cancellations: Cancellations,
    send: Callable[[str], None],
    statuses: Callable[[str, list[str]], dict[str, str]],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> StopReport:
    """Cancel `runs` (run id -> experiment) with `send`, all at once, and see it taken through `statuses`
    (experiment, run ids -> their statuses); the report of every run this stop has cancelled, these and earlier
    ones (asked again on the way out, it says what the whole stop did)."""
    run_ids = list(runs)
    cancellations.experiments.update(runs)
    pending = [r for r in run_ids if r not in cancellations.sent]
    cancellations.sent.update(dict.fromkeys(pending))
    if pending:
        pool = concurrent.futures.ThreadPoolExecutor(len(pending), thread_name_prefix="azureml-cancel")
        futures = {run_id: pool.submit(send, run_id) for run_id in pending}
        concurrent.futures.wait(futures.values(), timeout=CANCEL_SECONDS)
        pool.shutdown(wait=False)  # a hung request keeps its thread; the others are not held by it
        for run_id, future in futures.items():
            if not future.done():
                cancellations.refused[run_id] = f"no answer to its cancel within {CANCEL_SECONDS:g} s"
            elif future.exception() is not None:
                error = translate(future.exception(), f"cancelling run {run_id}")  # type: ignore[arg-type]
                cancellations.refused[run_id] = str(error)
                log.warning("could not cancel run %s: %s", run_id, error)
    _confirm([r for r in run_ids if r not in cancellations.confirmed], cancellations, statuses, sleep, clock)
    return cancellations.report(list(dict.fromkeys([*cancellations.sent, *run_ids])))


def _confirm(run_ids, cancellations: Cancellations, statuses, sleep, clock) -> None:
    deadline = clock() + CONFIRM_SECONDS
    waiting = set(run_ids)
    while waiting:
        by_experiment: dict[str, list[str]] = {}
        for run_id in waiting:
            by_experiment.setdefault(cancellations.experiments[run_id], []).append(run_id)
        for experiment, ids in by_experiment.items():
            try:
                seen = statuses(experiment, sorted(ids))
            except Exception as exc:  # (a failed look is one look less)
                log.info("could not see the cancelled runs' statuses (%s); looking again", translate(exc, "looking"))
                continue
            taken = {run_id for run_id, status in seen.items() if status in TAKEN}
            cancellations.confirmed |= taken
            waiting -= taken
        if not waiting or clock() >= deadline:
            break
        sleep(CONFIRM_POLL_SECONDS)
    for run_id in waiting:
        log.warning(
            "run %s was asked to cancel, but has not been seen doing so; it may still run and bill: cancel it in "
            "the studio%s",
            cancellations.names.get(run_id, run_id),
            f": {cancellations.links[run_id]}" if cancellations.links.get(run_id) else "",
        )
