"""How the contract suite (tests/workspaces/contract/) opens the SDK v1 workspace: the real azureml-core over the
HTTP fake of Azure ML (fake_azureml.py) and Azurite, polling fast."""

from workspaces.base import WorkspaceRef


def opened(request, tmp_path):
    from workspaces.azureml_v1.workspace import AzureMLWorkspace

    request.getfixturevalue("fake_azure")  # the fake, and the adapter's seam pointed at it
    ref = WorkspaceRef(backend="azureml", directory=str(tmp_path / "ws"), config_path="unused-by-the-fake")
    return AzureMLWorkspace.connect(ref)
