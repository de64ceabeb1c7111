"""The backends, one entry each: all that the rest of the project knows of an adapter. Adding a backend is its
folder under workspaces/ (the adapter and its settings module), its extra in pyproject.toml, one entry here, and
one line in the contract suite (tests/workspaces/contract/).

The flow's parameters take their choices, defaults and settings checks from here; `workspaces.open_workspace`
opens the adapter an entry names, importing it (and its SDK) only then; `--plan` describes a new compute target
and decides whether it may look at the workspace from here. What an adapter answers for itself (its compute
targets' kind, whether their runs share this machine) is the adapter's, not the table's. Nothing outside this
table and the adapters' own folders names a backend (tests/test_architecture.py checks it).
"""

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workspaces.azureml_common import settings as azure
from workspaces.base import ComputeSpec, WorkspaceRef
from workspaces.errors import ConfigError
from workspaces.local import settings as local


@dataclass(frozen=True)
class Sdk:
    module: str  # what must import
    name: str  # what the user reads
    extra: str  # pip install -e '.[<extra>]', or make install-<extra>

    def missing(self, backend: str) -> str | None:
        """The sentence that says how to install it, if it is not installed."""
        try:
            found = importlib.util.find_spec(self.module) is not None
        except ImportError:  # a parent package is missing
            found = False
        return None if found else f"--backend {backend} needs {self.name}, which is not installed; {self.install}"

    @property
    def install(self) -> str:
        return f"run make install-{self.extra} (or pip install -e '.[{self.extra}]')"


@dataclass(frozen=True)
class Backend:
    name: str  # the --backend value
    title: str  # what it is, for --help and the run form
    opens: str  # its workspace class, "module:Class", imported when it is first opened
    sdk: Sdk | None  # what it needs beyond the base install
    default_nodes: Callable[[], int]  # max_nodes unless set (or AML_COMPUTE_CLUSTER_MAX_NODES)
    compute_settings: Callable[[ComputeSpec], str]  # how --plan describes a new target's settings
    check: Callable[[Any, Mapping[str, str]], None]  # the flow parameters' rules for it: ValueError if broken
    readable: Callable[[WorkspaceRef], bool]  # whether --plan may open it (opening must not create it)
    cloud: bool  # reached with --workspace-config / --credentials-block; its runs outlive the flow's process

    @property
    def package(self) -> str:
        return self.opens.split(":")[0].rsplit(".", 1)[0]

    def workspace_class(self) -> Any:
        module, name = self.opens.split(":")
        return getattr(importlib.import_module(module), name)


def azure_ml(name: str, title: str, opens: str, sdk: Sdk) -> Backend:
    """An Azure ML workspace: what both SDKs' adapters share (their settings: workspaces/azureml_common)."""
    return Backend(
        name=name,
        title=title,
        opens=opens,
        sdk=sdk,
        default_nodes=azure.cluster_nodes,
        compute_settings=azure.compute_settings,
        check=azure.check_settings,
        readable=azure.readable,
        cloud=True,
    )


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            name="local",
            title="a folder on the worker, no cloud account",
            opens="workspaces.local.workspace:LocalWorkspace",
            sdk=None,
            default_nodes=local.cores,
            compute_settings=local.compute_settings,
            check=local.check_settings,
            readable=local.readable,
            cloud=False,
        ),
        azure_ml(
            "azureml",
            "Azure ML, SDK v1",
            "workspaces.azureml_v1.workspace:AzureMLWorkspace",
            Sdk("azureml.core", "the Azure ML SDK v1", "azure"),
        ),
        azure_ml(
            "azureml-v2",
            "Azure ML, SDK v2",
            "workspaces.azureml_v2.workspace:AzureMLv2Workspace",
            Sdk("azure.ai.ml", "the Azure ML SDK v2 (azure-ai-ml)", "azure-v2"),
        ),
    )
}
DEFAULT_BACKEND = "local"  # with no cloud account; the scoring flow and --reproduce work on it


def backend(name: str) -> Backend:
    """The entry of `name`; ConfigError naming the choices if there is none."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; expected {choices()}")
    return BACKENDS[name]


def choices() -> str:
    quoted = [repr(name) for name in BACKENDS]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
