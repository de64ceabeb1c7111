"""The team's MLflow server as docs/deployments-and-teams.md starts it: a real `mlflow server --app-name basic-auth`
on 127.0.0.1 (the `team` extra), its admin password and Flask secret from the environment, users made by the admin
through MLflow's own client. A worker's flow runs with its user's credentials from the environment; an anonymous
client and a wrong password are refused; a second user reads only until the admin grants it EDIT; and no
password reaches a log line, an artifact, a flow run's parameters or the MLflow runs."""

import secrets
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.server import get_app_client
from prefect.client.orchestration import get_client

from tests.flows.flow_runs import flow_command, flow_run_id
from tests.flows.test_failures_at_the_terminal import run as run_at_the_terminal
from tests.flows.test_tracking_server import server_command
from tests.prefect_api import artifacts, log_lines
from tests.servers import free_port, serving

ADMIN_CONFIG = """[mlflow]
default_permission = READ
database_uri = sqlite:///{folder}/users.db
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


@pytest.fixture
def team_server(tmp_path_factory, monkeypatch):
    """The server, and a function that sets this process's MLflow credentials (None: anonymous)."""
    folder = tmp_path_factory.mktemp("team-server")
    (folder / "auth.ini").write_text(ADMIN_CONFIG.format(folder=folder))
    admin = secrets.token_urlsafe(16)
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(folder / "auth.ini"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(16),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def as_user(user: str | None, password: str = "") -> None:
        for name, value in (("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)):
            if user is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    command = server_command(folder, port, "--app-name", "basic-auth")
    with serving(command, f"{url}/health", folder / "server.log", env=env, timeout=120, grace=3):
        yield url, admin, as_user


def anonymous_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def everything_the_flow_left(state, workspace: Path, client: MlflowClient) -> str:
    """Every text a password could leak into: the flow run's log lines, artifacts and parameters, the MLflow
    runs' parameters and tags, and the workspace folder's files."""
    run_id = flow_run_id(state)
    with get_client(sync_client=True) as prefect:
        parameters = prefect.read_flow_run(run_id).parameters
    texts = [*log_lines(run_id), *(str(a.data) for a in artifacts(run_id).values()), str(parameters)]
    experiments = [e.experiment_id for e in client.search_experiments()]
    for run in client.search_runs(experiments):
        texts += [str(run.data.params), str(run.data.tags)]
    files = [p.read_bytes().decode("latin-1") for p in workspace.rglob("*") if p.is_file()]
    return "\n".join(texts + files)


def test_the_team_server_lets_in_its_users_only_and_no_password_is_written(flow, tmp_path, team_server):
    url, admin, as_user = team_server
    as_user("admin", admin)
    users = get_app_client("basic-auth", tracking_uri=url)
    worker, teammate = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    users.create_user("worker", worker)
    users.create_user("teammate", teammate)

    as_user("worker", worker)
    state = flow(workspace_dir=str(tmp_path / "ws"), tracking_uri=url, regularization=[0.5])
    assert state.is_completed(), state.message
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    assert client.get_model_version_by_alias("sklearn_mnist", "champion").version == "1"
    left = everything_the_flow_left(state, tmp_path / "ws", client)
    assert "reg-0.5" in left  # (what is searched holds the run)
    assert worker not in left and admin not in left

    as_user(None)
    assert anonymous_status(url) == 401
    refused = flow(workspace_dir=str(tmp_path / "ws-anonymous"), tracking_uri=url)
    assert refused.is_failed()
    assert "did not let this worker in (401" in refused.message and "MLFLOW_TRACKING_PASSWORD" in refused.message
    assert not (tmp_path / "ws-anonymous" / "downloads").exists()  # refused before anything was downloaded
    as_user("worker", "not-" + worker)
    assert "did not let this worker in (401" in flow(workspace_dir=str(tmp_path / "ws"), tracking_uri=url).message

    as_user("teammate", teammate)  # default_permission READ: it reads the worker's experiment and model only
    assert client.get_model_version_by_alias("sklearn_mnist", "champion").version == "1"
    denied = flow(workspace_dir=str(tmp_path / "ws-teammate"), tracking_uri=url, regularization=[0.4])
    assert denied.is_failed()
    assert "refused user 'teammate'" in denied.message and "grants the user EDIT" in denied.message

    as_user("admin", admin)  # what the docs say the admin runs for a second user
    experiment = client.get_experiment_by_name("sklearn-mnist").experiment_id
    users.grant_user_permission("teammate", "experiment", experiment, "EDIT")
    users.grant_user_permission("teammate", "registered_model", "sklearn_mnist", "EDIT")
    as_user("teammate", teammate)
    granted = flow(workspace_dir=str(tmp_path / "ws-teammate"), tracking_uri=url, regularization=[0.4])
    assert granted.is_completed(), granted.message
    assert len(client.search_model_versions("name='sklearn_mnist'")) == 2
    assert teammate not in everything_the_flow_left(granted, tmp_path / "ws-teammate", client)


def test_a_worker_the_team_server_refuses_reads_one_line_at_the_terminal(
    subprocess_env, mirror, tiny_data, tmp_path, team_server
):
    """The command as a worker runs it, with a wrong password in its environment: exit 2, one `error:` line that
    says what to set, no traceback, the password nowhere, and nothing downloaded."""
    url, _, _ = team_server
    password = secrets.token_urlsafe(16)
    env = {**subprocess_env, "MLFLOW_TRACKING_USERNAME": "worker", "MLFLOW_TRACKING_PASSWORD": password}
    status, lines = run_at_the_terminal(flow_command(tmp_path, mirror.url, tiny_data[1], "--tracking-uri", url), env)
    assert status == 2, lines[-5:]
    assert lines[-1].startswith("error: ") and "did not let this worker in (401" in lines[-1]
    assert "MLFLOW_TRACKING_PASSWORD" in lines[-1]
    assert password not in "\n".join(lines)
    assert not mirror.requests and not (tmp_path / "ws" / "downloads").exists()
