"""Workspaces: the port (base.py, errors.py) and its adapters, local/ (the default), azureml_v1/ (SDK v1) and
azureml_v2/ (SDK v2).

Tasks receive a `WorkspaceRef` (plain values) and call `open_workspace` to get the adapter, opened once per
process and reused, so no client object ever becomes a task input or a cache key. Only an adapter imports
its SDK; the Azure one is imported only when asked for, so the project works without the `azure` extra.
"""

import threading

from workspaces.base import AZURE_SDKS, BACKENDS, LocalOnly, Workspace, WorkspaceRef
from workspaces.errors import ConfigError

_open: dict[WorkspaceRef, Workspace] = {}
_open_lock = threading.Lock()


def open_workspace(ref: WorkspaceRef) -> Workspace:
    with _open_lock:
        if ref not in _open:
            _open[ref] = _connect(ref)
        return _open[ref]


def connect(ref: WorkspaceRef) -> Workspace:
    """Open the workspace at the start of a flow; runs may start again after an earlier flow's cancellation."""
    from workspaces.local import runs as local_runs

    local_runs.stopping.clear()
    return open_workspace(ref)


def _connect(ref: WorkspaceRef) -> Workspace:
    if ref.backend == "local":
        from workspaces.local.workspace import LocalWorkspace

        return LocalWorkspace(ref.directory, ref.tracking_uri)
    try:
        if ref.backend == "azureml":
            from workspaces.azureml_v1.workspace import AzureMLWorkspace

            return AzureMLWorkspace.connect(ref)
        if ref.backend == "azureml-v2":
            from workspaces.azureml_v2.workspace import AzureMLv2Workspace

            return AzureMLv2Workspace.connect(ref)
    except ImportError as exc:
        _, sdk, extra, target = AZURE_SDKS[ref.backend]
        raise ConfigError(
            f"--backend {ref.backend} needs {sdk}, which is not installed ({exc.name}); "
            f"install the extra: make {target} (or pip install -e '.[{extra}]')"
        ) from exc
    raise ConfigError(f"unknown backend {ref.backend!r}; expected {', '.join(map(repr, BACKENDS))}")


def open_local(ref: WorkspaceRef) -> LocalOnly:
    """The local workspace, for what only it offers: the scoring flow and `--reproduce`."""
    if ref.backend != "local":
        raise ConfigError(f"scoring and --reproduce work on the local workspace; {ref.backend!r} is not local")
    from workspaces.local.workspace import LocalWorkspace

    workspace = open_workspace(ref)
    assert isinstance(workspace, LocalWorkspace)
    return workspace


def stop_all_runs() -> int:
    """Stop every training run this process started (Ctrl-C, cancellation); how many were stopped."""
    with _open_lock:
        workspaces = list(_open.values())
    return sum(workspace.stop_all_runs() for workspace in workspaces)
