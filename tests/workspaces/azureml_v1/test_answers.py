"""Every answer the SDK v1 fake gives fits the model the SDK reads it into: after a whole life of a workspace (upload,
provision, runs, metrics, files, registration, lookups), each answer is deserialized with the SDK's own msrest
Deserializer into that model and serialized back; a field the model does not know is dropped on the way, so a
wrong name (or a misplaced level) fails here instead of being silently ignored by the SDK."""

import pytest

from steps.registry import register
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec, WorkspaceRef

# fields Azure sends that SDK v1's (older) models do not read, in answers taken from Azure's own recorded sessions
# (the workspace's GET: ../azureml_v2/recorded/workspace_get.json, recorded by azure-ai-ml in 2026)
WORKSPACE_PROPERTIES_NOT_READ = (
    "mlFlowTrackingUri",
    "EnableSoftwareBillOfMaterials",
    "allowRoleAssignmentOnRG",
    "enableDataIsolation",
    "enableServiceSideCMKEncryption",
    "managedNetwork/changeableIsolationModes[]",
    "managedNetwork/enableFirewallLog",
    "managedNetwork/enableNetworkMonitor",
    "managedNetwork/isolationMode",
    "networkAcls/bypass",
    "networkAcls/defaultAction",
    "notebookInfo/isPrivateLinkEnabled",
    "privateLinkCount",
    "publicNetworkAccess",
    "sasGetterUri",
    "softDeleteEnabled",
    "storageHnsEnabled",
    "tenantId",
)
SENT_BUT_NOT_READ = {
    "Workspace": {"/kind", "/sku/name", "/systemData/*"}
    | {f"/properties/{name}" for name in WORKSPACE_PROPERTIES_NOT_READ}
}


def not_read(model: str, field: str) -> bool:
    return any(
        field == known or (known.endswith("*") and field.startswith(known[:-1]))
        for known in SENT_BUT_NOT_READ.get(model, ())
    )


def sdk_models() -> dict[str, type]:
    """The models the SDK's clients deserialize into: run history, artifacts, metrics, models (_restclient) and the
    workspace's (_base_sdk_common)."""
    from azureml._base_sdk_common.workspace import models as workspace_models
    from azureml._restclient import models

    return {
        name: kind
        for module in (models, workspace_models)
        for name, kind in vars(module).items()
        if isinstance(kind, type)
    }


def fields(value, path: str = "") -> set[str]:
    """The paths of every field holding a value (None and empty ones are not sent back by a serializer either)."""
    if isinstance(value, dict):
        return {f for key, item in value.items() for f in fields(item, f"{path}/{key}") if item not in (None, {}, [])}
    if isinstance(value, list):
        return {f for item in value for f in fields(item, f"{path}[]")}
    return {path}


def round_trip(models: dict[str, type], model: str, body: dict) -> dict:
    from msrest import Deserializer

    return Deserializer(models)(model, body).serialize(keep_readonly=True)


def test_round_trip_catches_a_field_the_model_does_not_know():
    models = sdk_models()
    good = {"runId": "r1", "status": "Running", "tags": {"a": "b"}}
    assert fields(round_trip(models, "RunDto", good)) == fields(good)
    wrong = {**good, "runStatus": "Running"}  # a field name the service does not use
    assert fields(wrong) - fields(round_trip(models, "RunDto", wrong)) == {"/runStatus"}


@pytest.fixture
def lived(fake_azure, azure_config, training_copy, tmp_path):
    """A workspace's life through the adapter, the real SDK on the fake: every answer kind the flow meets."""
    from workspaces.azureml_v1.workspace import AzureMLWorkspace

    ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path=str(azure_config))
    workspace = AzureMLWorkspace.connect(ref)
    data = workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=2))
    job = a_job_on(data, training_copy, compute.name)
    result = workspace.stream_logs(workspace.submit(job, compute), lambda line: None)
    version = register(workspace, result, "sklearn_mnist", {"accuracy": repr(result.accuracy)})
    workspace.fetch_model(version, tmp_path / "model")
    workspace.find_runs(job)
    workspace.past_runs("sklearn-mnist")
    assert workspace.holds(result) and workspace.holds(version)
    return fake_azure.answers


def test_every_answer_of_the_fake_fits_the_sdks_model(lived):
    models = sdk_models()
    kinds = {model for model, _, _ in lived}
    assert {"Workspace", "DataStore", "RunDto", "RunDetailsDto", "PaginatedRunDto", "MetricV2Dto", "Model"} <= kinds
    for model, path, body in lived:
        lost = {f for f in fields(body) - fields(round_trip(models, model, body)) if not not_read(model, f)}
        assert lost == set(), f"{model} of {path} has fields the SDK's model does not know: {sorted(lost)}"
