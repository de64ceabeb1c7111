"""Fixtures shared by the suite: an isolated Prefect (own PREFECT_HOME and server), tiny MNIST-shaped data
served by a real HTTP server on 127.0.0.1, and a fresh workspace folder per test. Nothing reaches the internet."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings when first imported: isolate them before any test module imports it
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="mnist-flow-prefect-home-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
# the Azure ML SDK v1 reads its retry back-off from these when it loads (azureml/_restclient/clientbase.py): its
# own retries run against the HTTP fake without their sleeps (32 s and more for a 429, up to 10 s for a 503)
os.environ |= {"AZUREML_DEFAULT_BACKOFF": "0", "AZUREML_DEFAULT_500_BACKOFF": "0", "AZUREML_DEFAULT_503_BACKOFF": "0"}
# and the flow's steps read theirs when their tasks are defined (plumbing/retries.py): a retried step waits a tenth
# of a second, then a fifth ..., not 2, 4 and 8 s (tests/plumbing/test_retries.py checks the setting reaches them)
os.environ["MNIST_FLOW_RETRY_BACKOFF"] = "0.1"
for variable in (
    "MNIST_MIRROR",
    "MNIST_FLOW_WORKSPACE",
    "AML_COMPUTE_CLUSTER_NAME",
    "AML_COMPUTE_CLUSTER_MIN_NODES",
    "AML_COMPUTE_CLUSTER_MAX_NODES",
    "AML_COMPUTE_CLUSTER_SKU",
    "PREFECT_API_URL",
):
    os.environ.pop(variable, None)

from tests.idx_files import write_tiny_mnist  # noqa: E402
from tests.mirror_server import MirrorServer  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
SHARED_MNIST = PROJECT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """One Prefect server for the session (a subprocess on 127.0.0.1 with a temporary database)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> tuple[Path, dict]:
    """A folder holding tiny MNIST-shaped files under MNIST's names, and their dataset description."""
    folder = tmp_path_factory.mktemp("tiny-mirror")
    return folder, write_tiny_mnist(folder)


@pytest.fixture
def mirror(tiny_data) -> MirrorServer:
    with MirrorServer(tiny_data[0]) as server:
        yield server


