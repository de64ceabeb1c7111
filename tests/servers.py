"""Real server processes on 127.0.0.1 for the tests: started on a free port, waited for, stopped with their
children (a server that forks workers leaves none behind)."""

import contextlib
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from plumbing.prefect_server import free_port, stop_process_group
from tests.waiting import wait_until

__all__ = ["free_port", "serving"]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def serving(
    command: Sequence[str], ready_url: str, log: Path, env: dict | None = None, timeout: float = 90, grace: float = 20
) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group until the block ends; yield once `ready_url` answers 200. It is
    stopped with SIGTERM, and SIGKILLed if it has not ended `grace` seconds later."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
        )
    try:
        wait_until(lambda: answers(ready_url) or process.poll() is not None, timeout, f"{command[0]} answering")
        assert process.poll() is None, f"{' '.join(command)} exited {process.returncode}:\n{log.read_text()[-3000:]}"
        yield process
    finally:
        stop_process_group(process, signal.SIGTERM, grace=grace)
