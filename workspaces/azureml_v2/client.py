"""The seam of the SDK v2 adapter: the MLClient, the credential it uses, and the HTTP transport every request
of this adapter goes through (management calls, the datastore's blobs, the run-history and MLflow calls).

In use the transport is azure-core's default; the tests pass their own (the Azure ML service faked at the HTTP
level, the blobs on Azurite), which is the only difference between a test and a real run.

Authentication, in this order, as for SDK v1: a prefect-azure `AzureMlCredentials` block named by
--credentials-block (its service principal becomes a `ClientSecretCredential`); a service principal from
AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (with the workspace from AZURE_SUBSCRIPTION_ID,
AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE_NAME, or config.json); else `DefaultAzureCredential` (the Azure
CLI's login, a managed identity ...) with config.json. The description logged names where the credential came
from; the secret goes to the credential and nowhere else.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, DefaultAzureCredential

from workspaces.azureml_common.settings import AZURE_SERVICE_PRINCIPAL, AZURE_WORKSPACE_VARIABLES
from workspaces.base import WorkspaceRef
from workspaces.errors import WorkspaceError


@dataclass
class Connection:
    ml: MLClient
    credential: TokenCredential
    description: str  # where the credential came from (never the secret)
    transport: Any = None  # azure-core's HttpTransport; None: its default
    # options of the storage clients besides the transport (tests give a quicker retry policy, as they give the
    # MLClient quicker retries: azure-storage-blob waits 15 s, then 3 + 15 s ... between tries)
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace_name(self) -> str:
        return self.ml.workspace_name or ""


def connect_client(ref: WorkspaceRef, transport: Any = None) -> Connection:
    options: dict[str, Any] = {"transport": transport} if transport is not None else {}
    if ref.credentials_block:
        from prefect_azure import AzureMlCredentials

        try:
            block: Any = AzureMlCredentials.load(ref.credentials_block)  # (sync_compatible: the block here)
        except ValueError as exc:
            raise WorkspaceError(
                f"no AzureML Credentials block named {ref.credentials_block!r} ({exc}); "
                "create it as docs/azureml-v1.md shows (the same block serves SDK v2)"
            ) from None
        secret = block.service_principal_password.get_secret_value()
        credential = ClientSecretCredential(block.tenant_id, block.service_principal_id, secret, **options)
        ml = MLClient(credential, block.subscription_id, block.resource_group, block.workspace_name, **options)
        return Connection(
            ml, credential, f"the service principal of Prefect block {ref.credentials_block!r}", transport
        )
    if all(os.environ.get(v) for v in AZURE_SERVICE_PRINCIPAL):
        tenant, client, secret = (os.environ[v] for v in AZURE_SERVICE_PRINCIPAL)
        credential = ClientSecretCredential(tenant, client, secret, **options)
        description = "the service principal in AZURE_CLIENT_ID/AZURE_CLIENT_SECRET"
        if all(os.environ.get(v) for v in AZURE_WORKSPACE_VARIABLES):
            subscription, group, name = (os.environ[v] for v in AZURE_WORKSPACE_VARIABLES)
            return Connection(
                MLClient(credential, subscription, group, name, **options), credential, description, transport
            )
        return Connection(
            MLClient.from_config(credential, path=ref.config_path, **options), credential, description, transport
        )
    default = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    ml = MLClient.from_config(default, path=ref.config_path, **options)
    return Connection(ml, default, f"{ref.config_path} and DefaultAzureCredential (the Azure CLI login ...)", transport)
