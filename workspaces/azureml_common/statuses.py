"""What each Azure ML run status means here, decided once for both SDKs from their own lists: azureml-core's
RunStatus (azureml/_restclient/constants.py: `list()`, `get_running_statuses()`, `get_post_processing_statuses()`),
azure-ai-ml's JobStatus (its REST model's enum, Unknown included) and RunHistoryConstants. tests/workspaces/
test_statuses.py fails when either SDK lists a status that has no meaning here.

- waiting: not running yet (the image, the nodes); said on each change, and again every few minutes;
- writing: the script runs, or its outputs are being collected (Finalizing); its log is read;
- stopping: CancelRequested, still going and still billed (both SDKs count it as not over: azureml-core among
  its post-processing statuses, azure-ai-ml the same), followed to its end, never taken for ended;
- stuck: alive as far as anyone knows, and billed (NotResponding, Pausing, Paused, Unapproved, and azure-ai-ml's
  Unknown, "the default job status if not mapped to all other statuses"): a WARNING, followed;
- ended: Completed, Failed, Canceled.

A status neither SDK lists (one a later service adds) is under way, never failed, as azureml-core's own
`wait_for_completion` does ("add unknown status as running status", core/run.py): followed as a stuck one is,
with a WARNING that names it.
"""

from workspaces.base import RunState

WAITING = {"NotStarted", "Starting", "Provisioning", "Preparing", "Queued"}
WRITING = {"Running", "Finalizing"}
STOPPING = {"CancelRequested"}
STUCK = {"NotResponding", "Pausing", "Paused", "Unapproved", "Unknown"}
ENDED = {"Completed", "Failed", "Canceled"}
MEANINGS: dict[str, str] = {
    status: meaning
    for meaning, statuses in (
        ("waiting", WAITING),
        ("writing", WRITING),
        ("stopping", STOPPING),
        ("stuck", STUCK),
        ("ended", ENDED),
    )
    for status in statuses
}
SAID = {
    "Starting": "starting",
    "Provisioning": "waiting for its compute to be created",
    "Preparing": "preparing its environment (the image is built once)",
    "Queued": "queued, waiting for nodes",
    "Finalizing": "finalizing (its outputs are being collected)",
    "CancelRequested": "being cancelled (CancelRequested: it runs, and bills, until Azure ML stops it)",
    "NotResponding": "not responding (its heartbeat is lost)",
    "Pausing": "pausing",
    "Paused": "paused",
    "Unapproved": "waiting for approval",
    "Unknown": "in a status the service calls Unknown",
}


def meaning(status: str) -> str:
    """waiting, writing, stopping, stuck or ended; "unknown" for a status neither SDK lists."""
    return MEANINGS.get(status, "unknown")


def said(status: str) -> str | None:
    """What a run in `status` is doing, for a person; None where there is nothing to say (it runs, it ended)."""
    if status in MEANINGS:
        return SAID.get(status)
    return f"in status {status!r}, which neither Azure ML SDK lists: followed as under way"


def under_way(status: str) -> bool:
    """Not over: every status but an end, those neither SDK lists included."""
    return status not in ENDED


def run_state(status: str) -> RunState:
    """What a run's status means for the rule that trains a job once (steps/training.py): a Completed run may be
    adopted (if it logged its accuracy and kept its model), one under way attached (CancelRequested, NotResponding,
    Paused and a status not known here among them: such a run is alive and billed, and a second one beside it would
    bill twice); Failed and Canceled runs count for nothing."""
    if status == "Completed":
        return "finished"
    return "under_way" if under_way(status) else "failed"
