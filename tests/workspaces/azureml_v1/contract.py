"""How the contract suite (tests/workspaces/contract/) opens the SDK v1 workspace: the adapter over the fake of its
seam (fake_sdk.py), polling fast."""

from workspaces.base import WorkspaceRef


def opened(request, tmp_path):
    from workspaces.azureml_v1.workspace import AzureMLWorkspace

    ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path="unused-by-the-fake")
    return AzureMLWorkspace(ref, request.getfixturevalue("fake_azure"))
