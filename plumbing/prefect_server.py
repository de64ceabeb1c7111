"""`prefect server start` on a free port of 127.0.0.1, with its own PREFECT_HOME and database, waited for until
it answers and stopped at the end: the benchmarks run every flow against one, and so do the end-to-end tests.
Binding to 127.0.0.1 keeps it off the network; analytics are off (nothing leaves the machine)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process_group(process: subprocess.Popen, sig: int = signal.SIGINT, grace: float = 30) -> None:
    """Send `sig` to the process's group (Prefect's server and worker stop cleanly on SIGINT), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class PrefectServer:
    """A context manager: `env` is the environment that points a client (a flow, a worker, the CLI) at it."""

    def __init__(self, folder: Path, startup_seconds: float = 180, **settings: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"  # the UI; the API is under /api
        self.api_url = f"{self.url}/api"
        self.startup_seconds = startup_seconds
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(self.folder / "home"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **settings,
        }
        self.log = self.folder / "prefect-server.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "PrefectServer":
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [PREFECT, "server", "start"], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"prefect server not healthy after {self.startup_seconds:g} s:\n{self.tail()}")

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            stop_process_group(self.process, signal.SIGINT, grace=60)
