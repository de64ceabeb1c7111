"""Reading back what Prefect recorded about a flow run: task states, log lines, artifacts."""

from collections import defaultdict

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)

from tests.waiting import eventually

FINAL = {"Completed", "Cached", "Failed", "Crashed", "Cancelled"}
# what a run of mnist-training publishes (tasks/report.py, the download and the training progress)
ARTIFACT_KEYS = {
    "sample-digits",
    "training-metrics",
    "accuracy-vs-regularization",
    "confusion-matrix",
    "model-card",
    "model-link",
    "run-summary",
    "champion-history",
    "champion-history-chart",
    "download-progress",
    "training-progress",
}
# seconds for what Prefect records after the flow (states, logs shipped in batches): a loaded CI machine is slow at
# it, and a wait that is met early costs nothing
PATIENCE = 60


def task_runs(flow_run_id) -> list:
    """The flow run's task runs, once Prefect has recorded every one's final state."""

    def read():
        with get_client(sync_client=True) as client:
            return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return eventually(read, lambda runs: all(r.state_name in FINAL for r in runs), timeout=PATIENCE)


def task_states(flow_run_id) -> dict[str, list[str]]:
    """step name -> the final state names of its task runs (one per run, retries included as one)."""
    states = defaultdict(list)
    for run in task_runs(flow_run_id):
        states[run.task_key.rsplit("-", 1)[0]].append(run.state_name)  # the task function's name
    return dict(states)


def log_records(flow_run_id, expect: str | None = None) -> list:
    """The flow run's log records (message, timestamp, task_run_id ...), once `expect` is among them."""

    def read():
        log_filter, records = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), []
        with get_client(sync_client=True) as client:
            while page := client.read_logs(log_filter=log_filter, limit=200, offset=len(records)):
                records += page
        return records

    return eventually(read, lambda records: expect is None or any(expect in r.message for r in records), PATIENCE)


def log_lines(flow_run_id, expect: str | None = None) -> list[str]:
    return [record.message for record in log_records(flow_run_id, expect)]


def artifacts(flow_run_id) -> dict[str, object]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in found if artifact.key}
