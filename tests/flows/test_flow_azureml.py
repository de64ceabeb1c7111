"""The real flow with --backend azureml, against the fake of the adapter's seam: create vs. attach, upload,
parallel runs with streamed logs, retried and final failures, idempotent registration."""

from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import artifacts, log_lines, task_states

CACHED_STEPS = ("download_mnist", "look_at_digits", "upload_data", "train_baseline", "submit_training", "register_best")


def test_the_tutorial_on_azure_ml_then_an_all_cached_rerun(azure_flow, fake_azure):
    state = azure_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    version = state.result()
    assert (version.version, version.champion, version.source) == ("1", True, "azureml://models/sklearn_mnist/1")
    assert len(fake_azure.called("create_compute")) == 1
    assert [args[1] for args in fake_azure.called("upload_files")] == [
        ["train-images.gz", "train-labels.gz", "test-images.gz", "test-labels.gz"],
        ["manifest.json"],
    ]
    order = [name for name, _ in fake_azure.calls if name in ("submit", "run_metrics")]
    assert order[:2] == ["submit", "submit"]  # both runs on the cluster at once
    lines = log_lines(flow_run_id(state), expect="[reg-0.4] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)
    assert "](https://ml.azure.com/runs/" in artifacts(flow_run_id(state))["model-link"].data

    second = azure_flow(regularization=[0.8, 0.4])
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert all(states[step] == ["Cached"] * len(states[step]) for step in CACHED_STEPS), states
    assert len(fake_azure.called("create_compute")) == 1 and len(fake_azure.called("submit")) == 2
    assert len(fake_azure.called("register_model")) == 1
    assert any("found compute target 'cpu-cluster'" in line for line in log_lines(flow_run_id(second), "found"))


def test_delete_compute_is_the_tutorials_last_cell(azure_flow, fake_azure):
    assert azure_flow(delete_compute=True).is_completed()
    assert fake_azure.called("delete_compute") == [("cpu-cluster",)] and fake_azure.computes() == {}
