"""The datastore's blobs under SDK v2 (workspaces/azureml_v2/storage.py), through the real azure-ai-ml and
azure-storage-blob against the fake service and Azurite: a datastore that keeps no secret, or whose secrets the
service will not list, is reached with the connection's own credential, as the SDK's own uploads do."""

from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.azureml_v2.contract import opened
from tests.workspaces.azureml_v2.fake_service import FakeCredential


def test_an_identity_based_datastore_is_reached_with_the_connections_token(fake_azure_v2, request, tmp_path):
    fake_azure_v2.identity_datastores = True
    workspace = opened(request, tmp_path)
    files = write_tiny_datastore_files(tmp_path / "data")
    data = workspace.upload(files, "mnist")
    assert fake_azure_v2.count("POST", "/listSecrets") == 0  # the SDK asks for none of a credential-less store
    before = fake_azure_v2.bearer_blob_requests  # (at least the manifest: Azurite may hold these files already)
    assert before > 0
    for path in files:
        assert workspace.blobs.read(f"{data.path}/{path.name}") == path.read_bytes()
    assert fake_azure_v2.bearer_blob_requests == before + len(files)  # each read with the token
    assert ("https://storage.azure.com/.default",) in workspace.connection.credential.calls


def test_a_datastore_whose_secrets_are_refused_is_reached_with_the_connections_token(fake_azure_v2, request, tmp_path):
    fake_azure_v2.fail("POST", "/listSecrets", 403, "AuthorizationFailed", "no listSecrets permission", times=9)
    workspace = opened(request, tmp_path)
    workspace.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    assert fake_azure_v2.bearer_blob_requests > 0
    assert isinstance(workspace.connection.credential, FakeCredential)
