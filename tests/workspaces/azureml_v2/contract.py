"""How the contract suite (tests/workspaces/contract/) opens the SDK v2 workspace: the real azure-ai-ml over the
HTTP fake of the service (fake_service.py) and Azurite, polling fast."""

from workspaces.base import WorkspaceRef


def opened(request, tmp_path):
    from tests.workspaces.azureml_v2.fake_service import connect_to_fake
    from workspaces.azureml_v2.workspace import AzureMLv2Workspace

    ref = WorkspaceRef(backend="azureml-v2", directory=str(tmp_path / "ws"), config_path="unused-by-the-fake")
    workspace = AzureMLv2Workspace(ref, connect_to_fake(request.getfixturevalue("fake_azure_v2")))
    workspace.poll_seconds = 0.2
    return workspace
