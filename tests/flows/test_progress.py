"""The training progress artifact (tasks/training.py wait_for_runs): one update per run that ends on its own, one
for runs that end together (a cached flow's sixteen end at once), and it always reaches 100."""

import threading

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

import tasks.training
from tasks.training import wait_for_runs


def progress_of(monkeypatch, release=lambda percent: None) -> list[float]:
    """Each percent the artifact was updated with, in order; `release(percent)` is called after each one."""
    shown: list[float] = []
    real = tasks.training.show_progress

    def recorded(artifact, percent):
        real(artifact, percent)
        shown.append(percent)
        release(percent)

    monkeypatch.setattr(tasks.training, "show_progress", recorded)
    return shown


@task
def run_ending_when(gate: threading.Event, number: int) -> int:
    assert gate.wait(60), "the test never let this run end"
    return number


@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def runs_ending(gates: list[threading.Event], before_waiting: bool) -> list[int]:
    futures = [run_ending_when.submit(gate, number) for number, gate in enumerate(gates)]
    if before_waiting:
        for future in futures:
            future.wait()
    return wait_for_runs(futures)


def test_runs_that_ended_together_are_one_update_to_100(prefect_api, monkeypatch):
    shown = progress_of(monkeypatch)
    gates = [threading.Event() for _ in range(4)]
    for gate in gates:
        gate.set()
    assert runs_ending(gates, before_waiting=True) == [0, 1, 2, 3]
    assert shown == [100.0]


def test_runs_that_end_one_by_one_are_an_update_each(prefect_api, monkeypatch):
    gates = [threading.Event() for _ in range(4)]
    shown = progress_of(monkeypatch, release=lambda percent: percent < 100 and gates[int(percent // 25)].set())
    gates[0].set()  # each next run ends only once the last one's update was shown
    assert runs_ending(gates, before_waiting=False) == [0, 1, 2, 3]
    assert shown == [25.0, 50.0, 75.0, 100.0]
