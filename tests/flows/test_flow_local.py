"""The whole flow on the local workspace, on tiny data served over HTTP: caching, retries, failures."""

import json

import pytest

from tests.flows.flow_runs import edit_train_script, flow_run_id, mlflow_runs, model_versions, run_flow
from tests.prefect_api import (
    ARTIFACT_KEYS,
    PICTURE_KEYS,
    artifact_data,
    artifacts,
    linked_pictures,
    log_lines,
    log_records,
    picture_version,
    published,
    task_runs,
    task_states,
)
from workspaces.marker import MARKER

CACHED_STEPS = ("download_mnist", "look_at_digits", "upload_data", "train_baseline", "submit_training", "register_best")


def test_a_full_run_then_an_all_cached_rerun(flow, mirror, tmp_path):
    first = flow()
    assert first.is_completed(), first.message
    version = first.result()
    assert (version.name, version.version, version.champion) == ("sklearn_mnist", "1", True)
    assert (tmp_path / "ws" / MARKER).is_file()  # the folder says it is a workspace (workspaces/marker.py)
    assert version.accuracy > 0.9 and version.tags["regularization_rate"] == "0.8"
    # one copy of the parsed arrays in the workspace: the run read the one the baseline keeps beside the downloads
    assert len(list((tmp_path / "ws" / "downloads" / ".parsed").glob("*.npy"))) == 4  # train and test
    assert not (tmp_path / "ws" / "datastore" / "mnist" / ".parsed").exists()
    assert set(version.tags) >= {
        "run_id",
        "data_sha256",
        "training_code_sha256",
        "model_sha256",
        "version_scikit-learn",
    }
    lines = log_lines(flow_run_id(first), expect="[reg-0.8] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)
    assert published(flow_run_id(first)) >= ARTIFACT_KEYS
    # the run's own process, with scikit-learn and MLflow loaded, measured when it ended (wait4)
    assert mlflow_runs(tmp_path / "ws")[0].data.metrics["peak_memory_mb"] > 50
    assert "peak memory (MB)" in artifacts(flow_run_id(first))["training-metrics"].data
    history = json.loads(artifacts(flow_run_id(first))["champion-history"].data)
    assert [(row["version"], row["champion"].startswith("since ")) for row in history] == [("1", True)]
    fetched = len(mirror.requests)

    second = flow()
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert {step: states[step] for step in CACHED_STEPS} == {step: ["Cached"] for step in CACHED_STEPS}
    assert len(mirror.requests) == fetched  # nothing downloaded
    assert len(mlflow_runs(tmp_path / "ws")) == 1  # no new MLflow run
    assert ARTIFACT_KEYS - {"download-progress"} <= published(flow_run_id(second))
    # the same pictures: linked, not sent again, to the versions that hold them
    assert set(linked_pictures(flow_run_id(second))) == PICTURE_KEYS
    for key in PICTURE_KEYS:
        version = picture_version(flow_run_id(second), key)
        assert version == picture_version(flow_run_id(first), key)
        assert str(artifact_data(version)).startswith("data:image/png;base64,")
    assert "found compute target 'cpu-cluster'" in " ".join(log_lines(flow_run_id(second), expect="found compute"))


@pytest.fixture
def rerun(flow, trained_workspace):
    """The flow again on the session's trained workspace (trained with the defaults: reg-0.8 on the tiny data),
    restored as the first run left it: a test of what a second run does, without paying for the first."""
    return lambda **arguments: flow(workspace_dir=str(trained_workspace), **arguments)


def test_adding_a_rate_runs_exactly_one_new_training_run(rerun, trained_workspace):
    second = rerun(regularization=[0.8, 0.05])
    assert second.is_completed(), second.message
    assert sorted(task_states(flow_run_id(second))["submit_training"]) == ["Cached", "Completed"]
    names = {run.name for run in task_runs(flow_run_id(second))}  # what the run graph's bars say
    assert {"train reg-0.8", "train reg-0.05", "download tiny-mnist", "train the baseline"} <= names
    assert [r.data.tags["mlflow.runName"] for r in mlflow_runs(trained_workspace)] == ["reg-0.8", "reg-0.05"]
    rows = artifacts(flow_run_id(second))["training-metrics"].data
    assert "reg-0.05" in rows and "reg-0.8" in rows and "local baseline" in rows


def test_editing_the_training_code_reruns_the_training(rerun, training_copy):
    edit_train_script(training_copy, "    print('edited')\n")  # a copy of the training/ it was trained with
    second = rerun(training_dir=str(training_copy))
    states = task_states(flow_run_id(second))
    assert states["submit_training"] == ["Completed"] and states["download_mnist"] == ["Cached"]
    assert any("[reg-0.8] edited" in line for line in log_lines(flow_run_id(second), expect="edited"))


def test_a_deleted_download_is_fetched_again(rerun, mirror, trained_workspace):
    (trained_workspace / "downloads" / "test-labels.gz").unlink()
    second = rerun()
    assert task_states(flow_run_id(second))["download_mnist"] == ["Completed"]
    assert mirror.requests == ["t10k-labels-idx1-ubyte.gz"]
    assert task_states(flow_run_id(second))["submit_training"] == ["Cached"]  # same content, same runs


def test_refresh_cache_recomputes_everything_but_keeps_the_champion(rerun, trained_workspace):
    second = rerun(refresh_cache=True)
    states = task_states(flow_run_id(second))
    assert all(states[step] == ["Completed"] for step in CACHED_STEPS), states
    version = second.result()
    assert version.version == "2" and not version.champion  # equal accuracy is not better: alias stays on 1
    assert sorted(str(v.version) for v in model_versions(trained_workspace)) == ["1", "2"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"regularization": [-1]}, "regularization rate -1: expected a positive finite number, such as 0.8"),
        ({"regularization": []}, "no regularization rate given; expected at least one positive number, such as 0.8"),
        ({"dataset": {"name": "mine", "files": []}}, "dataset lacks train-images.gz, train-labels.gz, test-images.gz"),
        ({"max_nodes": "many"}, "max_nodes='many': expected a whole number"),
    ],
)
def test_a_deployment_run_with_bad_parameters_fails_before_doing_anything(
    prefect_api, mirror, tmp_path, arguments, message
):
    state = run_flow(workspace_dir=str(tmp_path / "ws"), mirrors=[mirror.url], **arguments)
    assert state.is_failed()
    assert str(state.result(raise_on_failure=False)).startswith(message)
    assert not (tmp_path / "ws").exists() and mirror.requests == []


