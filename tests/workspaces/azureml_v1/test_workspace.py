"""The Azure adapter (SDK v1), the real azureml-core down to HTTP against the fake of Azure ML (fake_azureml.py,
blobs in Azurite): create or attach, content-addressed upload, runs that walk Azure's statuses with their logs
under either runtime's names, idempotent registration with a champion tag, stopping runs. (The whole flow on it:
tests/flows/test_flow_azureml.py and tests/faults/test_azure_faults.py.)"""

import json
import threading

import pytest

from steps.registry import register
from tests.flows.flow_runs import edit_train_script
from tests.idx_files import write_tiny_datastore_files
from tests.waiting import wait_until
from tests.workspaces.azureml_v1.fake_runner import RUNTIME_LOGS, read_json
from workspaces.base import ComputeSpec, TrainingJob, WorkspaceRef
from workspaces.errors import RunCancelled, TransientError, WorkspaceError


@pytest.fixture
def adapter(fake_azure, azure_config, tmp_path):
    from workspaces.azureml_v1.workspace import AzureMLWorkspace

    ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path=str(azure_config))
    return AzureMLWorkspace.connect(ref)


def a_job(adapter, training_copy, tmp_path, rate: float = 0.8) -> TrainingJob:
    data = adapter.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    return TrainingJob(
        experiment="sklearn-mnist",
        run_name=f"reg-{rate:g}",
        regularization=rate,
        data=data,
        source_dir=str(training_copy),
        source_hash="0" * 64,
        compute="cpu-cluster",
    )


def submitted_run(adapter, training_copy, tmp_path, rate: float = 0.8):
    compute = adapter.provision_compute(ComputeSpec(name="cpu-cluster"))
    return adapter.submit(a_job(adapter, training_copy, tmp_path, rate), compute)


def blob_puts(fake, folder: str) -> list[str]:
    """The names of the blobs the SDK put into a folder of the workspace's default datastore, in order."""
    prefix = f"/{fake.containers['workspaceblobstore']}/{folder}/"
    return [
        path.removeprefix(prefix) for method, host, path in fake.requests if method == "PUT" and path.startswith(prefix)
    ]


def test_compute_is_created_then_attached_and_its_scale_updated(adapter, fake_azure):
    first = adapter.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=4))
    second = adapter.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=2))
    assert first.created and not second.created and second.max_nodes == 2
    assert fake_azure.count("PUT", "/computes/cpu-cluster") == 1 and fake_azure.count("PATCH", "/computes/") == 1
    scale = fake_azure.computes["cpu-cluster"]["properties"]["properties"]["scaleSettings"]
    assert (scale["minNodeCount"], scale["maxNodeCount"], scale["nodeIdleTimeBeforeScaleDown"]) == (0, 2, "PT1800S")


def test_an_existing_target_of_another_type_is_a_clear_error(adapter, fake_azure):
    adapter.provision_compute(ComputeSpec(name="cpu-cluster"))
    fake_azure.computes["cpu-cluster"]["properties"]["computeType"] = "ComputeInstance"  # made in the studio
    with pytest.raises(WorkspaceError, match="exists but is a ComputeInstance, not an AmlCompute cluster"):
        adapter.provision_compute(ComputeSpec(name="cpu-cluster"))


def test_upload_skips_what_the_datastore_holds_with_the_same_content(adapter, fake_azure, tmp_path):
    files = write_tiny_datastore_files(tmp_path / "data")
    first = adapter.upload(files, "mnist")
    second = adapter.upload(files, "mnist")
    puts = blob_puts(fake_azure, "mnist")  # the four files (at once), then the manifest; nothing the second time
    assert sorted(puts[:-1]) == sorted(p.name for p in files) and puts[-1:] == ["manifest.json"]
    assert first == second and adapter.holds(first)
    assert first.datastore == "workspaceblobstore" and first.path == "mnist"


def test_a_throttled_compute_lookup_is_transient(adapter, fake_azure):
    fake_azure.fail("GET", "/computes/cpu-cluster", 429, "TooManyRequests", "Too many requests", times=20)
    with pytest.raises(TransientError, match="HTTP 429 while looking up compute 'cpu-cluster'"):
        adapter.provision_compute(ComputeSpec(name="cpu-cluster"))
    assert fake_azure.count("GET", "/computes/cpu-cluster") > 1  # the SDK's own retries went first


@pytest.mark.parametrize("runtime", ["common", "legacy", "both"])
def test_a_run_walks_azures_statuses_and_its_log_is_streamed_under_either_runtime(
    adapter, fake_azure, training_copy, tmp_path, runtime
):
    fake_azure.runtime_logs = RUNTIME_LOGS[runtime]
    run = submitted_run(adapter, training_copy, tmp_path)
    lines: list[str] = []
    result = adapter.stream_logs(run, lines.append)
    assert result.accuracy > 0.9 and any(line.startswith("Accuracy is") for line in lines)
    assert len([line for line in lines if line.startswith("Accuracy is")]) == 1  # one log followed, not both
    history = read_json(fake_azure.root / "runs" / run.run_id / "run.json")["history"]
    assert history == ["NotStarted", "Starting", "Preparing", "Queued", "Running", "Finalizing", "Completed"]


