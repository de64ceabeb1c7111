"""Prefect servers this project starts itself, each on a free port of 127.0.0.1 (nothing reaches the network), in
a session of its own, waited for until it answers and stopped at the end:

- `PrefectServer`: `prefect server start` (UI and services) with its own PREFECT_HOME and database; the benchmarks
  and the end-to-end tests run every flow against one.
- `TemporaryServer`: what Prefect itself starts when no PREFECT_API_URL is set (its "temporary server": the API on
  the user's own database, no UI), started by the command line instead, so that the command owns it. Prefect
  starts its own as a child in the command's process group: a terminal's Ctrl-C (sent to the whole foreground
  group) killed it behind the flow's back, and the flow then spent minutes retrying it; SIGTERM and SIGHUP left it
  running as an orphan. In a session of its own no terminal signal reaches it, the kernel stops it if the command
  dies (PR_SET_PDEATHSIG), and the command stops it on every way out, once Prefect's logs and events are sent.
"""

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PREFECT = str(Path(sys.executable).with_name("prefect"))
PR_SET_PDEATHSIG = 1


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


def wait_until_healthy(process: subprocess.Popen, api_url: str, seconds: float, tail=lambda: "") -> None:
    """Return once `api_url`/health answers 200; RuntimeError if the process exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited ({process.returncode}):\n{tail()}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"prefect server not healthy after {seconds:g} s:\n{tail()}")


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
            wait_until_healthy(self.process, self.api_url, self.startup_seconds, self.tail)
        except BaseException:
            self.__exit__()
            raise
        return self

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            stop_process_group(self.process, signal.SIGINT, grace=60)


def _die_with(command: int) -> None:
    """In the server's process before it runs: the kernel sends it SIGTERM when the command dies, however it dies
    (the command's main thread starts it, and that thread lives as long as the command)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the command's own stop still ends it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != command:  # it died before the request
        os._exit(1)


class TemporaryServer:
    """The command's temporary Prefect server (see the module docstring). `start_unless_configured` starts it, and
    points this process's Prefect at it, only where Prefect would have started its own."""

    running: "TemporaryServer | None" = None  # the one this command started, until it is stopped

    def __init__(self, settings: dict[str, str]):
        import prefect

        self.api_url = f"http://127.0.0.1:{free_port()}/api"
        port = self.api_url.rsplit(":", 1)[1].split("/")[0]
        env = {**os.environ, **settings, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
        env |= {"PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)
        app = ["--factory", "prefect.server.api.server:create_app", "--lifespan", "on", "--log-level", "error"]
        self.process = subprocess.Popen(  # the command Prefect runs for its own (prefect/server/api/server.py)
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parents[1]), *app]
            + ["--host", "127.0.0.1", "--port", port],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no terminal signal reaches it: the command stops it
            preexec_fn=functools.partial(_die_with, os.getpid()),
        )

    @classmethod
    def start_unless_configured(cls) -> "TemporaryServer | None":
        """Start it when Prefect has no API URL (environment, profile) and may start a temporary server; it boots
        while the flow's modules load. Prefect's settings are then reloaded to point at it."""
        from prefect.context import refresh_global_settings_context
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if settings.api.url or not settings.server.ephemeral.enabled or cls.running is not None:
            return None
        settings.home.mkdir(parents=True, exist_ok=True)  # its database's folder (Prefect makes it later, lazily)
        cls.running = cls(settings.to_environment_variables(exclude_unset=True))
        os.environ["PREFECT_API_URL"] = cls.running.api_url
        refresh_global_settings_context()
        return cls.running

    def wait_until_healthy(self) -> None:
        from prefect.settings import get_current_settings

        seconds = get_current_settings().server.ephemeral.startup_timeout_seconds
        wait_until_healthy(self.process, self.api_url, seconds)

    def stop(self) -> None:
        """Deliver what Prefect still holds for it (run logs, events), then stop it."""
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        if self.process.poll() is None:
            with contextlib.suppress(Exception):  # nothing to send them to if it died
                APILogWorker.drain_all(timeout=5)
                EventsWorker.drain_all(timeout=5)
        stop_process_group(self.process, signal.SIGTERM, grace=5)
        TemporaryServer.running = None

    @classmethod
    def kill_running(cls) -> None:
        """At once: a second Ctrl-C does not wait for anything."""
        if cls.running is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cls.running.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def owned_temporary_server() -> Iterator[None]:
    """Around a flow run of the command: the temporary server started for it (if any) answers before the flow
    starts, and is stopped when it ends, whichever way it ends."""
    server = TemporaryServer.running or TemporaryServer.start_unless_configured()
    if server is None:
        yield
        return
    try:
        server.wait_until_healthy()
        yield
    finally:
        server.stop()
