"""The run history of the fake Azure ML workspace (SDK v1): a run as the SDK reads it (its RunDto and RunDetailsDto,
azureml._restclient.models), its tags, the listing `Run.list` filters, and the execution service's cancel. The runs
themselves, and their records, are fake_runs.py's."""

import uuid

from tests.workspaces.azureml_v1.fake_odata import matches
from tests.workspaces.azureml_v1.fake_runs import HISTORY
from tests.workspaces.azureml_v1.fake_service import error_body


class History:
    """Mixin of FakeAzureMLv1, beside Runs."""

    def _init_history(self, arm_scope: str) -> None:
        experiment = rf"{HISTORY}{arm_scope}/experiments/([^/]+)"
        run, by_id = rf"{experiment}/runs/([^/]+)", rf"{HISTORY}{arm_scope}/experimentids/[^/]+/runs/([^/]+)"
        self.route("GET", "service", run, self.run_get, "RunDto")
        self.route("PATCH", "service", run, self.run_patch, "RunDto")
        self.route("POST", "service", rf"{experiment}/runs:query", self.runs_query, "PaginatedRunDto")
        self.route("GET", "service", rf"{HISTORY}{arm_scope}/runs/([^/]+)", self.run_by_id, "RunDto")
        self.route("GET", "service", by_id, self.run_by_id, "RunDto")
        self.route("PATCH", "service", by_id, self.run_patch_by_id, "RunDto")
        self.route("GET", "service", rf"{run}/details", self.run_details, "RunDetailsDto")
        self.route("GET", "service", rf"{run}/metricsingest/wait", self.metrics_ingested)
        execution = rf"/execution/v1.0{arm_scope}/experiments/([^/]+)/runId/([^/]+)/cancel"
        self.route("POST", "service", execution, self.run_cancel)

    def run_dto(self, record: dict) -> dict:
        """A run as the run history answers it: the SDK's RunDto."""
        run_id, experiment = record["id"], record["experiment"]
        scope = (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )
        return {
            "runNumber": record["number"],
            "rootRunId": run_id,
            "experimentId": self.experiments[experiment]["experimentId"],
            "createdUtc": record["createdUtc"],
            "runId": run_id,
            "parentRunId": None,
            "status": record["status"],
            "startTimeUtc": record.get("startTimeUtc"),
            "endTimeUtc": record.get("endTimeUtc"),
            "heartbeatEnabled": False,
            "name": None,
            "displayName": record["tags"].get("run_name", run_id),
            "dataContainerId": f"dcid.{run_id}",
            "description": None,
            "hidden": False,
            "runType": "azureml.scriptrun",
            "properties": {"_azureml.ComputeTargetType": "amlcompute", **record["properties"]},
            "scriptName": record["script"],
            "target": record["target"],
            "tags": record["tags"],
            "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, run_id)),
            "cancelUri": f"https://{self.region}.experiments.azureml.net/execution/v1.0{scope}/experiments/"
            f"{experiment}/runId/{run_id}/cancel",
            "error": record.get("error"),
            "warnings": None,
        }

    def _run_of(self, experiment: str | None, run_id: str) -> dict | None:
        record = self.run_record(run_id)
        return record if record and experiment in (None, record["experiment"]) else None

    def run_missing(self, run_id: str):
        return 404, error_body("UserError", f"Run {run_id} was not found", 404), {}

    def run_get(self, request, subscription, group, workspace, experiment, run_id):
        record = self._run_of(experiment, run_id)
        return (200, self.run_dto(record), {}) if record else self.run_missing(run_id)

    def run_patch(self, request, subscription, group, workspace, experiment, run_id):
        record = self._run_of(experiment, run_id)
        if record is None:
            return self.run_missing(run_id)
        body = request.json() or {}
        tags = {**record["tags"], **(body.get("tags") or {})}
        properties = {**record["properties"], **(body.get("properties") or {})}
        self.update_run(run_id, tags=tags, properties=properties, **self.behaviour(tags.get("run_name")))
        return 200, self.run_dto(self.run_record(run_id)), {}

    def runs_query(self, request, subscription, group, workspace, experiment):
        """`Run.list` and `get_runs_by_run_ids`: the runs matching the OData filter the SDK wrote, newest first, one
        page (`top` of them). A run's logs reach the store as it writes them; the fake copies them when asked."""
        query = request.json() or {}
        records = [r for r in self.created_runs() if r["experiment"] == experiment and matches(query.get("filter"), r)]
        if "RunId" in (query.get("filter") or ""):
            records = [self.sync(r["id"]) for r in records]
        records.sort(key=lambda r: r["created"], reverse=True)
        top = query.get("top") or len(records)
        return 200, {"value": [self.run_dto(r) for r in records[:top]], "continuationToken": None}, {}

    def run_patch_by_id(self, request, subscription, group, workspace, run_id):
        return self.run_patch(request, subscription, group, workspace, None, run_id)

    def run_by_id(self, request, subscription, group, workspace, run_id):
        return self.run_get(request, subscription, group, workspace, None, run_id)

    def sync(self, run_id: str) -> dict:
        """The run's logs so far, and once it completed its outputs, into the artifact store (where the service
        keeps a run's files: ExperimentRun/dcid.<run id>/...); its record."""
        record, folder = self.run_record(run_id), self.runs_folder / run_id
        for name in record["logs"]:
            if (folder / name).exists():
                self.copy_log(f"ExperimentRun/dcid.{run_id}/{name}", folder / name)
        if record["status"] == "Completed" and not record.get("outputs_kept"):
            outputs = folder / "snapshot" / "outputs"
            for path in (p for p in outputs.rglob("*") if p.is_file()):
                self.upload_file(
                    "workspaceartifactstore",
                    f"ExperimentRun/dcid.{run_id}/outputs/{path.relative_to(outputs).as_posix()}",
                    path,
                )
            self.update_run(run_id, outputs_kept=True)
        return self.run_record(run_id)

    def run_details(self, request, subscription, group, workspace, experiment, run_id):
        """The SDK's RunDetailsDto: status, times, error, and each log file's SAS URL (once it exists)."""
        if self._run_of(experiment, run_id) is None:
            return self.run_missing(run_id)
        record, folder = self.sync(run_id), self.runs_folder / run_id
        logs = {
            name: self.blob_url("workspaceartifactstore", f"ExperimentRun/dcid.{run_id}/{name}", hours=self.sas_hours)
            for name in record["logs"]
            if (folder / name).exists()
        }
        details = {
            "runId": run_id,
            "target": record["target"],
            "status": record["status"],
            "startTimeUtc": record.get("startTimeUtc"),
            "endTimeUtc": record.get("endTimeUtc"),
            "services": {},
            "error": record.get("error"),
            "warnings": [],
            "properties": record["properties"],
            "inputDatasets": [],
            "outputDatasets": [],
            # the run configuration as it was submitted, as the service keeps it (ScriptRun.cancel of a run looked up
            # by its id reads its target there: a definition without its environment it takes for a legacy one)
            "runDefinition": record.get("definition")
            or {"script": record["script"], "arguments": record["arguments"], "target": record["target"]},
            "logFiles": logs,
        }
        return 200, details, {}

    def run_cancel(self, request, subscription, group, workspace, experiment, run_id):
        """The execution service's cancel: CancelRequested, then Canceled once its process is stopped."""
        record = self._run_of(experiment, run_id)
        if record is None:
            return self.run_missing(run_id)
        if record["status"] not in ("Completed", "Failed", "Canceled"):
            self.update_run(run_id, cancel_requested=True)
        return 200, {}, {}

    def metrics_ingested(self, request, *ids):
        return 200, {}, {}
