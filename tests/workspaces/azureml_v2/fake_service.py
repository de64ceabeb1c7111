"""Azure ML's REST API, faked at the HTTP level: an azure-core transport that the real SDK v2 (azure-ai-ml) sends
its requests through. The SDK's own code builds every request, polls every long-running operation and parses
every answer; only the answers are ours, shaped from Azure's recorded sessions (recorded/README.md says which).

- management (`https://management.azure.com/.../workspaces/<ws>/...`): computes (PUT answers 201 with an
  `Azure-AsyncOperation` URL, polled to `Succeeded`), datastores and their `listSecrets`, data, code and
  environment versions, jobs (PUT, GET, cancel), models;
- the data plane (`https://<region>.api.azureml.ms`): a run's details (status, error, log files' SAS URLs) and
  MLflow's `runs/get` (metrics);
- blob storage (`https://<account>.blob.core.windows.net/...`): sent on, over http, to Azurite, Microsoft's
  storage emulator, on 127.0.0.1; the account is Azurite's, and listSecrets answers a real SAS of its key, which
  Azurite checks.

A job runs for real: its code and data are read back from Azurite into a folder, and
tests/workspaces/azureml_v1/fake_runner.py runs its command there, walking Azure ML's statuses; its log and
outputs are written to the artifact store as the run goes (ExperimentRun/dcid.<job>/...).

Faults: tests/workspaces/faults.py decides them (targeted, or seeded at random over every request, blobs
included), this transport does them: an HTTP error, a connection reset before the request arrives, or after the
fake acted on it (its answer lost), raised as azure-core's RequestsTransport raises it.
"""

import contextlib
import io
import json
import re
import shlex
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.storage.blob import AccountSasPermissions, ContainerClient, ResourceTypes, generate_account_sas

from tests.workspaces.azureml_v1.fake_runner import read_json, start_runner, write_json
from tests.workspaces.faults import Fault, Faults

RECORDED = Path(__file__).with_name("recorded")
VERSIONED = ("data", "codes", "environments", "models")  # assets kept as <name>/versions/<version>
ACCOUNT = "devstoreaccount1"  # Azurite's own account and its well-known key (its documentation)
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINERS = {"workspaceblobstore": "azureml-blobstore-fake", "workspaceartifactstore": "azureml"}
SCOPE = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)"
)


