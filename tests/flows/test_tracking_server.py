"""A team's shared run history and registry: the local workspace with `--tracking-uri` pointing at a real
`mlflow server` (its own SQLite store and artifact root in a temporary folder, `--serve-artifacts`) on 127.0.0.1.
Two workspace folders share it: each has its own cache and datastore; the history and the registry are one, so
"never twice" adopts the other folder's finished run, and the champion rule holds across both."""

import shutil
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from flows.score import mnist_scoring
from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import log_lines, task_states
from tests.servers import free_port, serving
from workspaces.errors import DataError
from workspaces.local.workspace import LocalWorkspace

MLFLOW = str(Path(sys.executable).parent / "mlflow")


def server_command(folder: Path, port: int, *app: str) -> list[str]:
    return [
        MLFLOW,
        "server",
        *app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--serve-artifacts",
        "--workers",
        "1",
    ]


@pytest.fixture
def mlflow_server(tmp_path_factory):
    """A server of the test's own: one test's tampering never reaches another's registry."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = server_command(folder, port)
    url = f"http://127.0.0.1:{port}"
    # its uvicorn waits, once told to stop, for the connections the test's MLflow clients keep open (16 s seen):
    # the server and its store are the test's alone, so it is not waited for long
    with serving(command, f"{url}/health", folder / "server.log", timeout=120, grace=3):
        yield url, folder / "artifacts"


def champion(url: str):
    return MlflowClient(tracking_uri=url, registry_uri=url).get_model_version_by_alias("sklearn_mnist", "champion")


def test_two_workspaces_share_the_servers_history_and_registry(flow, tmp_path, mlflow_server):
    url, artifacts = mlflow_server
    first = flow(workspace_dir=str(tmp_path / "ws-a"), tracking_uri=url)
    assert first.is_completed(), first.message
    assert not (tmp_path / "ws-a" / "mlflow.db").exists()  # nothing of the history is kept in the folder
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    [version] = client.search_model_versions("name='sklearn_mnist'")
    assert champion(url).version == version.version == "1"
    assert list(artifacts.rglob("sklearn_mnist_model.pkl"))  # the run's files went to the server's artifact root

    second = flow(workspace_dir=str(tmp_path / "ws-b"), tracking_uri=url, regularization=[0.8, 0.4])
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert states["download_mnist"] == ["Completed"]  # its own cache: the other folder's records are not its
    lines = log_lines(flow_run_id(second), expect="reused, nothing submitted")
    assert any("already trained reg-0.8" in line and "reused, nothing submitted" in line for line in lines)
    runs = client.search_runs([client.get_experiment_by_name("sklearn-mnist").experiment_id])
    assert sorted(r.data.tags["mlflow.runName"] for r in runs) == ["reg-0.4", "reg-0.8"]  # reg-0.8 trained once
    versions = client.search_model_versions("name='sklearn_mnist'")
    best = max(versions, key=lambda v: (float(v.tags["accuracy"]), -int(v.version)))
    assert champion(url).version == best.version  # the rule over both folders' versions


def test_the_scoring_flow_and_the_integrity_check_use_the_servers_registry(flow, tmp_path, mlflow_server):
    url, artifacts = mlflow_server
    workspace = tmp_path / "ws"
    assert flow(workspace_dir=str(workspace), tracking_uri=url, regularization=[0.6]).is_completed()
    scored = mnist_scoring(params={"workspace_dir": str(workspace), "tracking_uri": url}, return_state=True)
    assert scored.is_completed(), scored.message
    assert len(Path(scored.result()).read_text().splitlines()) > 1  # the champion of the server's registry scored
    version = LocalWorkspace(workspace, url).model_version("sklearn_mnist", "champion")
    registered = [p for p in artifacts.rglob("model.skops") if "/models/" in str(p)]
    for path in registered:
        path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(DataError, match="the model changed after registration: refusing to load it"):
        LocalWorkspace(workspace, url).fetch_model(version, tmp_path / "refused")


def runs_named(client, name: str) -> list:
    experiment = client.get_experiment_by_name("sklearn-mnist").experiment_id
    return client.search_runs([experiment], f"tags.mlflow.runName = '{name}'")


def test_a_model_gone_from_the_server_is_kept_again_or_trained_again(flow, tmp_path, mlflow_server):
    """The still-true check on the server's files: a cached training result whose model the server lost no
    longer holds; "never twice" then keeps the workspace's own copy of the run's outputs with the run again
    (nothing trained), and only when that copy is gone too is the rate trained again."""
    url, artifacts = mlflow_server
    workspace = tmp_path / "ws"
    assert flow(workspace_dir=str(workspace), tracking_uri=url, regularization=[0.3]).is_completed()
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    [run] = runs_named(client, "reg-0.3")
    kept = lambda: [p for p in artifacts.rglob("sklearn_mnist_model.pkl") if run.info.run_id in str(p)]  # noqa: E731
    [model] = kept()

    model.unlink()
    again = flow(workspace_dir=str(workspace), tracking_uri=url, regularization=[0.3])
    assert again.is_completed(), again.message
    assert task_states(flow_run_id(again))["submit_training"] == ["Completed"]  # the cached result did not hold
    assert len(runs_named(client, "reg-0.3")) == 1 and kept()  # the same run, its model on the server again

    kept()[0].unlink()
    shutil.rmtree(workspace / "runs" / run.info.run_id)
    third = flow(workspace_dir=str(workspace), tracking_uri=url, regularization=[0.3])
    assert third.is_completed(), third.message
    assert len(runs_named(client, "reg-0.3")) == 2  # nothing left to keep: trained again


def test_a_tracking_uri_that_is_not_a_server_or_holds_a_password_is_one_line(flow, tmp_path):
    for uri, message in (
        ("sqlite:///x.db", "--tracking-uri takes an MLflow tracking server's http(s) URL"),
        ("http://me:secret@127.0.0.1:5000", "must not hold a user or password"),
    ):
        state = flow(workspace_dir=str(tmp_path / "ws"), tracking_uri=uri)
        assert state.is_failed() and message in state.message, state.message
        assert "secret" not in state.message
    assert not (tmp_path / "ws").exists()
