"""The SDK v2 adapter's connection: which credential is used, as for SDK v1 (a Prefect block, a service principal
from the environment, config.json with DefaultAzureCredential), built offline with the real azure-identity and
azure-ai-ml; the log line names where it came from, never the secret."""

import json

import pytest

pytest.importorskip("azure.ai.ml", reason="the `azure-v2` extra is not installed (make install-azure-v2)")

from azure.identity import ClientSecretCredential, DefaultAzureCredential

from workspaces.azureml_v2.client import connect_client
from workspaces.base import WorkspaceRef

SECRET = "not-a-real-secret-3b1f"
PRINCIPAL = {
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-00000000000a",
    "AZURE_CLIENT_ID": "client",
    "AZURE_CLIENT_SECRET": SECRET,
}


def ref(tmp_path, **fields) -> WorkspaceRef:
    return WorkspaceRef(backend="azureml-v2", directory=str(tmp_path / "ws"), **fields)


def test_config_json_with_the_default_credential(tmp_path, azure_config, monkeypatch):
    for name in PRINCIPAL:
        monkeypatch.delenv(name, raising=False)
    connection = connect_client(ref(tmp_path, config_path=str(azure_config)))
    assert isinstance(connection.credential, DefaultAzureCredential)
    assert (connection.ml.subscription_id, connection.ml.resource_group_name, connection.ml.workspace_name) == (
        "00000000-1111-2222-3333-444444444444",
        "rg-mnist",
        "ws-mnist",
    )
    assert connection.description == f"{azure_config} and DefaultAzureCredential (the Azure CLI login ...)"


def test_a_service_principal_from_the_environment(tmp_path, monkeypatch):
    for name, value in {
        **PRINCIPAL,
        "AZURE_SUBSCRIPTION_ID": "00000000-1111-2222-3333-444444444444",
        "AZURE_RESOURCE_GROUP": "rg-env",
        "AZUREML_WORKSPACE_NAME": "ws-env",
    }.items():
        monkeypatch.setenv(name, value)
    connection = connect_client(ref(tmp_path, config_path=str(tmp_path / "absent.json")))
    assert isinstance(connection.credential, ClientSecretCredential)
    assert connection.ml.workspace_name == "ws-env"
    assert connection.description == "the service principal in AZURE_CLIENT_ID/AZURE_CLIENT_SECRET"
    assert SECRET not in connection.description and SECRET not in repr(connection)


def test_a_prefect_azure_credentials_block(prefect_api, tmp_path, monkeypatch):
    from prefect_azure import AzureMlCredentials

    for name in PRINCIPAL:
        monkeypatch.delenv(name, raising=False)
    AzureMlCredentials(
        tenant_id=PRINCIPAL["AZURE_TENANT_ID"],
        service_principal_id="client",
        service_principal_password=SECRET,
        subscription_id="00000000-1111-2222-3333-444444444444",
        resource_group="rg-block",
        workspace_name="ws-block",
    ).save("mnist-v2-test", overwrite=True)
    connection = connect_client(ref(tmp_path, credentials_block="mnist-v2-test"))
    assert isinstance(connection.credential, ClientSecretCredential) and connection.ml.workspace_name == "ws-block"
    assert connection.description == "the service principal of Prefect block 'mnist-v2-test'"
    assert SECRET not in json.dumps(connection.description)
