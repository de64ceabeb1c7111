"""The SDK v2 fake's jobs, run for real, and the data plane that follows them.

A job's PUT and GET answer as recorded (recorded.py: a command job's, the GET's own fields, which differ from the
PUT's); its listing, a 404, a repeated PUT and a cancel are our reading (no recording found; docs/azureml-v2.md).
Its code and data are read back from Azurite into a folder, and tests/workspaces/azureml_v1/fake_runner.py runs
its command there, walking Azure ML's statuses. Its log goes where the common runtime writes it, the job's
default output in the artifact store (`ExperimentRun/dcid.<job>/user_logs/std_log.txt`), which azure-ai-ml's own
`jobs.stream` lists; the run history's details list no `logFiles` for it (azureml-core: "RH should no longer be
proxying these"). With `default_output` off, a job has no such folder and its details list its log, the case the
SDK falls back to `logFiles` for. The run history's details, its
`runs:query` and MLflow's `runs/get` are our reading of the SDKs' models: no recording holds them.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from azure.storage.blob import ContainerClient

from tests.workspaces.azureml_v1.fake_runner import read_json, start_runner, write_json
from tests.workspaces.azureml_v2.fake_resources import ACCOUNT, CONTAINERS, KEY
from tests.workspaces.azureml_v2.recorded import FREE_FORM

ENDED = ("Completed", "Failed", "Canceled")


def overlay(recorded: Any, kept: Any, path: str = "") -> Any:
    """`recorded` with the values `kept` has for its fields: the service's answer in the recorded form, the
    fake's state in it (a free-form map, such as tags, is kept's whole)."""
    free = any(path == f or path.endswith(f".{f}") for f in FREE_FORM)
    if isinstance(recorded, dict) and isinstance(kept, dict) and not free:
        return {
            key: overlay(value, kept[key], f"{path}.{key}".lstrip(".")) if key in kept else value
            for key, value in recorded.items()
        }
    return copy.deepcopy(kept)


class Jobs:
    """Mixin of FakeAzureML (fake_service.py)."""

    root: Path
    azurite_url: str
    state: dict[str, dict]
    scope: str
    ids: tuple[str, str, str]
    repeated_job_put: str
    interruptions: dict[str, list]
    logs_copied: dict[str, tuple[int, int]]
    default_output: bool

    if TYPE_CHECKING:  # what the other mixin (fake_resources.py) gives

        def recorded(self, name: str) -> tuple[int, Any, dict]: ...

        def _missing(self, kind: str, name: str) -> tuple[int, dict, dict]: ...

        def datastores_post(self, rest, body) -> tuple[int, Any, dict]: ...

    @staticmethod
    def _renamed(answer: dict, name: str) -> dict:
        """A recorded job's answer as job `name`'s: its id, name, studio link and default output."""
        return json.loads(json.dumps(answer).replace(answer["name"], name))

    def jobs_list(self, query: dict[str, list[str]]):
        """The listing (Jobs_List), one page, each job as its GET answers it (the list's form: our reading), filtered
        as the REST API documents its parameters: `tag` a tag's key, `properties` "name=value" pairs."""
        wanted = dict(pair.split("=", 1) for pair in (query.get("properties") or [""])[0].split(",") if "=" in pair)
        key = (query.get("tag") or [""])[0]
        listed = []
        for name in list(self.state["jobs"]):  # (a copy: a PUT of another thread adds to it)
            job = self.jobs_get([name], None)[1]
            properties, tags = job["properties"].get("properties") or {}, job["properties"].get("tags") or {}
            if all(properties.get(k) == v for k, v in wanted.items()) and (not key or key in tags):
                listed.append(job)
        return 200, {"value": listed, "nextLink": None}, {}

    def jobs_get(self, rest, body):
        job = self.state["jobs"].get(rest[0])
        if job is None:
            return self._missing("Job", rest[0])
        self._sync(rest[0])
        status, answer, headers = self.recorded("job_get")
        return status, overlay(self._renamed(answer, rest[0]), job), headers

    def jobs_put(self, rest, body):
        name = rest[0]
        if name in self.state["jobs"]:
            # What Azure answers to a PUT of a job that exists is not recorded anywhere public: a changed job is
            # refused ("already exists", a Microsoft Q&A thread), an identical one may be taken as an update. The
            # fake gives either, by `repeated_job_put`; the adapter is tested against both.
            if self.repeated_job_put == "updated":
                return 200, self.state["jobs"][name], {}
            return 409, {"error": {"code": "UserError", "message": f"Job {name} already exists"}}, {}
        status, answer, headers = self.recorded("job_put")
        answer = self._renamed(answer, name)
        service = {key: answer["properties"][key] for key in ("services", "outputs", "properties")}
        answer["properties"] = {**answer["properties"], **body["properties"], **service, "status": "Starting"}
        answer["properties"]["properties"] = {**service["properties"], **(body["properties"].get("properties") or {})}
        if not self.default_output:
            answer["properties"]["outputs"] = {}
        self.state["jobs"][name] = answer
        self._start(name, answer)
        headers["Location"] = f"https://management.azure.com{answer['id']}"
        return status, answer, headers

    def cancel_from_outside(self, name: str) -> None:
        """What a person does in the studio."""
        self.jobs_post([name, "cancel"], None)

    def jobs_post(self, rest, body):  # .../jobs/<name>/cancel: our reading (202, a Location to poll)
        folder = self.root / "runs" / rest[0]
        record = read_json(folder / "run.json")
        if record and record["status"] not in ENDED:
            write_json(folder / "run.json", {**record, "cancel_requested": True})
        return 202, None, {"Location": f"https://management.azure.com{getattr(self, 'scope', '')}/jobs/{rest[0]}"}

    # ---- a job's run, for real ------------------------------------------------------------------------------
    def _container(self, datastore: str) -> ContainerClient:
        return ContainerClient(
            self.azurite_url, CONTAINERS[datastore], credential={"account_name": ACCOUNT, "account_key": KEY}
        )

    def _download(self, uri: str, dest: Path) -> None:
        """A datastore folder (`azureml://datastores/<ds>/paths/<folder>/`, or the long form the service keeps a
        data asset's in), or a blob folder's https URL, from Azurite."""
        if uri.startswith("https://"):
            container_name, folder = urlparse(uri).path.lstrip("/").split("/", 1)
            datastore = next(name for name, container in CONTAINERS.items() if container == container_name)
        else:
            found = re.match(r"azureml://(?:subscriptions/.+?/workspaces/[^/]+/)?datastores/([^/]+)/paths/(.*)", uri)
            assert found, uri
            datastore, folder = found.groups()
        container = self._container(datastore)
        for blob in container.list_blobs(name_starts_with=folder):
            target = dest / blob.name[len(folder) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(container.download_blob(blob.name).readall())

    def _resolve_data(self, uri: str) -> str:
        """`azureml:mnist:<version>` (or its ARM id) as the datastore path its version records."""
        found = re.search(r"(?:azureml:|/data/)([^:/]+)(?::|/versions/)([^/]+)$", uri)
        assert found, uri
        return self.state["data"][f"{found[1]}/{found[2]}"]["properties"]["dataUri"]

    def _start(self, name: str, job: dict) -> None:
        properties, folder = job["properties"], self.root / "runs" / name
        code = self.state["codes"][properties["codeId"].split("/codes/")[1].replace("/versions/", "/")]
        self._download(code["properties"]["codeUri"], folder / "snapshot")
        data = folder / "data"
        self._download(self._resolve_data(properties["inputs"]["data"]["uri"]), data)
        words = shlex.split(properties["command"].replace("${{inputs.data}}", str(data)))
        record = {
            "id": name,
            "status": "NotStarted",
            "history": ["NotStarted"],
            "tags": properties.get("tags", {}),
            "error": None,
            "script": words[1],
            "arguments": words[2:],
            "logs": ["user_logs/std_log.txt"],
            "queue_seconds": 0.0,
            "preempt": False,
            "interruptions": self.interruptions.get(properties.get("tags", {}).get("run_name"), []),
            "created": time.time(),
        }
        write_json(folder / "run.json", record)
        write_json(folder / "run.json", {**read_json(folder / "run.json"), "pid": start_runner(folder)})

    def _sync(self, name: str) -> dict:
        """The run's status into the job; its log, and at its end its outputs, into the artifact store."""
        folder = self.root / "runs" / name
        record = read_json(folder / "run.json") or {}
        job = self.state["jobs"][name]
        job["properties"]["status"] = record.get("status", "Starting")
        artifacts = self._container("workspaceartifactstore")
        log = folder / "user_logs" / "std_log.txt"
        seen = log.stat() if log.exists() else None
        if seen and self.logs_copied.get(name) != (seen.st_size, seen.st_mtime_ns):  # (unchanged: not copied again)
            artifacts.upload_blob(f"ExperimentRun/dcid.{name}/user_logs/std_log.txt", log.read_bytes(), overwrite=True)
            self.logs_copied[name] = (seen.st_size, seen.st_mtime_ns)
        if record.get("status") == "Completed" and not record.get("outputs_kept"):
            outputs = folder / "snapshot" / "outputs"
            for path in (p for p in outputs.rglob("*") if p.is_file()):
                blob = f"ExperimentRun/dcid.{name}/outputs/{path.relative_to(outputs).as_posix()}"
                artifacts.upload_blob(blob, path.read_bytes(), overwrite=True)
            write_json(folder / "run.json", {**read_json(folder / "run.json"), "outputs_kept": True})
        return record

    def sync_for_blobs(self, path: str) -> None:
        """A request for a job's blobs (its log listed or read from the artifact store) sees them as they are: on
        Azure the runtime writes the log as the script prints; here the job's log is copied when asked for."""
        found = re.search(r"dcid\.([^/&]+)", path)
        if found and found[1] in self.state["jobs"]:
            self._sync(found[1])

    # ---- the data plane: the run history, MLflow --------------------------------------------------------------
    def runs_query(self, experiment: str, query: dict):
        """The run history's listing, as SDK v1's `get_runs_by_run_ids` asks it: `RunId eq <id>` joined by `or`
        (azureml/_restclient/_odata/runs.py), one page; each run's RunDto fields the adapter reads."""
        wanted = set(re.findall(r"RunId eq ([^\s()]+)", query.get("filter") or ""))
        found = [
            {"runId": name, "status": self._sync(name).get("status", "Starting"), "experimentName": experiment}
            # a copy of the jobs: the flow's threads submit while another follows, and a job PUT adds to the dict
            # while this loop reads it (a RuntimeError no real transport raises, which the adapter took for final)
            for name, job in list(self.state["jobs"].items())
            if name in wanted and job["properties"].get("experimentName") == experiment
        ]
        return 200, {"value": found, "continuationToken": None}, {}

    def run_details(self, name: str):
        if name not in self.state["jobs"]:
            return 404, {"error": {"code": "UserError", "message": f"Run {name} was not found"}}, {}
        record = self._sync(name)
        logs = {}
        if not self.default_output and (self.root / "runs" / name / "user_logs" / "std_log.txt").exists():
            sas = self.datastores_post([], None)[1]["sasToken"]
            account = f"https://{ACCOUNT}.blob.core.windows.net/{CONTAINERS['workspaceartifactstore']}"
            logs = {"user_logs/std_log.txt": f"{account}/ExperimentRun/dcid.{name}/user_logs/std_log.txt{sas}"}
        answer = {
            "runId": name,
            "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "status": record.get("status"),
            "target": "cpu-cluster",
            "warnings": [],
            "logFiles": logs,
            "error": record.get("error"),
            "startTimeUtc": record.get("startTimeUtc"),
            "endTimeUtc": record.get("endTimeUtc"),
        }
        return 200, answer, {}

    def mlflow_run(self, name: str):
        from mlflow import MlflowClient

        store = self.root / "runs" / name / "mlruns"
        client = MlflowClient(tracking_uri=f"file://{store}")
        found = (
            [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
            if store.exists()
            else []
        )
        metrics = [
            {"key": k, "value": v, "timestamp": 0, "step": 0}
            for k, v in (found[0].data.metrics if found else {}).items()
        ]
        return 200, {"run": {"info": {"run_id": name, "status": "FINISHED"}, "data": {"metrics": metrics}}}, {}
