"""The SDK v2 fake's management resources (ARM, `.../workspaces/<ws>/...`): the workspace, computes, datastores
and versioned assets (data, codes, environments, models). Each answer is a recorded one (recorded.py: Azure's
own sessions, its identifiers rewritten to the test's) with the fake's state laid over the fields that carry it;
where no recording holds the operation, the answer is our reading of the SDK's models, and says so here.

State: `state[kind][key]` holds each resource as the service keeps it (a version under `<name>/<version>`)."""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

from tests.workspaces.azureml_v2 import recorded

ACCOUNT = "devstoreaccount1"  # Azurite's own account and its well-known key (its documentation)
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINERS = {"workspaceblobstore": "azureml-blobstore-fake", "workspaceartifactstore": "azureml"}
# a versioned asset's recorded answers: (to its PUT, to its GET); None where no recording holds one
VERSION_ANSWERS: dict[str, tuple[str | None, str | None]] = {
    "data": ("data_version_put", "data_version_get"),
    "models": ("model_version_put", "model_version_get"),
    "codes": (None, "code_version_get"),  # its PUT answers the same resource, 201 as data's and models' do
    "environments": (None, None),
}
SET_BY_THE_SERVICE = {"provisioningState", "isArchived", "isAnonymous"}


class Resources:
    """Mixin of FakeAzureML (fake_service.py), which routes `<kind>_<method>(rest, body)` here."""

    state: dict[str, dict]
    operations: dict[str, list[dict]]
    scope: str
    ids: tuple[str, str, str]  # the test's subscription, resource group and workspace
    sas_seconds: float
    identity_datastores: bool
    long_model_paths: bool

    def recorded(self, name: str) -> tuple[int, Any, dict]:
        return recorded.answer(name, *self.ids)

    def _missing(self, kind: str, name: str) -> tuple[int, dict, dict]:
        """A 404 of ARM's form. Recorded only for a model name never registered (model_versions_list_missing,
        served as recorded); for the others, our reading: the same error body, azure-core raises
        ResourceNotFoundError for any 404."""
        return 404, {"error": {"code": "UserError", "message": f"{kind} {name} not found", "details": []}}, {}

    def workspace_get(self) -> tuple[int, Any, dict]:
        """The recorded workspace, in the region the recorded jobs' tracking endpoints name."""
        return 200, recorded.workspace_in("eastus2", *self.ids), {"Content-Type": "application/json; charset=utf-8"}

    # ---- computes -------------------------------------------------------------------------------------------
    def computes_get(self, rest, body):
        found = self.state["computes"].get(rest[0])
        if found is None:
            return self._missing("Compute", rest[0])
        status, answer, headers = self.recorded("compute_get")
        answer.update(id=found["id"], name=found["name"], location=found.get("location", answer["location"]))
        properties = answer["properties"]
        properties.update({k: v for k, v in found["properties"].items() if k != "properties"})
        properties["properties"].update(found["properties"]["properties"])
        return status, answer, headers

    def computes_put(self, rest, body):
        status, answer, headers = self.recorded("compute_put")
        operation = uuid.uuid4().hex
        self.operations[operation] = [self.recorded(name)[1] for name in ("compute_operation_in_progress",)] + [
            self.recorded("compute_operation_succeeded")[1]
        ]
        headers["Azure-AsyncOperation"] = re.sub(
            r"computeOperationsStatus/[^?]+", f"computeOperationsStatus/{operation}", headers["Azure-AsyncOperation"]
        )
        answer.update(id=f"{self.scope}/computes/{rest[0]}", name=rest[0], location=body.get("location"))
        properties = answer["properties"]
        properties.update(description=body["properties"].get("description"))
        properties["properties"].update(body["properties"]["properties"])
        self.state["computes"][rest[0]] = copy.deepcopy(
            {**answer, "properties": {**properties, "provisioningState": "Succeeded"}}
        )
        return status, answer, headers

    def computes_delete(self, rest, body):
        """Not recorded here: our reading of ARM's asynchronous delete (202, an Azure-AsyncOperation to poll)."""
        self.state["computes"].pop(rest[0], None)
        operation = uuid.uuid4().hex
        self.operations[operation] = [self.recorded("compute_operation_succeeded")[1]]
        url = f"https://management.azure.com/subscriptions/{self.ids[0]}/providers/Microsoft.MachineLearningServices"
        return 202, None, {"Azure-AsyncOperation": f"{url}/locations/westus/computeOperationsStatus/{operation}"}

    # ---- datastores -----------------------------------------------------------------------------------------
    def datastore(self, name: str) -> dict:
        _, answer, _ = self.recorded("datastore_get")
        answer["id"] = f"{self.scope}/datastores/{name}"
        answer["name"] = name
        answer["properties"].update(
            isDefault=name == "workspaceblobstore", accountName=ACCOUNT, containerName=CONTAINERS[name]
        )
        if self.identity_datastores:  # as the portal shows one created with "Use workspace managed identity"
            answer["properties"]["credentials"] = {"credentialsType": "None"}
        return answer

    def datastores_get(self, rest, body):
        if not rest:  # the default one, listed (`?isDefault=true`): the list's form is our reading, its item recorded
            return 200, {"value": [self.datastore("workspaceblobstore")]}, {}
        if rest[0] not in CONTAINERS:
            return self._missing("Datastore", rest[0])
        return 200, self.datastore(rest[0]), {}

    def datastores_post(self, rest, body):  # .../datastores/<name>/listSecrets: a real SAS of Azurite's key
        status, answer, headers = self.recorded("datastore_list_secrets")
        sas = generate_account_sas(
            ACCOUNT,
            KEY,
            ResourceTypes(container=True, object=True),
            AccountSasPermissions(read=True, write=True, create=True, add=True, list=True),
            expiry=datetime.now(UTC) + timedelta(seconds=self.sas_seconds),
        )
        answer["sasToken"] = f"?{sas}"
        return status, answer, headers

    # ---- versioned assets -----------------------------------------------------------------------------------
    def versions_get(self, kind: str, rest: list[str], query: dict[str, list[str]] | None = None):
        name = rest[0]
        if len(rest) == 1:  # the container, for its next version: not recorded (our reading of its model)
            versions = [key.split("/")[1] for key in list(self.state[kind]) if key.startswith(f"{name}/")]
            numbers = [int(v) for v in versions if v.isdigit()]
            if not versions:
                return self._not_registered(kind, name)
            latest = max(numbers, default=0)
            return 200, {"name": name, "properties": {"latestVersion": str(latest), "nextVersion": str(latest + 1)}}, {}
        if len(rest) == 2:  # its versions: none at all is the recorded 404 (ModelNotFound), not an empty list
            versions = [v for k, v in list(self.state[kind].items()) if k.startswith(f"{name}/")]
            view = ((query or {}).get("listViewType") or ["ActiveOnly"])[0]
            archived = {"ActiveOnly": (False,), "ArchivedOnly": (True,)}.get(view, (False, True))
            listed = [v for v in versions if bool(v["properties"].get("isArchived")) in archived]
            return (200, {"value": listed}, {}) if versions else self._not_registered(kind, name)
        found = self.state[kind].get(f"{name}/{rest[2]}")
        if found is None:
            return self._missing(kind, f"{name}:{rest[2]}")
        return self._version_answer(kind, "get", found)

    def _not_registered(self, kind: str, name: str):
        if kind != "models":
            return self._missing(kind, name)
        status, answer, headers = self.recorded("model_versions_list_missing")
        detail = answer["error"]["details"][0]
        detail["message"] = re.sub(r"name: \S+ not found", f"name: {name} not found", detail["message"])
        return status, answer, headers

    def versions_put(self, kind: str, rest: list[str], body: dict):
        name = rest[0]
        if len(rest) == 1:
            self.state[kind][name] = {"name": name, **(body or {})}
            return 200, self.state[kind][name], {}
        put, get = VERSION_ANSWERS[kind]
        status, answer, headers = self.recorded(put or get) if put or get else (201, {}, {})
        key = f"{name}/{rest[2]}"
        existing = self.state[kind].get(key)
        if existing is not None:  # an update of the version (archiving it, tagging it): 200, our reading of ARM
            status = 200
        answer.update(
            id=f"{self.scope}/{kind}/{name}/versions/{rest[2]}",
            name=rest[2],
            type=f"Microsoft.MachineLearningServices/workspaces/{kind}/versions",
        )
        # the recording's fields, unset (the service leaves a field it was not given null), but those it sets itself
        kept = {k: v for k, v in answer.get("properties", {}).items() if k in SET_BY_THE_SERVICE}
        blank = dict.fromkeys(answer.get("properties", {})) | kept
        answer["properties"] = blank | self._as_stored(kind, body["properties"])
        created = existing["systemData"] if existing else {"createdAt": datetime.now(UTC).isoformat()}
        answer["systemData"] = {**answer.get("systemData", {}), **created}
        self.state[kind][key] = answer
        if "Location" in headers:
            headers["Location"] = f"https://management.azure.com{answer['id']}"
        return (201 if put is None else status), answer, headers

    def _version_answer(self, kind: str, method: str, stored: dict):
        _, get = VERSION_ANSWERS[kind]
        if get is None:
            return 200, stored, {}
        status, answer, headers = self.recorded(get)
        return status, {**answer, **stored, "properties": {**answer["properties"], **stored["properties"]}}, headers

    def _as_stored(self, kind: str, properties: dict) -> dict:
        """An asset's properties as the service keeps them: a data asset's path in its long form (recorded:
        `azureml://subscriptions/.../resourcegroups/.../workspaces/.../datastores/<ds>/paths/<path>/`), a model
        version with an empty map where it has no flavors, and its stage; a model's path in the long form too
        when `long_model_paths` says so (the service rewrites data URIs so; for models, our reading)."""
        properties = dict(properties)
        workspace = "azureml://subscriptions/{}/resourcegroups/{}/workspaces/{}".format(*self.ids)
        if kind == "data" and (found := re.match(r"azureml://datastores/([^/]+)/paths/(.*)", properties["dataUri"])):
            properties["dataUri"] = f"{workspace}/datastores/{found[1]}/paths/{found[2].rstrip('/')}/"
        if kind == "models":
            path = properties.get("modelUri") or ""
            job = re.match(r"azureml://jobs/([^/]+)/outputs/artifacts/paths/(.*)", path)
            if self.long_model_paths and job:
                properties["modelUri"] = (
                    f"{workspace}/datastores/workspaceartifactstore/paths/ExperimentRun/dcid.{job[1]}/{job[2]}"
                )
            properties.update(flavors=properties.get("flavors") or {}, stage=properties.get("stage") or "Development")
        return properties
