"""Reading back what Prefect recorded about a flow run: task states, log lines, artifacts."""

import re
from collections import defaultdict

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterId,
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
PICTURE_KEYS = {"sample-digits", "accuracy-vs-regularization", "champion-history-chart"}
# a link artifact's data (create_link_artifact): its text names the key, its URL the version's page
LINKED = re.compile(
    r"\[(?P<key>[a-z-]+): the same picture as its latest version\]\((?P<url>\S+/artifacts/artifact/[0-9a-f-]+)\)"
)
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


def all_artifacts(flow_run_id) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def artifacts(flow_run_id) -> dict[str, object]:
    return {artifact.key: artifact for artifact in all_artifacts(flow_run_id) if artifact.key}


def linked_pictures(flow_run_id) -> dict[str, str]:
    """The pictures the run linked instead of sending them again (plumbing/pictures.py): key -> the link."""
    linked = {}
    for artifact in all_artifacts(flow_run_id):
        found = LINKED.fullmatch(str(artifact.data)) if not artifact.key else None
        if found:
            linked[found["key"]] = found["url"]
    return linked


def published(flow_run_id) -> set[str]:
    """The keys the run published: its keyed artifacts, and the pictures it linked."""
    return set(artifacts(flow_run_id)) | set(linked_pictures(flow_run_id))


def artifact_data(artifact_id: str):
    with get_client(sync_client=True) as client:
        [found] = client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id])))
    return found.data


def picture_version(flow_run_id, key: str) -> str:
    """The id of the artifact version that holds the run's picture `key`: its own, or the one it links."""
    own = artifacts(flow_run_id).get(key)
    return str(own.id) if own is not None else linked_pictures(flow_run_id)[key].rsplit("/", 1)[-1]