class FakeAzureML(HttpTransport):
    def __init__(self, root: Path, azurite_url: str):
        self.root = Path(root)
        self.azurite_url = azurite_url.rstrip("/")  # http://127.0.0.1:<port>/devstoreaccount1
        self.blob_transport = RequestsTransport()
        self.requests: list[tuple[str, str]] = []  # (method, url) of every request, in order
        self.times: list[float] = []  # when each was sent (time.monotonic())
        self.faults = Faults()
        self.repeated_job_put = "refused"  # or "updated": see jobs_put
        self.interruptions: dict[str, list] = {}  # run name -> [status, seconds] reported while it runs
        self.sas_seconds = 3600  # how long a SAS of listSecrets lasts (the SDK asks for expireAfterHours: 1)
        self.logs_copied: dict[str, tuple[int, int]] = {}  # a job -> the size and time of its log when copied
        self.identity_datastores = False  # datastores that keep no secret (identity-based access): see _act
        self.bearer_blob_requests = 0
        self.long_model_paths = False  # a model's path kept in the long form the service gives data URIs (_as_stored)
        self.state: dict[str, dict] = defaultdict(dict)  # kind -> key -> resource
        self.operations: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        for container in CONTAINERS.values():
            client = ContainerClient(
                self.azurite_url, container, credential={"account_name": ACCOUNT, "account_key": KEY}
            )
            if not client.exists():
                client.create_container()

    # ---- azure-core's transport protocol --------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def open(self):
        pass

    def close(self):
        pass

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        with self.lock:
            self.requests.append((request.method, request.url))
            self.times.append(time.monotonic())
        fault = self.faults.decide(request.method, url.hostname or "", url.path)
        if fault is not None and fault.kind == "reset":
            raise connection_reset()
        if fault is not None and fault.kind == "status":
            return self._answer(request, fault.status, *error_answer(fault, url.hostname or ""))
        answer = self._act(request, url, **kwargs)
        if fault is not None and fault.kind == "lost":
            raise connection_reset()
        return answer

    def _act(self, request, url, **kwargs):
        if url.hostname and url.hostname.endswith(".blob.core.windows.net"):
            query = url.query
            bearer = request.headers.get("Authorization", "")
            if bearer.startswith("Bearer "):
                # Azure Storage takes an AAD token of an identity that has a data role on it; Azurite takes one
                # only over HTTPS: the fake checks the token is one the credential gave, and has Azurite check a
                # SAS of its key in its place
                if not bearer.removeprefix("Bearer ").startswith("token-"):
                    return self._answer(request, 403, {"error": {"code": "AuthenticationFailed"}})
                self.bearer_blob_requests += 1
                query = "&".join(filter(None, [query, self.datastores_post([], None)[1]["sasToken"].lstrip("?")]))
                del request.headers["Authorization"]
            azure_url, request.url = (request.url, f"{self.azurite_url}{url.path}" + (f"?{query}" if query else ""))
            try:
                return self.blob_transport.send(request, **kwargs)
            finally:  # the request as the SDK made it: a retry of it goes to Azure's URL again
                request.url = azure_url
                if bearer:
                    request.headers["Authorization"] = bearer
        body = json.loads(request.body) if request.body else None
        status, answer, headers = self.route(request.method, url, body)
        return self._answer(request, status, answer, headers)

    def _answer(self, request, status: int, body: Any, headers: dict | None = None):
        response = requests.Response()
        response.status_code, response.url = status, request.url
        response.reason = requests.status_codes._codes.get(status, ("",))[0]
        content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        response._content, response.raw = content, io.BytesIO(content)
        response.headers.update({"Content-Type": "application/json; charset=utf-8", **(headers or {})})
        response.request = requests.Request(request.method, request.url).prepare()
        if is_rest(request):  # the SDK's newer clients speak azure.core.rest, the older ones the pipeline's types
            answer = RestRequestsTransportResponse(request=request, internal_response=response)
            answer.read()
            return answer
        return RequestsTransportResponse(request, response)

    # ---- faults ---------------------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path_part: str,
        status: int,
        code: str,
        message: str,
        times: int = 1,
        headers: dict | None = None,
    ) -> None:
        """The next `times` requests of `method` whose path holds `path_part` are answered `status`, with ARM's
        error body; other kinds of fault through `self.faults.fail` (tests/workspaces/faults.py)."""
        body = {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}
        self.faults.fail(method, path_part, "status", status, times, body, headers)

    def count(self, method: str, path_part: str) -> int:
        return sum(m == method and path_part in urlparse(u).path for m, u in self.requests)

    # ---- routing --------------------------------------------------------------------------------------------
    def route(self, method: str, url, body: dict | None) -> tuple[int, Any, dict]:
        path = unquote(url.path)
        if "computeOperationsStatus" in path:
            return 200, self.operations[path.rsplit("/", 1)[1]].pop(0), {}
        if path.startswith("/history/v1.0") and path.endswith("/runs:query") and method == "POST":
            return self.runs_query(path.rsplit("/experiments/", 1)[1].removesuffix("/runs:query"), body or {})
        if path.startswith("/history/v1.0"):
            return self.run_details(path.rsplit("/runs/", 1)[1].removesuffix("/details"))
        if "/api/2.0/mlflow/runs/get" in path:
            return self.mlflow_run(parse_qs(url.query)["run_id"][0])
        scope = SCOPE.match(path)
        if not scope:
            return 404, {"error": {"code": "NotFound", "message": f"the fake has no {path}"}}, {}
        self.scope = scope.group(0)
        rest = path[scope.end() :].strip("/").split("/")
        if rest == [""] and method == "GET":
            return 200, self._workspace(scope.groups()), {}
        if rest[0] in VERSIONED and method == "GET":
            return self._versions(rest[0], rest[1:], body, "get")
        if rest[0] in VERSIONED and method == "PUT":
            return self._versions(rest[0], rest[1:], self._as_stored(rest[0], rest[1:], body), "put")
        handler = getattr(self, f"{rest[0]}_{method.lower()}", None) if rest and rest[0] else None
        if handler is None:
            return 404, {"error": {"code": "NotFound", "message": f"the fake does not answer {method} {path}"}}, {}
        return handler(rest[1:], body)

    def _workspace(self, ids: tuple[str, str, str]) -> dict:
        text = json.dumps(read_json(RECORDED / "workspace.json")).replace("{scope}", self.scope)
        for placeholder, value in zip(("{subscription}", "{group}", "{workspace}"), ids, strict=True):
            text = text.replace(placeholder, value)
        return json.loads(text)

    def _missing(self, kind: str, name: str) -> tuple[int, dict, dict]:
        return 404, {"error": {"code": "UserError", "message": f"{kind} {name} not found"}}, {}

    def _stored(self, kind: str, key: str, body: dict, name: str) -> dict:
        resource = {
            **body,
            "id": f"{self.scope}/{kind}/{key.replace('/', '/versions/')}",
            "name": name,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}",
            "systemData": {"createdAt": datetime.now(UTC).isoformat(), "createdByType": "User"},
        }
        self.state[kind][key] = resource
        return resource

    # ---- computes -------------------------------------------------------------------------------------------
    def computes_get(self, rest, body):
        found = self.state["computes"].get(rest[0])
        return (200, found, {}) if found else self._missing("Compute", rest[0])

    def computes_put(self, rest, body):
        recorded = read_json(RECORDED / "compute_put.json")
        operation = uuid.uuid4().hex
        self.operations[operation] = list(recorded["operation"])
        resource = self._stored("computes", rest[0], body, rest[0])
        resource["properties"] = {
            **recorded["body"]["properties"],
            **body["properties"],
            "provisioningState": "Succeeded",
        }
        headers = {
            k: v.replace("{subscription}", "00000000").replace("{operation}", operation)
            for k, v in recorded["headers"].items()
        }
        return (
            recorded["status"],
            {**resource, "properties": {**resource["properties"], "provisioningState": "Creating"}},
            headers,
        )

    def computes_delete(self, rest, body):
        self.state["computes"].pop(rest[0], None)
        operation = uuid.uuid4().hex
        self.operations[operation] = [{"status": "Succeeded"}]
        return (
            202,
            None,
            {
                "Azure-AsyncOperation": f"https://management.azure.com/subscriptions/0/providers/"
                f"Microsoft.MachineLearningServices/locations/westus/computeOperationsStatus/{operation}"
            },
        )

    # ---- datastores -----------------------------------------------------------------------------------------
    def datastores_get(self, rest, body):
        recorded = read_json(RECORDED / "datastore.json")["get"]
        names = list(CONTAINERS) if not rest else [rest[0]]
        if rest and rest[0] not in CONTAINERS:
            return self._missing("Datastore", rest[0])
        answers = []
        for name in names:
            text = json.dumps(recorded).replace("{name}", name).replace("{scope}", self.scope)
            text = text.replace("{account}", ACCOUNT).replace("{container}", CONTAINERS[name])
            answer = json.loads(text)
            answer["properties"]["isDefault"] = name == "workspaceblobstore"
            if self.identity_datastores:  # as the portal shows one created with "Use workspace managed identity"
                answer["properties"]["credentials"] = {"credentialsType": "None"}
            answers.append(answer)
        return (
            (200, answers[0], {})
            if rest
            else (200, {"value": [a for a in answers if a["properties"]["isDefault"]]}, {})
        )

    def datastores_post(self, rest, body):  # .../datastores/<name>/listSecrets
        sas = generate_account_sas(
            ACCOUNT,
            KEY,
            ResourceTypes(container=True, object=True),
            AccountSasPermissions(read=True, write=True, create=True, add=True, list=True),
            expiry=datetime.now(UTC) + timedelta(seconds=self.sas_seconds),
        )
        return 200, {"secretsType": "Sas", "sasToken": f"?{sas}"}, {}

    # ---- versioned assets: data, codes, environments, models ------------------------------------------------
    def _versions(self, kind: str, rest, body, method: str):
        name = rest[0]
        if len(rest) == 1:  # the container: its latest version
            versions = [k for k in list(self.state[kind]) if k.startswith(f"{name}/")]
            if method == "put":
                return 200, self._stored(kind, name, body or {}, name), {}
            if not versions:
                return self._missing(kind, name)
            latest = max(int(v.split("/")[1]) for v in versions if v.split("/")[1].isdigit())
            return 200, {"name": name, "properties": {"latestVersion": str(latest), "nextVersion": str(latest + 1)}}, {}
        if len(rest) == 2:  # the versions
            listed = [v for k, v in list(self.state[kind].items()) if k.startswith(f"{name}/")]
            return 200, {"value": listed}, {}
        key = f"{name}/{rest[2]}"
        if method == "put":
            return 200, self._stored(kind, key, body, rest[2]), {}
        found = self.state[kind].get(key)
        return (200, found, {}) if found else self._missing(kind, key)

    def _as_stored(self, kind: str, rest: list[str], body):
        """A model version as the service keeps it: an empty map where it has no flavors, and its stage."""
        if kind == "models" and len(rest) == 3 and body:
            path = body["properties"].get("modelUri") or ""
            if self.long_model_paths and (
                job := re.match(r"azureml://jobs/([^/]+)/outputs/artifacts/paths/(.*)", path)
            ):
                workspace = self.scope.replace("/providers/Microsoft.MachineLearningServices", "").lower()
                body["properties"]["modelUri"] = (
                    f"azureml:/{workspace}/datastores/workspaceartifactstore/paths/ExperimentRun/dcid.{job[1]}/{job[2]}"
                )
            body["properties"] = {
                **body["properties"],
                "flavors": body["properties"].get("flavors") or {},
                "stage": body["properties"].get("stage") or "Development",
            }
        return body

    # ---- jobs -----------------------------------------------------------------------------------------------
    def jobs_get(self, rest, body):
        if not rest:  # the list, in one page (the SDK follows nextLink when there is one)
            listed = [self.jobs_get([name], None)[1] for name in list(self.state["jobs"])]  # (a copy: see runs_query)
            return 200, {"value": listed, "nextLink": None}, {}
        job = self.state["jobs"].get(rest[0])
        if job is None:
            return self._missing("Job", rest[0])
        self._sync(rest[0])
        return 200, job, {}

    def jobs_put(self, rest, body):
        name = rest[0]
        if name in self.state["jobs"]:
            # What Azure answers to a PUT of a job that exists is not recorded anywhere public: a changed job is
            # refused ("already exists", a Microsoft Q&A thread), an identical one may be taken as an update. The
            # fake gives either, by `repeated_job_put`; the adapter is tested against both.
            if self.repeated_job_put == "updated":
                return 200, self.state["jobs"][name], {}
            return 409, {"error": {"code": "UserError", "message": f"Job {name} already exists"}}, {}
        recorded = json.dumps(read_json(RECORDED / "job.json"))
        recorded = (
            recorded.replace("{name}", name).replace("{scope_lower}", self.scope.lower()).replace("{scope}", self.scope)
        )
        job = json.loads(recorded)
        job["properties"] = {
            **job["properties"],
            **body["properties"],
            "status": "Starting",
            "services": job["properties"]["services"],
            "outputs": job["properties"]["outputs"],
        }
        self.state["jobs"][name] = job
        self._start(name, job)
        return 201, job, {}

    def cancel_from_outside(self, name: str) -> None:
        """What a person does in the studio."""
        self.jobs_post([name, "cancel"], None)

    def jobs_post(self, rest, body):  # .../jobs/<name>/cancel
        folder = self.root / "runs" / rest[0]
        record = read_json(folder / "run.json")
        if record and record["status"] not in ("Completed", "Failed", "Canceled"):
            write_json(folder / "run.json", {**record, "cancel_requested": True})
        return 202, None, {"Location": f"https://management.azure.com{getattr(self, 'scope', '')}/jobs/{rest[0]}"}

    # ---- a job's run, for real ------------------------------------------------------------------------------
    def _container(self, datastore: str) -> ContainerClient:
        return ContainerClient(
            self.azurite_url, CONTAINERS[datastore], credential={"account_name": ACCOUNT, "account_key": KEY}
        )

    def _download(self, uri: str, dest: Path) -> None:
        """An `azureml://datastores/<ds>/paths/<folder>/` folder, or a blob folder's https URL, from Azurite."""
        if uri.startswith("https://"):
            container_name, folder = urlparse(uri).path.lstrip("/").split("/", 1)
            datastore = next(name for name, container in CONTAINERS.items() if container == container_name)
        else:
            datastore, folder = re.match(r"azureml://datastores/([^/]+)/paths/(.*)", uri).groups()
        container = self._container(datastore)
        for blob in container.list_blobs(name_starts_with=folder):
            target = dest / blob.name[len(folder) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(container.download_blob(blob.name).readall())

    def _resolve_data(self, uri: str) -> str:
        """`azureml:mnist:<version>` (or its ARM id) as the datastore path its version records."""
        name, version = re.search(r"(?:azureml:|/data/)([^:/]+)(?::|/versions/)([^/]+)$", uri).groups()
        return self.state["data"][f"{name}/{version}"]["properties"]["dataUri"]

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

    def runs_query(self, experiment: str, query: dict):
        """The run history's listing, as SDK v1's `get_runs_by_run_ids` asks it: `RunId eq <id>` joined by `or`
        (azureml/_restclient/_odata/runs.py), one page; each run's RunDto fields the adapter reads. A job's log
        reaches the store as it writes it; the fake copies it when asked."""
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
        sas = self.datastores_post([], None)[1]["sasToken"]
        account = f"https://{ACCOUNT}.blob.core.windows.net/{CONTAINERS['workspaceartifactstore']}"
        logs = {"user_logs/std_log.txt": f"{account}/ExperimentRun/dcid.{name}/user_logs/std_log.txt{sas}"}
        present = (self.root / "runs" / name / "user_logs" / "std_log.txt").exists()
        answer = {
            "runId": name,
            "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "status": record.get("status"),
            "target": "cpu-cluster",
            "warnings": [],
            "logFiles": logs if present else {},
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

    def stop_every_run(self) -> None:
        import os
        import signal

        for record in (read_json(p) for p in (self.root / "runs").glob("*/run.json")):
            if record and record.get("pid"):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(record["pid"], signal.SIGKILL)


def connection_reset() -> Exception:
    """What azure-core's RequestsTransport raises when the connection is reset (requests' ConnectionError
    around urllib3's ProtocolError: azure/core/pipeline/transport/_requests_basic.py, `send`)."""
    from azure.core.exceptions import ServiceResponseError
    from urllib3.exceptions import ProtocolError

    error = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")))
    return ServiceResponseError(error, error=error)


def error_answer(fault: Fault, host: str) -> tuple[Any, dict]:
    """A status fault's body and headers: the one given, else what the service on `host` answers with it."""
    if fault.body is not None:
        return fault.body, fault.headers
    if host.endswith(".blob.core.windows.net"):  # Azure Storage's error: XML, its code also in a header
        code = {429: "ServerBusy", 503: "ServerBusy"}.get(fault.status, "InternalError")
        xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>fault</Message></Error>'
        return xml.encode(), {"Content-Type": "application/xml", "x-ms-error-code": code, **fault.headers}
    code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}.get(fault.status, "Error")
    return {"error": {"code": code, "message": "a fault of the test", "details": []}}, fault.headers


class FakeCredential:
    """A TokenCredential: a new token at every call (counted), valid for an hour."""

    def __init__(self):
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.calls.append(scopes)
        return AccessToken(f"token-{len(self.calls)}", int(time.time()) + 3600)


def connect_to_fake(fake: FakeAzureML, credential: FakeCredential | None = None):
    """The seam's fake side: a real MLClient whose every request goes to `fake`. Some settings differ from their
    defaults so that a test does not wait minutes: the pipeline's retries are fewer and quicker (azure-core's: 10,
    from 0.8 s; their behaviour, Retry-After honoured, 408/429/5xx retried, is its own), so are the storage
    clients' (azure-storage-blob's ExponentialRetry: 3, from 15 s), and a long-running operation is polled every
    0.2 s (ARM's default: 30 s, when the service sends no Retry-After)."""
    from azure.ai.ml import MLClient
    from azure.storage.blob import ExponentialRetry

    from workspaces.azureml_v2.client import Connection

    credential = credential or FakeCredential()
    ml = MLClient(
        credential,
        SUBSCRIPTION,
        "rg-mnist",
        "ws-mnist",
        transport=fake,
        retry_total=2,
        retry_backoff_factor=0.1,
        polling_interval=0.2,
    )
    quicker = ExponentialRetry(initial_backoff=0.2, increment_base=1.5, retry_total=3, random_jitter_range=0.1)
    return Connection(ml, credential, "a fake of Azure ML (tests)", fake, {"retry_policy": quicker})


SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
