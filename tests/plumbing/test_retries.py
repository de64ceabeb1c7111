"""The steps' retry back-off (plumbing/retries.py): 2 s, 4 s, 8 s by default, MNIST_FLOW_RETRY_BACKOFF to choose."""

import pytest

from plumbing.retries import first_delay, retrying


def test_the_first_delay_is_two_seconds_unless_the_environment_says_otherwise():
    assert first_delay({}) == 2.0 and first_delay({"MNIST_FLOW_RETRY_BACKOFF": ""}) == 2.0
    assert first_delay({"MNIST_FLOW_RETRY_BACKOFF": "0.5"}) == 0.5
    assert first_delay({"MNIST_FLOW_RETRY_BACKOFF": "0"}) == 0.0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "3601"])
def test_a_delay_that_is_no_number_of_seconds_is_refused_with_its_variable(value):
    with pytest.raises(ValueError, match=f"MNIST_FLOW_RETRY_BACKOFF='{value}': expected the seconds before"):
        first_delay({"MNIST_FLOW_RETRY_BACKOFF": value})


def test_each_retry_waits_twice_as_long_as_the_one_before(monkeypatch):
    monkeypatch.setenv("MNIST_FLOW_RETRY_BACKOFF", "0.5")
    assert retrying(retries=3)["retry_delay_seconds"](3) == [0.5, 1.0, 2.0]
    monkeypatch.delenv("MNIST_FLOW_RETRY_BACKOFF")
    assert retrying(retries=3)["retry_delay_seconds"](3) == [2.0, 4.0, 8.0]


def test_the_setting_reaches_the_steps_tasks_as_they_are_defined():
    """tests/conftest.py sets 0.1 before the tasks are imported, as a user's environment is set before the flow."""
    from tasks.download import download_mnist
    from tasks.register import register_best
    from tasks.training import submit_training

    assert download_mnist.task.retry_delay_seconds == [0.1, 0.2, 0.4]
    assert register_best.task.retry_delay_seconds == [0.1, 0.2, 0.4]
    assert submit_training.task.retry_delay_seconds == [0.1, 0.2]
