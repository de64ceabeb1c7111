"""What an Azure ML workspace (SDK v1 or v2) asks of the flow's parameters and environment, checked before anything
is done (the backends table, workspaces/backends.py, names these): the SDK installed, and a way to connect, from
config.json, a service principal in the environment, or a Prefect credentials block. Secrets are never repeated.
Standard library only: it runs in the command line before anything heavy is imported."""

import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workspaces.base import ComputeSpec, WorkspaceRef

# where the adapters find a service principal, and its workspace, in the environment
AZURE_SERVICE_PRINCIPAL = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
AZURE_WORKSPACE_VARIABLES = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")
CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def check_settings(params: Any, environ: Mapping[str, str]) -> None:
    """The parameters' rules for an Azure ML run (ValueError with the sentence the user reads)."""
    follow_patience(environ)
    if params.tracking_uri:
        raise ValueError(
            f"--tracking-uri is for the local workspace; {params.backend} keeps its runs in the Azure ML workspace"
        )
    if params.credentials_block is not None:
        return  # the block holds the service principal and the workspace (its name is checked in parameters.py)
    given = [name for name in AZURE_SERVICE_PRINCIPAL if environ.get(name)]
    if given and len(given) < len(AZURE_SERVICE_PRINCIPAL):
        missing = ", ".join(name for name in AZURE_SERVICE_PRINCIPAL if name not in given)
        raise ValueError(f"a service principal needs {', '.join(AZURE_SERVICE_PRINCIPAL)}; {missing} not set")
    if given and all(environ.get(name) for name in AZURE_WORKSPACE_VARIABLES):
        return
    check_workspace_config(params.workspace_config)


def check_workspace_config(config_path: str) -> None:
    path = Path(config_path)
    if not path.is_file():
        raise ValueError(
            f"Azure ML workspace config {config_path!r} not found; download config.json from the "
            "workspace's page in the Azure portal and pass it with --workspace-config"
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Azure ML workspace config {config_path!r} is not readable JSON ({exc})") from None
    missing = [key for key in CONFIG_KEYS if not isinstance(config, dict) or not config.get(key)]
    if missing:
        raise ValueError(
            f"Azure ML workspace config {config_path!r} lacks {', '.join(missing)}; expected "
            "subscription_id, resource_group and workspace_name, as the portal's config.json has"
        )
    if not GUID.match(str(config["subscription_id"])):
        raise ValueError(
            f"Azure ML workspace config {config_path!r}: subscription_id "
            f"{config['subscription_id']!r} is not a subscription id (a GUID)"
        )


PATIENCE = "MNIST_FLOW_FOLLOW_PATIENCE"
PATIENCE_MINUTES = 30.0


def follow_patience(environ: Mapping[str, str]) -> float:
    """MNIST_FLOW_FOLLOW_PATIENCE: the minutes following a run keeps trying while Azure ML does not answer (an
    outage, a network cut) before it gives up (the run is left running); its seconds. ValueError with the
    sentence the user reads."""
    value = environ.get(PATIENCE)
    if not value:
        return PATIENCE_MINUTES * 60
    try:
        minutes = float(value)
    except ValueError:
        minutes = float("nan")
    if not 0 < minutes <= 1440:  # (NaN fails both)
        raise ValueError(
            f"{PATIENCE}={value!r}: expected the minutes following an Azure ML run keeps trying while the service "
            f"does not answer, more than 0 and at most 1440 (default {PATIENCE_MINUTES:g})"
        )
    return minutes * 60


def cluster_nodes() -> int:
    """The tutorial's cluster size (the default max_nodes)."""
    return 4


def compute_settings(spec: ComputeSpec) -> str:
    return f"{spec.vm_size}, {spec.min_nodes} to {spec.max_nodes} nodes, {spec.vm_priority}"


def readable(ref: WorkspaceRef) -> bool:
    """A plan may open it: an Azure ML workspace is only read (looking up is free)."""
    return True
