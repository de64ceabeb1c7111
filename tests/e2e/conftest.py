"""A real Prefect stack for the end-to-end tests: `prefect server start` on a free port of 127.0.0.1 with its
own PREFECT_HOME, the work pool, `prefect deploy --all` from the project, and a process worker started in an
empty folder; all stopped at the end (the worker stops on SIGINT, not SIGTERM)."""

import json
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from plumbing.prefect_server import PREFECT, PrefectServer, stop_process_group
from tests.conftest import PROJECT

POOL = "mnist-local"  # the work pool prefect.yaml names


@dataclass
class PrefectStack:
    env: dict[str, str]
    url: str  # the UI's address; the API is under /api
    logs: Path

    def prefect(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PREFECT, *args], env=self.env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout
        )

    def run_deployment(self, name: str, params: dict, *flags: str) -> subprocess.CompletedProcess:
        """`prefect deployment run NAME --param params=...` with the fields `params` of the flow's parameter."""
        return self.prefect("deployment", "run", name, "--param", f"params={json.dumps(params)}", *flags)

    def run_deployment_and_watch(self, name: str, params: dict) -> subprocess.CompletedProcess:
        return self.run_deployment(name, params, "--watch", "--watch-timeout", "400")


def seam_path() -> str:
    """PYTHONPATH for a process that may reach a fake of Azure ML: the seam's folder, and the project (the seam
    imports the fakes from tests/, which is not installed)."""
    return os.pathsep.join([str(PROJECT / "tests" / "e2e" / "seam"), str(PROJECT)])


def start(command: list[str], env: dict, log: Path, cwd: Path = PROJECT) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def require_one_worker(request) -> None:
    """The e2e tests share one stack, so `make test` (`--dist loadgroup`) keeps them in one worker (xdist_group).
    pytest-xdist groups a test by appending `@group` to its node id; with pytest 9.2 that no longer takes, the
    tests scatter and each worker starts a stack of its own, 2 minutes each. Fail instead of paying unnoticed."""
    if getattr(request.config.option, "loadgroup", False):
        scattered = [
            item.nodeid
            for item in request.session.items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
        ]
        if scattered:
            pytest.fail(
                f"pytest-xdist did not keep {scattered[0]} in its group: this pytest and pytest-xdist do not "
                "work together; install the pinned versions (requirements/constraints.txt)",
                pytrace=False,
            )


@pytest.fixture(scope="package")
def prefect_stack(tmp_path_factory, request) -> PrefectStack:
    require_one_worker(request)
    folder = tmp_path_factory.mktemp("prefect-stack")
    auth = f"mnist:{secrets.token_urlsafe(16)}"  # the team path: the server refuses a client without it
    settings = {"PREFECT_SERVER_API_AUTH_STRING": auth, "PREFECT_API_AUTH_STRING": auth}
    # deployment runs may use the tests' temporary folders, and only those (plus the project)
    roots = os.pathsep.join([str(tmp_path_factory.getbasetemp()), str(PROJECT)])
    with PrefectServer(folder, PREFECT_WORKER_QUERY_SECONDS="1", MNIST_FLOW_ALLOWED_ROOTS=roots, **settings) as server:
        stack = PrefectStack(env=server.env, url=server.url, logs=folder)
        for command in (["work-pool", "create", POOL, "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            result = stack.prefect(*command)
            assert result.returncode == 0, result.stdout + result.stderr
        # the worker starts in an empty folder: the pull step (prefect.yaml) says where each run's code is
        elsewhere = folder / "worker-folder"
        elsewhere.mkdir()
        # the seam (tests/e2e/seam/sitecustomize.py) in every process the worker starts: a run that names a fake of
        # Azure ML (MNIST_FLOW_TEST_AZURE, a job variable) reaches it; any other run is untouched
        worker_env = {**server.env, "PYTHONPATH": seam_path()}
        worker = start([PREFECT, "worker", "start", "--pool", POOL], worker_env, folder / "worker.log", elsewhere)
        try:
            yield stack
        finally:
            stop_process_group(worker, signal.SIGINT)  # the worker stops on SIGINT, not SIGTERM


@pytest.fixture(scope="package")
def tiny_run_parameters(tmp_path_factory) -> dict:
    from tests.idx_files import write_tiny_mnist

    mirror = tmp_path_factory.mktemp("e2e-mirror")
    return {
        "dataset": write_tiny_mnist(mirror),
        "mirrors": [str(mirror)],
        "regularization": [0.8, 0.4],
        "workspace_dir": str(tmp_path_factory.mktemp("e2e-workspace") / "ws"),
        "max_nodes": 2,
    }


def client_settings(stack) -> dict:
    return {
        PREFECT_API_URL: stack.env["PREFECT_API_URL"],
        PREFECT_API_AUTH_STRING: stack.env["PREFECT_API_AUTH_STRING"],
    }


def latest_flow_run(stack):
    with temporary_settings(client_settings(stack)), get_client(sync_client=True) as client:
        return client.read_flow_runs(limit=1, sort="EXPECTED_START_TIME_DESC")[0]


def on(stack, read, *args, **kwargs):
    """A tests/prefect_api.py reader, pointed at the stack's server."""
    with temporary_settings(client_settings(stack)):
        return read(*args, **kwargs)


@pytest.fixture(scope="package")
def completed_runs(prefect_stack, tiny_run_parameters) -> list:
    """The local deployment run twice with the same parameters: the second is all cached."""
    runs = []
    for _ in range(2):
        result = prefect_stack.run_deployment_and_watch("mnist-training/local", tiny_run_parameters)
        assert result.returncode == 0, result.stdout[-3000:] + (prefect_stack.logs / "worker.log").read_text()[-3000:]
        runs.append(latest_flow_run(prefect_stack))
    return runs
