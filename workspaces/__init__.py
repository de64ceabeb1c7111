"""Workspaces: the port (base.py, errors.py) and its adapters, one folder each, named by the backends table
(backends.py): local/ (the default), azureml_v1/ (SDK v1) and azureml_v2/ (SDK v2).

Tasks receive a `WorkspaceRef` (plain values) and call `open_workspace` to get the adapter, opened once per
process and reused, so no client object ever becomes a task input or a cache key. Only an adapter imports
its SDK; the Azure one is imported only when asked for, so the project works without the `azure` extra.
"""

import contextlib
import threading

from workspaces.backends import DEFAULT_BACKEND, backend
from workspaces.base import LocalOnly, Workspace, WorkspaceRef
from workspaces.errors import ConfigError
from workspaces.marker import mark_workspace_folder
from workspaces.stop_report import StopReport

_open: dict[WorkspaceRef, Workspace] = {}
_open_lock = threading.Lock()


def open_workspace(ref: WorkspaceRef) -> Workspace:
    with _open_lock:
        if ref not in _open:
            _open[ref] = _connect(ref)
        return _open[ref]


def connect(ref: WorkspaceRef) -> Workspace:
    """Open the workspace at the start of a flow (its folder marked as one); runs may start again after an earlier
    flow's cancellation."""
    mark_workspace_folder(ref.directory)
    workspace = open_workspace(ref)
    workspace.start_flow()
    return workspace


def _connect(ref: WorkspaceRef) -> Workspace:
    """The adapter the backends table names for `ref.backend`, opened (its module, and its SDK, imported now)."""
    entry = backend(ref.backend)
    try:
        adapter = entry.workspace_class()
    except ImportError as exc:
        if entry.sdk is None:
            raise
        raise ConfigError(
            f"--backend {ref.backend} needs {entry.sdk.name}, which is not installed ({exc.name}); {entry.sdk.install}"
        ) from exc
    return adapter.connect(ref)


def preload(ref: WorkspaceRef) -> None:
    """Import now what opening `ref` will import: its adapter, its SDK, and what the adapter names (its `preload`).
    A command does it before its flow starts: Prefect ends a flow run on a whole second of its run (its heartbeat
    thread sleeps a second at a time, and is waited for), so the same imports inside the flow could add a second
    to it (docs/benchmarks.md). What cannot be imported is said when the flow opens the workspace."""
    with contextlib.suppress(ImportError):
        adapter = backend(ref.backend).workspace_class()
        getattr(adapter, "preload", lambda ref: None)(ref)


def readable(ref: WorkspaceRef) -> bool:
    """Whether a plan may open the workspace: opening it must not create it (a new local folder would be)."""
    return backend(ref.backend).readable(ref)


def open_local(ref: WorkspaceRef) -> LocalOnly:
    """A workspace that keeps its models' files and what trained them, for the scoring flow and `--reproduce`."""
    if not issubclass(backend(ref.backend).workspace_class(), LocalOnly):
        raise ConfigError(
            f"scoring and --reproduce work on the {DEFAULT_BACKEND} workspace; {ref.backend!r} is not {DEFAULT_BACKEND}"
        )
    workspace = open_workspace(ref)
    assert isinstance(workspace, LocalOnly)
    return workspace


def stop_all_runs() -> StopReport:
    """Stop every training run of the flows this process runs (Ctrl-C, SIGTERM, a cancelled flow): what it did."""
    with _open_lock:
        workspaces = list(_open.values())
    return sum((workspace.stop_all_runs() for workspace in workspaces), StopReport())


def stop_runs_of(ref: WorkspaceRef, flow_run: str, experiment: str) -> StopReport:
    """Cancel the runs of a Prefect flow run from another process than its own (the runner's cancellation hook),
    found in the workspace by the flow run's tag. Only Azure ML's runs outlive their flow's process; a local
    workspace's end with it (and the next flow marks them KILLED): nothing to do here for those."""
    if not backend(ref.backend).cloud:
        return StopReport()
    return open_workspace(ref).stop_runs_of(flow_run, experiment)  # type: ignore[attr-defined]