@pytest.fixture
def training_copy(tmp_path) -> Path:
    """A copy of training/ that a test may edit (a run script that fails, is killed, ...)."""
    folder = tmp_path / "training"
    shutil.copytree(PROJECT / "training", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture
def hold(tmp_path) -> Path:
    """A file a run's script waits on while it exists (tests/flows/flow_runs.py: held_while); gone at the test's
    end, failed or not, so no run waits on."""
    path = tmp_path / "hold"
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def subprocess_env(prefect_api) -> dict[str, str]:
    """The environment for a flow started as a command: the session's Prefect server, no stray settings."""
    return {**os.environ, "PREFECT_API_URL": prefect_api}


@pytest.fixture
def azure_config(tmp_path) -> Path:
    """A config.json as the Azure portal gives it (the ids are made up)."""
    path = tmp_path / "config.json"
    path.write_text(
        '{"subscription_id": "00000000-1111-2222-3333-444444444444", "resource_group": "rg-mnist", '
        '"workspace_name": "ws-mnist"}'
    )
    return path


@pytest.fixture
def fake_azure(tmp_path, azurite, monkeypatch):
    """Azure ML faked at the HTTP level for SDK v1 (tests/workspaces/azureml_v1/fake_azureml.py): the real
    azureml-core reaches it through the urllib3 seam (http_seam.py), polling fast; blobs go to Azurite."""
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")
    from azureml._vendor.azure_storage.blob._shared.policies import ExponentialRetry

    from tests.workspaces.azureml_v1 import http_seam
    from tests.workspaces.azureml_v1.fake_azureml import FakeAzureMLv1

    fake = FakeAzureMLv1(tmp_path / "azure", azurite)
    monkeypatch.setattr("workspaces.azureml_v1.workspace.make_sdk", lambda ref: http_seam.connect_to_fake(fake.port))
    # the SDK's datastore builds its storage client itself, with its copy of azure-storage-blob's retries (15 s,
    # then 3 + 15 s, ...): the same three tries, from 0.2 s (the SDK v2 fake gives its storage clients the same)
    monkeypatch.setattr(ExponentialRetry.__init__, "__defaults__", (0.2, 1.5, 3, False, 0.1))
    monkeypatch.setattr("workspaces.azureml_v1.workspace.AzureMLWorkspace.poll_seconds", 0.2)
    yield fake
    fake.stop_every_run()  # its runs outlive flows, as Azure's do; not the test
    http_seam.undo()
    fake.close()
    assert fake.unanswered == [], "the SDK asked the fake what it does not answer: a gap of the fake"


# Fixtures that make a test slow: a Prefect server (every flow), a process or a server of its own, Azurite, a
# workspace whose runs are processes (the contract suite's, the local adapter's)
SLOW_FIXTURES = {
    "prefect_api",
    "prefect_stack",
    "subprocess_env",
    "azurite",
    "mlflow_server",
    "small_disk",
    "browser",
    "workspace",
    "flow",
    "azure_flow",
    "azure_v2_flow",
    "azure",
    "processes",
}
AZURE_HTTP_FIXTURES = {"fake_azure", "fake_azure_v2", "azurite", "azure_flow", "azure_v2_flow", "azure"}


@pytest.fixture
def processes():
    """Asked for by a test that starts OS processes of its own without another fixture of SLOW_FIXTURES (a
    command, a fork server, a pseudo-terminal, pip): it puts the test in the slow tier, and does nothing else."""


def pytest_collection_modifyitems(items):
    """Tiers by the fixtures a test uses (their closure: `flow` brings `prefect_api`), never by hand: a test of a
    fake Azure ML service (either SDK's, over HTTP, with Azurite) is marked azure_http; one that needs a Prefect
    server, a process or a server of its own is marked slow. `make test-fast` is `-m "not slow"` (and not mnist,
    e2e or browser)."""
    for item in items:
        # the fixtures it names, and those a parameter names (a test that takes its flow by request.getfixturevalue)
        params = getattr(getattr(item, "callspec", None), "params", {})
        used = set(getattr(item, "fixturenames", ())) | {v for v in params.values() if isinstance(v, str)}
        if AZURE_HTTP_FIXTURES & used:
            item.add_marker(pytest.mark.azure_http)
        if SLOW_FIXTURES & used:
            item.add_marker(pytest.mark.slow)


def flow_runner(mirror, tiny_data, tmp_path, **backend):
    """Runs the real flow in this process on tiny data and `backend`'s workspace: its final state."""
    from tests.flows.flow_runs import run_flow

    defaults = {"workspace_dir": str(tmp_path / "ws"), "mirrors": [mirror.url], "dataset": tiny_data[1], "max_nodes": 2}
    return lambda **arguments: run_flow(**{**defaults, **backend, **arguments})


@pytest.fixture
def flow(prefect_api, mirror, tiny_data, tmp_path):
    """Run the real flow in this process on the local workspace and tiny data: its final state."""
    return flow_runner(mirror, tiny_data, tmp_path)


@pytest.fixture(scope="session")
def trained_template(prefect_api, tiny_data, tmp_path_factory):
    """A local workspace the real flow trained on the tiny data, once per session (once per pytest worker), kept
    pristine beside it; and the flow's result (the registered champion)."""
    from tests.flows.flow_runs import run_flow

    folder = tmp_path_factory.mktemp("trained")
    with MirrorServer(tiny_data[0]) as server:
        state = run_flow(workspace_dir=str(folder / "ws"), mirrors=[server.url], dataset=tiny_data[1], max_nodes=2)
    assert state.is_completed(), state.message
    shutil.copytree(folder / "ws", folder / "pristine", symlinks=True)
    return folder, state.result()


@pytest.fixture
def trained_workspace(trained_template) -> Path:
    """For a test that needs a trained workspace but not its training: the session's, restored as the flow left
    it before each test, at the path it was trained at (its run history and registry record absolute paths), so
    the test may change it as it likes. Its champion: `trained_champion`."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    import workspaces

    folder, _ = trained_template
    # this process keeps the workspace's adapter open (workspaces/__init__.py) and MLflow a store per database URI,
    # both with connections to the registry's file, which is replaced below: they are let go, and open it anew
    for ref in [ref for ref in workspaces._open if str(folder) in str(ref.directory)]:
        workspaces._open.pop(ref)
    for registry in (TrackingStoreRegistry, ModelRegistryStoreRegistry):
        registry._get_store_with_resolved_uri.cache_clear()
    for store in (TrackingStore, RegistryStore):  # and an engine per URI, which the stores share
        for uri in [uri for uri in store._engine_map if str(folder) in uri]:
            store._engine_map.pop(uri).dispose()
    shutil.rmtree(folder / "ws", ignore_errors=True)
    shutil.copytree(folder / "pristine", folder / "ws", symlinks=True)
    return folder / "ws"


@pytest.fixture
def trained_champion(trained_template, trained_workspace):
    """The registered champion of `trained_workspace` (the flow's result)."""
    return trained_template[1]


@pytest.fixture
def azure_flow(prefect_api, mirror, tiny_data, tmp_path, fake_azure, azure_config):
    """Run the real flow in this process with --backend azureml against the HTTP fake of Azure ML (SDK v1)."""
    return flow_runner(mirror, tiny_data, tmp_path, backend="azureml", workspace_config=str(azure_config))


AZURITE = PROJECT / ".venv" / "azurite" / "node_modules" / ".bin" / "azurite-blob"  # make test installs it


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> str:
    """Azurite, Microsoft's storage emulator, serving blobs on 127.0.0.1 (its account devstoreaccount1). Missing
    (no Node.js here), the tests that need it skip with that reason, except under CI=true, where it is a failure."""
    import socket
    import subprocess
    import time

    if not AZURITE.exists():
        message = f"no Azurite at {AZURITE} (make test installs it with npm, which this machine lacks)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("azurite")
    command = [
        str(AZURITE),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(folder),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
    ]
    with open(folder / "azurite.log", "wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, (folder / "azurite.log").read_text()
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/devstoreaccount1"
    process.kill()  # its state is a temporary folder: nothing to close properly (and it ignores SIGTERM a while)
    process.wait(timeout=30)


@pytest.fixture
def fake_azure_v2(tmp_path, azurite, monkeypatch):
    """Azure ML faked at the HTTP level (tests/workspaces/azureml_v2/fake_service.py) behind the SDK v2 adapter's
    seam: the real azure-ai-ml sends every request through it; blobs go to Azurite."""
    pytest.importorskip("azure.ai.ml", reason="the `azure-v2` extra is not installed (make install-azure-v2)")
    from tests.workspaces.azureml_v2.fake_service import FakeAzureML, connect_to_fake

    fake = FakeAzureML(tmp_path / "azure-v2", azurite)
    monkeypatch.setattr("workspaces.azureml_v2.workspace.make_client", lambda ref: connect_to_fake(fake))
    monkeypatch.setattr("workspaces.azureml_v2.workspace.AzureMLv2Workspace.poll_seconds", 0.2)
    yield fake
    fake.stop_every_run()


@pytest.fixture(params=["azureml", "azureml-v2"])
def azure(request, tmp_path):
    """Either Azure adapter over its HTTP fake (tests/workspaces/azure.py), for a test that holds for both."""
    from tests.workspaces.azure import Azure

    return Azure(request.param, request, tmp_path)


@pytest.fixture
def azure_v2_flow(prefect_api, mirror, tiny_data, tmp_path, fake_azure_v2, azure_config):
    """Run the real flow in this process with --backend azureml-v2 against the fake service."""
    return flow_runner(mirror, tiny_data, tmp_path, backend="azureml-v2", workspace_config=str(azure_config))
