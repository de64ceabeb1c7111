"""The real flow with --backend azureml, the real azureml-core down to HTTP against the fake of Azure ML: create vs.
attach, upload, parallel runs with streamed logs, idempotent registration."""

from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import artifacts, log_lines, task_states

CACHED_STEPS = ("download_mnist", "look_at_digits", "upload_data", "train_baseline", "submit_training", "register_best")


def test_the_tutorial_on_azure_ml_then_an_all_cached_rerun(azure_flow, fake_azure):
    state = azure_flow(regularization=[0.8, 0.4])
    assert state.is_completed(), state.message
    version = state.result()
    assert (version.version, version.champion) == ("1", True) and version.source.startswith("aml://asset/")
    assert fake_azure.count("PUT", "/computes/cpu-cluster") == 1
    datastore = f"/{fake_azure.containers['workspaceblobstore']}/"
    uploaded = [p.rsplit("/", 1)[1] for m, _, p in fake_azure.requests if m == "PUT" and p.startswith(datastore)]
    assert sorted(uploaded[:4]) == ["test-images.gz", "test-labels.gz", "train-images.gz", "train-labels.gz"]
    assert uploaded[4:] == ["manifest.json"]
    order = [p for m, _, p in fake_azure.requests if m == "POST" and p.endswith(("/snapshotrun", "/list"))]
    assert [p.rsplit("/", 1)[1] for p in order[:2]] == ["snapshotrun", "snapshotrun"]  # both runs at once
    lines = log_lines(flow_run_id(state), expect="[reg-0.4] Accuracy is")
    assert any(line.startswith("[reg-0.8] Train a logistic regression model") for line in lines)
    assert "](https://ml.azure.com/runs/" in artifacts(flow_run_id(state))["model-link"].data

    second = azure_flow(regularization=[0.8, 0.4])
    assert second.is_completed(), second.message
    states = task_states(flow_run_id(second))
    assert all(states[step] == ["Cached"] * len(states[step]) for step in CACHED_STEPS), states
    assert fake_azure.count("PUT", "/computes/cpu-cluster") == 1 and fake_azure.count("POST", "/snapshotrun") == 2
    assert [m["version"] for m in fake_azure.registry()] == ["1"]
    assert any("found compute target 'cpu-cluster'" in line for line in log_lines(flow_run_id(second), "found"))


def test_delete_compute_is_the_tutorials_last_cell(azure_flow, fake_azure):
    assert azure_flow(delete_compute=True).is_completed()
    assert fake_azure.count("DELETE", "/computes/cpu-cluster") == 1 and fake_azure.computes == {}
