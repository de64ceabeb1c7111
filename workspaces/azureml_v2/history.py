"""A v2 job as workspaces/azureml_common/runs.py follows it: its details from the run history, its log files where
azure-ai-ml's own `jobs.stream` finds them (azure/ai/ml/operations/_job_ops_helper.py, `list_logs_in_datastore`).

A command job's runtime (the common runtime) writes its logs into the job's default output folder in the
artifact store (`ExperimentRun/dcid.<job>/user_logs/std_log.txt`; `azureml-logs/` for the older runtime), and
the run history no longer lists them among its details' `logFiles` ("RH should no longer be proxying these",
azureml-core's run.py). So, as the SDK does, the logs are listed in that folder when the job has one, and taken
from `logFiles` only when it has none. A log is then read by ranges from where the last read ended, as before:
one listing when the job's status changes or while its log is not there yet, and one ranged read a poll."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workspaces.azureml_v2.service import DataPlane
from workspaces.azureml_v2.storage import BlobFolder

LOG_FOLDERS = ("user_logs/", "azureml-logs/")  # the common runtime's, then the older runtime's


@dataclass(frozen=True)
class LogFolder:
    """A job's default output folder: the blob folder of its datastore and the prefix of the job's files."""

    blobs: BlobFolder
    prefix: str  # ExperimentRun/dcid.<job>

    def listed(self) -> dict[str, str]:
        """The job's log files, as the run history's `logFiles` names them (`user_logs/std_log.txt`), each to its
        blob's name; the older runtime's folder is listed only when the common runtime's holds none."""
        for folder in LOG_FOLDERS:
            names = self.blobs.names(f"{self.prefix}/{folder}")
            if names:
                return {name[len(self.prefix) + 1 :]: name for name in names}
        return {}


def default_output(job: Any) -> tuple[str, str] | None:
    """(datastore, prefix) of a job's default output folder (`azureml://datastores/<ds>/<prefix>`), as the SDK
    splits it; None for a job without one."""
    default = (getattr(job, "outputs", None) or {}).get("default")
    found = re.match(r"azureml://datastores/([^/]+)/(?:paths/)?(.+)", str(getattr(default, "path", "") or ""))
    if found is None or str(getattr(default, "type", "")) != "uri_folder":
        return None
    return found[1], found[2].rstrip("/")


class RunHistory:
    """What workspaces/azureml_common/runs.py follows: a job's details and its log files, read here."""

    def __init__(self, plane: DataPlane, artifacts: BlobFolder, tracking: str, logs: LogFolder | None):
        self.plane, self.artifacts, self.tracking, self.logs = plane, artifacts, tracking, logs

    def run_details(self, run_id: str) -> dict:
        details = self.plane.run_details(self.tracking, run_id)
        if self.logs is not None:
            details["logFiles"] = self.logs.listed()
        return details

    def read_from(self, url: str, start: int) -> bytes:
        """A log's bytes from `start` on: by its blob's name in the job's folder, or by the SAS URL the run
        history's details gave."""
        if self.logs is not None and not url.startswith("https://"):
            return self.logs.blobs.read_blob_from(url, start)
        return self.artifacts.read_from(url, start)
