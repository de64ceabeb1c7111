"""Every call site of both Azure adapters, times every fault Azure deals a request: the real SDKs down to HTTP
against their fakes (tests/workspaces/faults.py deals the faults). A test per backend and fault kind arms that
fault at the first request of every call site, then does what one training task of the flow does, step by step
(find or create the cluster, upload the data, submit, follow, register the best run, fetch its model), each step
retried as its task is (plumbing/retries.py: a TransientError is retried, anything else fails the flow).

Expected in every cell: the step completes, by the SDK's own retries, the adapter's, or its task's retry; every
armed fault was dealt (a fault that never met its request proves nothing); one run, never cancelled; one model
version, which loads. Run with -s, each test prints its row of the matrix: the steps whose task had to retry,
and why (docs/troubleshooting.md keeps the table)."""

import pytest

from steps.registry import register
from steps.training import start_or_reuse
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec, RunHandle, WorkspaceRef
from workspaces.errors import TransientError

TASK_RETRIES = 3  # plumbing/retries.py's default; the training task has 2, and every cell needs at most 1

# (call site, method, a part of its request's path), in the order the flow meets them
SITES = {
    "azureml": [
        ("find the cluster", "GET", "/computes/cpu-cluster"),
        ("upload a data file", "PUT", "/mnist/"),
        ("submit the run", "POST", "/snapshotrun"),
        ("poll the statuses", "POST", "/runs:query"),
        ("read a run's details", "GET", "/details"),
        ("read its log", "GET", "/user_logs/std_log.txt"),
        ("read its metrics", "POST", "/full"),
        ("register its model", "POST", "/models"),
        ("fetch the model", "GET", "/outputs/sklearn_mnist_model.pkl"),
    ],
    "azureml-v2": [
        ("find the cluster", "GET", "/computes/cpu-cluster"),
        ("upload a data file", "PUT", "/mnist/"),
        ("submit the job", "PUT", "/jobs/"),
        ("poll the statuses", "POST", "/runs:query"),
        ("read a run's details", "GET", "/details"),
        ("read its log", "GET", "/user_logs/std_log.txt"),
        ("read its metrics", "GET", "/mlflow/runs/get"),
        ("register its model", "PUT", "/models/sklearn_mnist/versions/"),
        ("fetch the model", "GET", "/outputs/sklearn_mnist_model.pkl"),
    ],
}
KINDS = {
    "429": ("status", 429, {"Retry-After": "1"}),
    "500": ("status", 500, {}),
    "503": ("status", 503, {}),
    "reset": ("reset", 0, {}),
    "lost": ("lost", 0, {}),
}


def opened(backend: str, request, tmp_path):
    """The adapter as the flow opens it, over its fake (polling fast), and the fake."""
    if backend == "azureml":
        from workspaces.azureml_v1.workspace import AzureMLWorkspace

        fake = request.getfixturevalue("fake_azure")
        config = request.getfixturevalue("azure_config")
        ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path=str(config))
        return AzureMLWorkspace.connect(ref), fake
    from tests.workspaces.azureml_v2.contract import opened as opened_v2

    return opened_v2(request, tmp_path), request.getfixturevalue("fake_azure_v2")


def as_a_task(step: str, retried: list[str], call):
    """`call`, retried as its task retries a TransientError; a final error fails the test."""
    for attempt in range(TASK_RETRIES + 1):
        try:
            return call()
        except TransientError as error:
            if attempt == TASK_RETRIES:
                raise
            retried.append(f"{step} ({str(error)[:80]})")


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("backend", list(SITES))
def test_a_fault_at_every_call_site_is_survived(backend, kind, request, tmp_path, training_copy, azurite):
    adapter, fake = opened(backend, request, tmp_path)
    fault, status, headers = KINDS[kind]
    for _, method, part in SITES[backend]:
        fake.faults.fail(method, part, fault, status, times=1, headers=headers)
    retried: list[str] = []
    compute = as_a_task("provision", retried, lambda: adapter.provision_compute(ComputeSpec(name="cpu-cluster")))
    files = write_tiny_datastore_files(tmp_path / "data")
    data = as_a_task("upload", retried, lambda: adapter.upload(files, "mnist"))
    job = a_job_on(data, training_copy, compute.name)
    started = as_a_task("train", retried, lambda: start_or_reuse(adapter, job, compute, lambda line: None))
    lines: list[str] = []
    result = (
        as_a_task("train", retried, lambda: adapter.stream_logs(started, lines.append))
        if isinstance(started, RunHandle)
        else started
    )
    version = as_a_task("register", retried, lambda: register(adapter, result, "sklearn_mnist", {}))
    (tmp_path / "fetched").mkdir()
    model = as_a_task("register", retried, lambda: adapter.load_model(version, tmp_path / "fetched"))

    dealt = [path for _, path, _, _ in fake.faults.injected]
    undealt = [site for site, _, part in SITES[backend] if not any(part in path for path in dealt)]
    assert undealt == [], f"armed faults that met no request: {undealt}"
    assert type(model).__name__ == "LogisticRegression" and result.accuracy > 0.5
    assert any(line.startswith("Accuracy is") for line in lines) or not isinstance(started, RunHandle)
    if backend == "azureml":
        assert len(fake.created_runs()) == 1 and fake.count("POST", "/cancel") == 0
        assert [m["run_id"] for m in fake.registry()] == [result.run_id]
    else:
        assert len(fake.state["jobs"]) == 1 and fake.count("POST", "/cancel") == 0
        assert [k for k in fake.state["models"] if "/" in k] == [f"sklearn_mnist/{version.version}"]
    print(f"\n| {backend} | {kind} | {'; '.join(retried) or 'all absorbed by the SDK and the adapter'} |")