def test_a_runs_lines_reach_the_prefect_log_while_it_is_still_running(flow, training_copy):
    edit_train_script(training_copy, "    print('fitting begins', flush=True)\n    import time; time.sleep(4)\n")
    state = flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    line = next(r for r in log_records(flow_run_id(state), "fitting begins") if r.message == "[reg-0.8] fitting begins")
    run = next(r for r in task_runs(flow_run_id(state)) if r.name == "train reg-0.8")
    assert (run.end_time - line.timestamp).total_seconds() > 3  # logged while the run still had 4 s to go


def test_a_progress_update_prefect_refuses_stops_no_training_run(flow, monkeypatch, tmp_path):
    """The training progress artifact is updated as each run ends: an update Prefect's API refused (a blip as one
    run finished) was taken for a stop, and every other run, healthy, was stopped. It is a line in the log now."""

    def refused(*args, **kwargs):
        raise RuntimeError("Prefect API: 503 Service Unavailable")

    monkeypatch.setattr("tasks.training.update_progress_artifact", refused)
    state = flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    assert [run.info.status for run in mlflow_runs(tmp_path / "ws")] == ["FINISHED", "FINISHED"]
    said = log_lines(flow_run_id(state), "could not update the training progress artifact")
    assert any("(Prefect API: 503 Service Unavailable); the runs go on" in line for line in said)
