"""Cancelling a stopped flow's Azure ML runs (workspaces/azureml_common/stopping.py), on the plain function: all
cancel requests at once, a hung one holding none of the others, confirmation seen for all together, a request
sent once however often the flow's way out asks, and one line that says what was and was not confirmed."""

import threading

import pytest

from workspaces.azureml_common import stopping
from workspaces.azureml_common.stopping import Cancellations, cancel_all
from workspaces.stop_report import StopReport

FOUR = {f"run-{n}": "sklearn-mnist" for n in range(4)}


class Service:
    """Runs that take a cancel: CancelRequested once asked, as Azure ML answers."""

    def __init__(self):
        self.asked: list[str] = []
        self.cancelling: set[str] = set()
        self.lock = threading.Lock()

    def send(self, run_id: str) -> None:
        with self.lock:
            self.asked.append(run_id)
            self.cancelling.add(run_id)

    def statuses(self, experiment: str, run_ids: list[str]) -> dict[str, str]:
        return {r: "CancelRequested" if r in self.cancelling else "Running" for r in run_ids}


def named(cancellations: Cancellations) -> Cancellations:
    cancellations.names.update({run_id: f"reg-0.{n}" for n, run_id in enumerate(FOUR)})
    cancellations.links.update({run_id: f"https://ml.azure.com/runs/{run_id}" for run_id in FOUR})
    return cancellations


def test_every_cancel_is_sent_at_once_and_each_confirmed():
    """The four requests meet at a barrier of four: sent one after another (as they were, with up to 150 s of
    status looks after each), the first would wait there alone and fail."""
    service, barrier = Service(), threading.Barrier(len(FOUR), timeout=5)

    def send(run_id: str) -> None:
        barrier.wait()
        service.send(run_id)

    report = cancel_all(FOUR, named(Cancellations()), send, service.statuses)
    assert sorted(service.asked) == sorted(FOUR)
    assert report == StopReport("on Azure ML", ("reg-0.0", "reg-0.1", "reg-0.2", "reg-0.3"), ())
    assert report.line() == "the 4 training runs on Azure ML were cancelled (each confirmed CancelRequested or ended)"


def test_a_hung_or_refused_cancel_holds_none_of_the_others_and_is_named_with_its_link(monkeypatch):
    monkeypatch.setattr(stopping, "CANCEL_SECONDS", 0.5)
    monkeypatch.setattr(stopping, "CONFIRM_SECONDS", 0.5)
    service, released = Service(), threading.Event()

    def send(run_id: str) -> None:
        if run_id == "run-0":
            released.wait(10)  # no answer: SDK v1 posts a cancel with no timeout
        if run_id == "run-1":
            raise PermissionError("the identity may not cancel runs")
        service.send(run_id)

    try:
        report = cancel_all(FOUR, named(Cancellations()), send, service.statuses, sleep=lambda s: None)
    finally:
        released.set()
    assert report.stopped == ("reg-0.2", "reg-0.3")
    assert report.line() == (
        "2 of 4 training runs on Azure ML were cancelled; not confirmed: reg-0.0 (https://ml.azure.com/runs/run-0); "
        "reg-0.1 (https://ml.azure.com/runs/run-1): they may still run and bill: cancel them in the studio"
    )


def test_asked_again_on_the_way_out_nothing_is_sent_twice_and_the_report_is_the_same():
    service, cancellations = Service(), named(Cancellations())
    first = cancel_all(FOUR, cancellations, service.send, service.statuses)
    again = cancel_all(FOUR, cancellations, service.send, service.statuses)
    assert len(service.asked) == 4 and first == again


@pytest.mark.parametrize(
    ("report", "line"),
    [
        (StopReport(), "no training run was running"),
        (StopReport("on Azure ML"), "no training run was running on Azure ML"),
        (StopReport(stopped=("a", "b")), "the training runs were stopped and marked KILLED"),
        (
            StopReport("on Azure ML", ("reg-0.8",)),
            "the training run on Azure ML was cancelled (confirmed CancelRequested or ended)",
        ),
    ],
)
def test_the_line_never_says_cancelled_of_a_run_not_confirmed(report, line):
    assert report.line() == line
