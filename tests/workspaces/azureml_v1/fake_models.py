"""The model registry of the fake Azure ML workspace (SDK v1): the model management service's models (the SDK's
Model model: id "<name>:<version>", kvTags, properties, url of its files), listed with the filters `Model.list`
writes (name, runId, tags "k=v,k2"), registered from a run's files, tagged by JSON patch."""

import uuid

from tests.workspaces.azureml_v1.fake_service import now_iso

MMS = "/modelmanagement/v1.0"
# what the service fills in a version that was registered without them (the SDK iterates `datasets`)
SERVICE_DEFAULTS = {"datasets": [], "derivedModelIds": [], "unpack": False, "mimeType": "application/json"}


class Models:
    """Mixin of FakeAzureMLv1: `models` (id -> Model), and the assets that point at their files."""

    def _init_models(self, arm_scope: str) -> None:
        self.models: dict[str, dict] = {}
        self.assets: dict[str, dict] = {}
        self.route("POST", "service", rf"{MMS}{arm_scope}/assets", self.asset_create, "Asset")
        self.route("GET", "service", rf"{MMS}{arm_scope}/assets/([^/]+)", self.asset_get, "Asset")
        models = rf"{MMS}{arm_scope}/models"
        self.route("GET", "service", models, self.models_query, "PaginatedModelList")
        self.route("POST", "service", models, self.model_register, "Model")
        self.route("GET", "service", rf"{models}/([^/]+)", self.model_get, "Model")
        self.route("PATCH", "service", rf"{models}/([^/]+)", self.model_patch, "Model")
        self.route("DELETE", "service", rf"{models}/([^/]+)", self.model_delete)

    def model_missing(self, model_id: str):
        message = f"Model with id {model_id} not found"
        return 404, {"code": "NotFound", "statusCode": 404, "message": message, "details": []}, {}

    def models_query(self, request, *scope):
        found = list(self.models.values())
        if name := request.arg("name"):
            found = [m for m in found if m["name"] == name]
        if run_id := request.arg("runId"):
            found = [m for m in found if m.get("runId") == run_id]
        for tag in filter(None, (request.arg("tags") or "").split(",")):
            key, _, value = tag.partition("=")
            found = [m for m in found if key in m["kvTags"] and (not value or m["kvTags"][key] == value)]
        found.sort(key=lambda m: m["version"], reverse=True)
        return 200, {"value": found, "continuationToken": None, "nextLink": None}, {}

    def model_register(self, request, *scope):
        body = request.json()
        version = 1 + sum(m["name"] == body["name"] for m in self.models.values())
        model = {
            **SERVICE_DEFAULTS,
            **{k: v for k, v in body.items() if v is not None},
            "id": f"{body['name']}:{version}",
            "version": version,
            "kvTags": body.get("kvTags") or {},
            "properties": body.get("properties") or {},
            "createdTime": now_iso(),
            "modifiedTime": now_iso(),
            "createdBy": {"userObjectId": str(uuid.uuid4()), "userTenantId": None, "userName": "tester"},
        }
        self.models[model["id"]] = model
        return 200, model, {}

    def model_get(self, request, *ids):
        model = self.models.get(ids[-1])
        return (200, model, {}) if model else self.model_missing(ids[-1])

    def model_delete(self, request, *ids):
        return (200, None, {}) if self.models.pop(ids[-1], None) else self.model_missing(ids[-1])

    def model_patch(self, request, *ids):
        model = self.models.get(ids[-1])
        if model is None:
            return self.model_missing(ids[-1])
        for operation in request.json():  # JSON patch: add or remove /kvTags/<key> or the whole /kvTags
            path, value = operation["path"], operation.get("value")
            if path == "/kvTags":
                model["kvTags"] = dict(value or {})
            elif path.startswith("/kvTags/") and operation["op"] == "remove":
                model["kvTags"].pop(path.split("/", 2)[2], None)
            elif path.startswith("/kvTags/"):
                model["kvTags"][path.split("/", 2)[2]] = value
        model["modifiedTime"] = now_iso()
        return 200, model, {}

    # ---- assets: what a model's url (aml://asset/<id>) names: artifacts, by id or by prefix -----------------------
    def asset_create(self, request, *scope):
        body = request.json()
        asset = {**{k: v for k, v in body.items() if v is not None}, "id": uuid.uuid4().hex, "createdTime": now_iso()}
        self.assets[asset["id"]] = asset
        return 200, asset, {}

    def asset_get(self, request, *ids):
        asset = self.assets.get(ids[-1])
        if asset is None:
            return 404, {"code": "NotFound", "statusCode": 404, "message": f"Asset {ids[-1]} not found"}, {}
        return 200, asset, {}

    # ---- for the tests ----------------------------------------------------------------------------------------
    def registry(self) -> list[dict]:
        """The registered versions, oldest first: name, version, run_id, tags."""
        ordered = sorted(self.models.values(), key=lambda m: (m["name"], m["version"]))
        return [
            {"name": m["name"], "version": str(m["version"]), "run_id": m.get("runId"), "tags": m["kvTags"]}
            for m in ordered
        ]

    def register_by_hand(self, run_id: str, name: str, tags: dict | None = None) -> str:
        """What a person does in the studio: a version of the run's model file, without the adapter's tags."""
        prefix = f"ExperimentRun/dcid.{run_id}/outputs/"
        asset = {"id": uuid.uuid4().hex, "artifacts": [{"prefix": prefix}], "runid": run_id}
        self.assets[asset["id"]] = asset
        version = 1 + sum(m["name"] == name for m in self.models.values())
        model = {
            **SERVICE_DEFAULTS,
            "id": f"{name}:{version}",
            "name": name,
            "version": version,
            "runId": run_id,
            "kvTags": dict(tags or {}),
            "properties": {},
            "url": f"aml://asset/{asset['id']}",
            "mimeType": "application/json",
            "createdTime": now_iso(),
        }
        self.models[model["id"]] = model
        return str(version)
