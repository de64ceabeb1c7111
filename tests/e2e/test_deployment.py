"""The `local` and `score` deployments, run by a real worker against a real server, as the path of
docs/deployments-and-teams.md does."""

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import temporary_settings

from plumbing.prefect_server import PREFECT
from tests import prefect_api
from tests.conftest import PROJECT
from tests.e2e.conftest import client_settings, latest_flow_run, on
from tests.flows.flow_runs import edit_train_script, mlflow_runs, training_processes
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefect-stack")]  # one stack, one worker


def test_a_deployment_run_completes_with_its_artifacts_and_the_runs_log_lines(prefect_stack, completed_runs):
    first = completed_runs[0]
    assert first.state_name == "Completed"
    assert on(prefect_stack, prefect_api.published, first.id) >= prefect_api.ARTIFACT_KEYS
    card = on(prefect_stack, prefect_api.artifacts, first.id)["model-card"].data
    assert "# Model card: sklearn_mnist version 1 (champion)" in card and "784 float pixels in 0..1" in card
    lines = on(prefect_stack, prefect_api.log_lines, first.id, expect="[reg-0.4] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)


def test_the_second_run_is_visibly_cached(prefect_stack, completed_runs):
    states = on(prefect_stack, prefect_api.task_states, completed_runs[1].id)
    for step in ("download_mnist", "upload_data", "train_baseline", "submit_training", "register_best"):
        assert set(states[step]) == {"Cached"}, states


def test_the_score_deployment_scores_with_the_champion_the_training_runs_registered(
    prefect_stack, completed_runs, tiny_run_parameters
):
    workspace = Path(tiny_run_parameters["workspace_dir"])
    result = prefect_stack.run_deployment_and_watch("mnist-scoring/score", {"workspace_dir": str(workspace)})
    assert result.returncode == 0, result.stdout[-3000:]
    run = latest_flow_run(prefect_stack)
    shown = on(prefect_stack, prefect_api.artifacts, run.id)
    assert (
        "# Scores of sklearn_mnist version 1" in shown["scores"].data and "digits scored: 100" in shown["scores"].data
    )
    assert {"scoring-confusion-matrix", "least-confident"} <= set(shown)
    assert (workspace / "scores" / "predictions.csv").read_text().count("\n") == 101  # a header and 100 rows


def flow_run_count(stack) -> int:
    with temporary_settings(client_settings(stack)), get_client(sync_client=True) as client:
        return client.count_flow_runs()


def test_the_server_refuses_a_value_the_schema_forbids_and_no_run_is_left(prefect_stack, tmp_path):
    before = flow_run_count(prefect_stack)
    answers = {}
    for bad in (
        {"regularization": [-1]},
        {"backend": "azure"},
        {"max_nodes": 0},
        {"compute_name": "x y"},
        {"regularisation": [1]},
    ):
        result = prefect_stack.run_deployment("mnist-training/local", {**bad, "workspace_dir": str(tmp_path / "ws")})
        assert result.returncode == 1, result.stdout
        answers[next(iter(bad))] = " ".join((result.stdout + result.stderr).split())
    assert all("Error creating flow run" in answer for answer in answers.values()), answers
    assert (
        "Validation failed for field 'params.regularization[0]'. Failure reason: -1 is less than or equal to the "
        "minimum of 0" in answers["regularization"]
    ), answers["regularization"]
    assert "('regularisation' was unexpected)" in answers["regularisation"], answers["regularisation"]
    assert flow_run_count(prefect_stack) == before  # refused when the run is created: no failed run behind
    assert not (tmp_path / "ws").exists()


def test_a_rule_between_fields_fails_the_run_with_the_command_lines_message(prefect_stack, tmp_path):
    """What a schema cannot say, the flow checks first thing: the run fails with the command line's one line."""
    params = {"min_nodes": 3, "max_nodes": 2, "workspace_dir": str(tmp_path / "ws")}
    assert prefect_stack.run_deployment_and_watch("mnist-training/local", params).returncode == 1
    run = latest_flow_run(prefect_stack)
    assert run.state_name == "Failed"
    assert "max_nodes 2 is below min_nodes 3; expected max_nodes >= min_nodes" in run.state.message
    assert not (tmp_path / "ws").exists()  # nothing was done


def test_the_server_refuses_a_client_without_its_auth_string(prefect_stack):
    without = {k: v for k, v in prefect_stack.env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run([PREFECT, "deployment", "ls"], env=without, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
    request = urllib.request.Request(f"{prefect_stack.url}/api/deployments/filter", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 401
    assert prefect_stack.prefect("deployment", "ls").returncode == 0  # with it, the same command works


def test_a_deployment_run_may_not_use_a_folder_the_worker_does_not_allow(prefect_stack, tiny_run_parameters):
    outside = Path(tempfile.mkdtemp(prefix="mnist-flow-outside-"))  # not under the allowed roots
    try:
        shutil.copytree(PROJECT / "training", outside / "training")
        parameters = {**tiny_run_parameters, "training_dir": str(outside / "training")}
        assert prefect_stack.run_deployment_and_watch("mnist-training/local", parameters).returncode == 1
        run = latest_flow_run(prefect_stack)
        assert run.state_name == "Failed"
        assert "is outside the folders this worker lets a deployment run use" in run.state.message
        assert "MNIST_FLOW_ALLOWED_ROOTS" in run.state.message
        assert not list(outside.rglob("outputs")) and sorted(p.name for p in outside.iterdir()) == ["training"]
    finally:
        shutil.rmtree(outside)


def test_the_deployments_are_the_ones_prefect_yaml_declares(prefect_stack):
    result = prefect_stack.prefect("deployment", "ls")
    assert all(f"mnist-training/{name}" in result.stdout for name in ("local", "azureml", "azureml-v2"))
    assert "mnist-scoring/score" in result.stdout
    details = prefect_stack.prefect("deployment", "inspect", "mnist-training/azureml").stdout
    assert "'MNIST_FLOW_BACKEND': 'azureml'" in details and "'MNIST_FLOW_CREDENTIALS_BLOCK': 'mnist-azureml'" in details
    assert "service_principal_password" not in details
    assert "'work_pool_name': 'mnist-local'" in details and "'enforce_parameter_schema': True" in details
    schema = prefect_stack.prefect("deployment", "inspect", "mnist-training/local", "--output", "json").stdout
    fields = json.loads(schema)["parameter_openapi_schema"]["definitions"]["TrainingParameters"]["properties"]
    assert fields["backend"]["enum"] == ["local", "azureml", "azureml-v2"]
    assert fields["regularization"]["default"] == [0.8] and fields["regularization"]["items"]["exclusiveMinimum"] == 0
    assert all(field.get("description") for field in fields.values())  # the form explains every field


def test_cancelling_a_deployment_run_stops_its_training_runs(
    prefect_stack, tiny_run_parameters, training_copy, tmp_path
):
    training = training_copy
    edit_train_script(training, "    print('fitting slowly', flush=True)\n    import time; time.sleep(300)\n")
    workspace = tmp_path / "ws"
    parameters = {**tiny_run_parameters, "training_dir": str(training), "workspace_dir": str(workspace)}
    result = prefect_stack.run_deployment("mnist-training/local", parameters)
    assert result.returncode == 0, result.stdout
    run = latest_flow_run(prefect_stack)
    wait_until(lambda: len(training_processes(workspace)) == 2, 180, "both training runs started")
    assert prefect_stack.prefect("flow-run", "cancel", str(run.id)).returncode == 0
    wait_until(
        lambda: (
            not training_processes(workspace) and latest_flow_run(prefect_stack).state_name in ("Cancelled", "Crashed")
        ),
        120,
        "the runs stopped and the flow run final",
    )
    assert latest_flow_run(prefect_stack).state_name == "Cancelled"
    assert [r.info.status for r in mlflow_runs(workspace)] == ["KILLED", "KILLED"]