def test_a_runs_metrics_exist_only_once_logged(adapter, fake_azure, training_copy, tmp_path):
    edit_train_script(training_copy, "    print('started', flush=True)\n    import time; time.sleep(3)\n")
    run = submitted_run(adapter, training_copy, tmp_path)
    folder = fake_azure.root / "runs" / run.run_id
    wait_until(lambda: read_json(folder / "run.json")["status"] == "Running", 30, "the run running")
    assert fake_azure.logged(run.run_id) == {}
    result = adapter.stream_logs(run, lambda line: None)
    logged = {"regularization rate", "accuracy", "fit_cpu_seconds"}  # what train.py logs
    assert set(fake_azure.logged(run.run_id)) == logged == set(result.metrics)


def test_registration_is_idempotent_and_the_champion_tag_moves_only_up(adapter, fake_azure, training_copy, tmp_path):
    results = [
        adapter.stream_logs(submitted_run(adapter, training_copy, tmp_path, rate), lambda line: None)
        for rate in (0.8, 100.0)
    ]
    strong, weak = sorted(results, key=lambda r: r.accuracy, reverse=True)
    first = register(adapter, strong, "sklearn_mnist", {"accuracy": repr(strong.accuracy)})
    again = register(adapter, strong, "sklearn_mnist", {"accuracy": repr(strong.accuracy)})
    worse = register(adapter, weak, "sklearn_mnist", {"accuracy": repr(weak.accuracy)})
    assert (first.version, first.created, first.champion) == ("1", True, True)
    assert (again.version, again.created, again.champion) == ("1", False, True)
    assert (worse.version, worse.created, worse.champion) == ("2", True, False)
    assert fake_azure.count("POST", "/modelmanagement/v1.0/") == 4  # two versions: an asset and a model each
    assert [m["version"] for m in fake_azure.registry() if m["tags"].get("champion") == "true"] == ["1"]
    assert adapter.fetch_model(first, tmp_path / "model").name == "sklearn_mnist_model.pkl"


def test_a_version_registered_by_hand_is_not_reused_but_registered_again(adapter, fake_azure, training_copy, tmp_path):
    """Defect: a version of the run registered in the studio, without the adapter's tags, made registration
    fail with a bare KeyError on its model_sha256."""
    result = adapter.stream_logs(submitted_run(adapter, training_copy, tmp_path), lambda line: None)
    fake_azure.register_by_hand(result.run_id, "sklearn_mnist", {"note": "registered in the studio"})
    version = register(adapter, result, "sklearn_mnist", {"accuracy": repr(result.accuracy)})
    assert (version.version, version.created, version.champion) == ("2", True, True)
    assert version.sha256 and adapter.fetch_model(version, tmp_path / "model").is_file()


def test_stopping_the_flow_cancels_its_runs(adapter, fake_azure, training_copy, tmp_path):
    edit_train_script(training_copy, "    print('fitting slowly', flush=True)\n    import time; time.sleep(120)\n")
    run = submitted_run(adapter, training_copy, tmp_path)
    lines: list[str] = []

    def cancel_the_flow_once_the_run_fits():
        wait_until(lambda: "fitting slowly" in lines, 60, "the run fitting")
        adapter.stop_all_runs()

    canceller = threading.Thread(target=cancel_the_flow_once_the_run_fits, daemon=True)
    canceller.start()
    with pytest.raises(RunCancelled, match="was cancelled because its flow was cancelled"):
        adapter.stream_logs(run, lines.append)
    # stop_all_runs returns once it saw the run cancelled: waited for here, it never asks after the test's fake is
    # gone (it did once, its SDK then looking up Azure's real host name)
    canceller.join(timeout=60)
    assert not canceller.is_alive()
    assert fake_azure.count("POST", f"/runId/{run.run_id}/cancel") == 1
    history = read_json(fake_azure.root / "runs" / run.run_id / "run.json")["history"]
    assert history[-2:] == ["CancelRequested", "Canceled"]


def test_a_cached_value_holds_only_while_what_it_points_to_exists(adapter, fake_azure, training_copy, tmp_path):
    run = submitted_run(adapter, training_copy, tmp_path)
    result = adapter.stream_logs(run, lambda line: None)
    version = register(adapter, result, "sklearn_mnist", {"accuracy": repr(result.accuracy)})
    data = run.job.data
    assert adapter.holds(data) and adapter.holds(result) and adapter.holds(version)

    artifacts = fake_azure.container("workspaceartifactstore")
    artifacts.delete_blob(f"ExperimentRun/dcid.{result.run_id}/outputs/sklearn_mnist_model.pkl")  # in the studio
    fake_azure.container(data.datastore).upload_blob(f"{data.path}/manifest.json", json.dumps({}), overwrite=True)
    fake_azure.models.clear()
    assert not adapter.holds(result) and not adapter.holds(data) and not adapter.holds(version)
