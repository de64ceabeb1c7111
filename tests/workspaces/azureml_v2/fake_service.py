"""Azure ML's REST API, faked at the HTTP level: an azure-core transport that the real SDK v2 (azure-ai-ml) sends
its requests through. The SDK's own code builds every request, polls every long-running operation and parses
every answer; the answers are Azure's own where its recorded sessions hold them (recorded.py, recorded/*.json:
each names its recording, entry and commit), our reading of the SDK's models where none does (docs/azureml-v2.md
has the table of which is which):

- management (`https://management.azure.com/.../workspaces/<ws>/...`): fake_resources.py (the workspace,
  computes, datastores and their `listSecrets`, data, code, environment and model versions) and fake_jobs.py
  (jobs: PUT, GET, list, cancel);
- the data plane (`https://<region>.api.azureml.ms`): the run history's details and `runs:query`, and MLflow's
  `runs/get` (metrics): fake_jobs.py;
- blob storage (`https://<account>.blob.core.windows.net/...`): sent on, over http, to Azurite, Microsoft's
  storage emulator, on 127.0.0.1; the account is Azurite's, and listSecrets answers a real SAS of its key, which
  Azurite checks.

Faults: tests/workspaces/faults.py decides them (targeted, or seeded at random over every request, blobs
included), this transport does them: an HTTP error, a connection reset before the request arrives, or after the
fake acted on it (its answer lost), raised as azure-core's RequestsTransport raises it. Every answer it gives is
kept (`answered`), for the conformance test to compare with the recorded ones.
"""

import contextlib
import io
import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.storage.blob import ContainerClient

from tests.workspaces.azureml_v1.fake_runner import read_json
from tests.workspaces.azureml_v2.fake_jobs import Jobs
from tests.workspaces.azureml_v2.fake_resources import ACCOUNT, CONTAINERS, KEY, Resources
from tests.workspaces.faults import Fault, Faults

VERSIONED = ("data", "codes", "environments", "models")  # assets kept as <name>/versions/<version>
SCOPE = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)"
)


class NothingToOpen(HttpTransport):
    """An azure-core transport with no connection of its own to open or close."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def open(self):
        pass

    def close(self):
        pass


class FakeAzureML(Resources, Jobs, NothingToOpen):
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
        self.default_output = True  # False: jobs without a default output folder, their logs listed in their details
        self.answered: list[tuple[str, str, int, Any]] = []  # (method, url, status, body) of every answer given
        self.ids = ("", "", "")
        self.state: dict[str, dict] = defaultdict(dict)  # kind -> key -> resource
        self.operations: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        for container in CONTAINERS.values():
            client = ContainerClient(
                self.azurite_url, container, credential={"account_name": ACCOUNT, "account_key": KEY}
            )
            if not client.exists():
                client.create_container()

    # ---- azure-core's transport protocol (send; the rest: NothingToOpen) --------------------------------------
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
            self.sync_for_blobs(unquote(f"{url.path}?{url.query}"))
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
        with self.lock:
            self.answered.append((request.method, request.url, status, body))
        content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        return transport_response(
            request, status, content, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )

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
        self.scope, self.ids = scope.group(0), scope.groups()
        rest = path[scope.end() :].strip("/").split("/")
        if rest == [""] and method == "GET":
            return self.workspace_get()
        if rest[0] in VERSIONED and method == "GET":
            return self.versions_get(rest[0], rest[1:], parse_qs(url.query))
        if rest[0] in VERSIONED and method == "PUT":
            return self.versions_put(rest[0], rest[1:], body or {})
        if rest == ["jobs"] and method == "GET":
            return self.jobs_list(parse_qs(url.query))
        handler = getattr(self, f"{rest[0]}_{method.lower()}", None) if rest and rest[0] else None
        if handler is None:
            return 404, {"error": {"code": "NotFound", "message": f"the fake does not answer {method} {path}"}}, {}
        return handler(rest[1:], body)

    def stop_every_run(self) -> None:
        import os
        import signal

        for record in (read_json(p) for p in (self.root / "runs").glob("*/run.json")):
            if record and record.get("pid"):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(record["pid"], signal.SIGKILL)


def transport_response(request, status: int, content: bytes, headers: dict):
    """An answer to `request` as azure-core's RequestsTransport gives one, of the kind the request is (the SDK's
    newer clients speak azure.core.rest, the older ones the pipeline's types)."""
    response = requests.Response()
    response.status_code, response.url = status, request.url
    response.reason = requests.status_codes._codes.get(status, ("",))[0]
    response._content, response.raw = content, io.BytesIO(content)
    response.headers.update(headers)
    response.request = requests.Request(request.method, request.url).prepare()
    if is_rest(request):
        answer = RestRequestsTransportResponse(request=request, internal_response=response)
        answer.read()
        return answer
    return RequestsTransportResponse(request, response)


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
