"""What following N runs costs in requests to Azure ML, for both Azure backends: not a test, a measurement.

    make bench-polling      (or: .venv/bin/python -m pytest -p tests.conftest benchmarks/polling.py -s)

Each Azure adapter, with the real SDK down to HTTP against its fake of the service (tests/workspaces/), submits N
runs of a script that waits for a signal and then prints a line every LINE_SECONDS for RUN_SECONDS; once all are
submitted the signal is given and N threads follow them, as the flow's N training tasks do. The fake counts every
request made while they follow (until the last follower has seen its run end; reading the metrics afterwards is
not following): those to Azure ML's services (run history, execution, management; among them the status queries
and the details a follower asks for) and those to the storage (the log files). The adapter polls every
POLL_SECONDS here; a count per poll interval is what it would cost per interval at the adapter's own (SDK v1 5 s,
SDK v2 10 s), so the table gives requests per minute at that interval. Results: benchmarks/results/polling.json,
and the table printed; docs/benchmarks.md keeps them.
"""

import json
import threading
import time
from pathlib import Path

import pytest

from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.azureml_v1 import contract as v1_contract
from tests.workspaces.azureml_v2 import contract as v2_contract
from workspaces.azureml_common import adapter as common
from workspaces.azureml_v1.workspace import AzureMLWorkspace
from workspaces.azureml_v2.workspace import AzureMLv2Workspace
from workspaces.base import ComputeSpec, TrainingJob

COUNTS = (1, 4, 16, 64)
POLL_SECONDS = 0.2
LINE_SECONDS, RUN_SECONDS = 2.0, 20.0  # 100 polls long, a line every 10 polls (at 5 s a poll: 8 min, a line a 50 s)
RESULTS = Path(__file__).with_name("results") / "polling.json"
SCRIPT = f"""
import os, sys, time
while not os.path.exists(os.environ["MNIST_FLOW_BENCH_GO"]):
    time.sleep(0.05)
for line in range({int(RUN_SECONDS / LINE_SECONDS)}):
    print("step", line, flush=True)
    time.sleep({LINE_SECONDS})
"""
# each adapter's own interval between two polls, read before the test fixtures set it to a fraction of a second
INTERVALS = {"azureml": AzureMLWorkspace.poll_seconds, "azureml-v2": AzureMLv2Workspace.poll_seconds}
OPENED = {"azureml": v1_contract.opened, "azureml-v2": v2_contract.opened}


def requests_of(fake) -> list[tuple[str, str]]:
    """(method, url or path) of every request the fake was sent so far, either fake's record."""
    return [(entry[0], "/".join(entry[1:])) for entry in list(fake.requests)]


def is_storage(target: str) -> bool:
    return ".blob." in target or target.startswith(("blob/", "/devstoreaccount1"))


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("backend", list(OPENED))
def test_polling_cost(backend, count, request, tmp_path, monkeypatch):
    workspace = OPENED[backend](request, tmp_path)
    workspace.poll_seconds = POLL_SECONDS
    fake = request.getfixturevalue("fake_azure" if backend == "azureml" else "fake_azure_v2")
    go = tmp_path / "go"
    monkeypatch.setenv("MNIST_FLOW_BENCH_GO", str(go))
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=count))
    runs = []
    for number in range(count):
        job = TrainingJob(
            experiment="polling",
            run_name=f"run-{number}",
            regularization=0.1 * (number + 1),
            data=data,
            source_dir=str(source),
            source_hash="0" * 64,
            compute=compute.name,
        )
        runs.append(workspace.submit(job, compute))

    ended: list[float] = []
    followed = common.follow

    def follow_and_note(*args, **kwargs):
        try:
            return followed(*args, **kwargs)
        finally:
            ended.append(time.monotonic())
            seen.append(len(fake.requests))

    seen: list[int] = []
    monkeypatch.setattr(common, "follow", follow_and_note)
    first = len(fake.requests)
    started = time.monotonic()
    go.touch()
    lines: dict[str, list[str]] = {run.run_id: [] for run in runs}
    threads = [threading.Thread(target=lambda r=r: _follow(workspace, r, lines[r.run_id].append)) for r in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    window = max(ended) - started
    made = requests_of(fake)[first : max(seen)]
    storage = sum(is_storage(target) for _, target in made)
    service = len(made) - storage
    queries = sum(target.endswith("/runs:query") for _, target in made)
    details = sum(target.endswith("/details") for _, target in made)
    intervals = window / POLL_SECONDS
    own_interval = INTERVALS[backend]
    row = {
        "backend": backend,
        "runs": count,
        "seconds": round(window, 2),
        "polls": round(intervals, 1),
        "service_requests": service,
        "storage_requests": storage,
        "status_queries": queries,
        "details_per_run": round(details / count, 1),
        "service_per_minute": round(service / intervals * 60 / own_interval, 1),
        "storage_per_minute": round(storage / intervals * 60 / own_interval, 1),
        "interval_seconds": own_interval,
    }
    print(json.dumps(row))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[f"{backend}/{count}"] = row
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    assert len(ended) == count
    printed = [f"step {line}" for line in range(int(RUN_SECONDS / LINE_SECONDS))]
    assert all([line for line in got if line.startswith("step")] == printed for got in lines.values())


def _follow(workspace, run, sink) -> None:
    try:
        workspace.stream_logs(run, sink)
    except Exception as error:  # a run without an accuracy fails its result: following it is what is measured
        if "accuracy" not in str(error):
            raise
