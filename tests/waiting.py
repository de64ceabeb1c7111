"""Polls with a deadline, instead of fixed sleeps before asserting: as fast as the thing waited for, and a
clear failure (never a silently returned last value) when it does not happen in time."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], accept: Callable[[T], bool], timeout: float = 15.0, poll: float = 0.2) -> T:
    """`read()` again until `accept` takes its value; AssertionError with the last value once `timeout` passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not accepted within {timeout:g} s; last value read: {value!r}"[:3000])
        time.sleep(poll)


def wait_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "the condition") -> None:
    """Return once `condition()` is true; AssertionError naming `what` once `timeout` passed."""
    try:
        eventually(condition, bool, timeout, poll=0.1)
    except AssertionError:
        raise AssertionError(f"{what} did not happen within {timeout:g} s") from None
