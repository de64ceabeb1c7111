"""The fake Azure ML workspace behind SDK v1 (see fake_service.py for how it is reached and what it answers)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from azure.storage.blob import BlobSasPermissions, ContainerClient, generate_blob_sas

from tests.workspaces.azureml_v1.fake_artifacts import Artifacts, Metrics
from tests.workspaces.azureml_v1.fake_computes import Computes
from tests.workspaces.azureml_v1.fake_history import History
from tests.workspaces.azureml_v1.fake_models import Models
from tests.workspaces.azureml_v1.fake_runner import RUNTIME_LOGS
from tests.workspaces.azureml_v1.fake_runs import Runs
from tests.workspaces.azureml_v1.fake_service import RECORDED, FakeServer, error_body, forward_to_azurite
from tests.workspaces.azureml_v1.fake_snapshots import Execution, Snapshots
from tests.workspaces.azureml_v1.http_seam import SUBSCRIPTION
from tests.workspaces.azureml_v2 import recorded

WORKSPACE = "ws-mnist"
GROUP = "rg-mnist"
REGION = "eastus2"
SCOPE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices"
    f"/workspaces/{WORKSPACE}"
)
ACCOUNT = "devstoreaccount1"  # Azurite's own account and its well-known key (its documentation)
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ARM_SCOPE = (
    r"/subscriptions/([^/]+)/resource[gG]roups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)"
)


class FakeAzureMLv1(FakeServer, Computes, Runs, History, Snapshots, Execution, Artifacts, Metrics, Models):
    def __init__(self, root: Path, azurite_url: str, runtime: str = "common"):
        super().__init__()
        self.root = Path(root)
        self.azurite_url = azurite_url.rstrip("/")
        self.runtime_logs = RUNTIME_LOGS[runtime]  # which log files runs write: "common", "legacy" or "both"
        self.queue_seconds: dict[str, float] = {}  # how long a run stays Queued, by run name (fake_runs.behaviour)
        self.preempt: list[str] = []  # run names whose next run loses its node once running
        self.interruptions: dict[str, list] = {}  # run name -> [status, seconds] reported while it runs
        self.sas_hours = 1.0  # how long the SAS of a URL the services hand out is valid
        self.logs_copied: dict[str, tuple[int, int]] = {}  # a log blob -> the size and time of its file when copied
        self.workspace_id = str(uuid.uuid4())  # (the SDK keys its snapshot cache in ~/.azureml by it)
        # the workspace's storage: containers of its own in Azurite, which every test's workspace shares
        self.containers = {
            "workspaceblobstore": f"azureml-blobstore-{self.workspace_id}",
            "workspaceartifactstore": f"azureml-{self.workspace_id[:8]}",
        }
        self.subscription, self.group, self.workspace_name, self.region = SUBSCRIPTION, GROUP, WORKSPACE, REGION
        self._init_computes(ARM_SCOPE)
        self._init_runs(ARM_SCOPE)
        self._init_history(ARM_SCOPE)
        self._init_snapshots(ARM_SCOPE)
        self._init_execution(ARM_SCOPE)
        self._init_artifacts(ARM_SCOPE)
        self._init_metrics(ARM_SCOPE)
        self._init_models(ARM_SCOPE)
        self.root = Path(root)
        self.azurite_url = azurite_url.rstrip("/")
        self.route("GET", "arm", r"/metadata/endpoints", self.cloud_metadata)
        self.route("GET", "arm", ARM_SCOPE, self.workspace, "Workspace")
        self.route("GET", "service", r"/discovery", self.discovery)
        self.route("GET", "service", rf"/datastore/v1.0{ARM_SCOPE}/default", self.default_datastore, "DataStore")
        self.route("GET", "service", rf"/datastore/v1.0{ARM_SCOPE}/datastores/([^/]+)", self.datastore, "DataStore")
        for container in self.containers.values():
            client = ContainerClient(
                self.azurite_url, container, credential={"account_name": ACCOUNT, "account_key": KEY}
            )
            if not client.exists():
                client.create_container()
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD"):
            self.route(method, "blob", r"(/.*)", lambda request, path: forward_to_azurite(self.azurite_url, request))

    def cloud_metadata(self, request):
        return 200, json.loads((RECORDED / "arm_metadata.json").read_text()), {}

    def discovery(self, request):
        return 200, json.loads((RECORDED / "discovery.json").read_text()), {}

    # ---- datastores (the datastore service: the DataStore model, its AzureStorage section) ----------------------
    def default_datastore(self, request, *scope):
        return self.datastore(request, *scope, "workspaceblobstore")

    def datastore(self, request, subscription, group, workspace, name):
        if name not in self.containers:
            return 404, error_body("UserError", f"Datastore {name} not found", 404), {}
        storage = {
            "accountName": ACCOUNT,
            "containerName": self.containers[name],
            "endpoint": "core.windows.net",
            "protocol": "https",
            "credentialType": "AccountKey",
            "credential": KEY,
            "isSas": False,
            "accountKey": KEY,
            "subscriptionId": subscription,
            "resourceGroup": group,
        }
        answer = {"name": name, "dataStoreType": "AzureBlob", "hasBeenValidated": True, "tags": {}}
        return 200, {**answer, "azureStorageSection": storage}, {}

    def workspace(self, request, subscription, group, name):
        if (subscription, group, name) != (SUBSCRIPTION, GROUP, WORKSPACE):
            return 404, {"error": {"code": "ResourceNotFound", "message": f"Workspace {name} not found"}}, {}
        answer = recorded.workspace_in(REGION, subscription, group, name)
        answer["properties"]["workspaceId"] = self.workspace_id
        return 200, answer, {}

    # ---- blobs in Azurite -----------------------------------------------------------------------------------
    def container(self, datastore: str) -> ContainerClient:
        return ContainerClient(
            self.azurite_url, self.containers[datastore], credential={"account_name": ACCOUNT, "account_key": KEY}
        )

    def blob_url(self, datastore: str, name: str, write: bool = False, hours: float = 1) -> str:
        """The blob's URL on Azure, with a SAS (read, or write) valid for `hours`, as the services hand them out."""
        permission = BlobSasPermissions(read=True, write=write, create=write)
        sas = generate_blob_sas(
            ACCOUNT,
            self.containers[datastore],
            name,
            account_key=KEY,
            permission=permission,
            expiry=datetime.now(UTC) + timedelta(hours=hours),
        )
        return f"https://{ACCOUNT}.blob.core.windows.net/{self.containers[datastore]}/{quote(name)}?{sas}"

    def download_blob(self, datastore: str, name: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.container(datastore).download_blob(name).readall())

    def download_folder(self, datastore: str, folder: str, target: Path) -> None:
        prefix = folder.strip("/") + "/"
        for blob in self.container(datastore).list_blobs(name_starts_with=prefix):
            self.download_blob(datastore, blob.name, target / blob.name[len(prefix) :])

    def upload_file(self, datastore: str, name: str, path: Path) -> None:
        self.container(datastore).upload_blob(name, path.read_bytes(), overwrite=True)

    def copy_log(self, name: str, path: Path) -> None:
        """A run's log file into the artifact store, unless it is there as it is (its size and time unchanged):
        a fake that copies 64 logs at every status query would be what a benchmark of polling measures."""
        seen = path.stat()
        if self.logs_copied.get(name) != (seen.st_size, seen.st_mtime_ns):
            self.upload_file("workspaceartifactstore", name, path)
            self.logs_copied[name] = (seen.st_size, seen.st_mtime_ns)
