"""connect_workspace and provision_compute: the tutorial's `Workspace.from_config()` and its create-or-attach
of an AmlCompute cluster. Neither is cached: both are cheap, and a second run should say that it attached. Their
plans say what they would do, reading the workspace only if that creates nothing."""

from prefect import get_run_logger, task

import workspaces
from plumbing.logs import forward_workspace_logs
from plumbing.pipeline import RUNS, Planned, Row, Step, Values
from plumbing.retries import retrying
from steps.plan import provisions
from workspaces.backends import backend
from workspaces.base import ComputeSpec, ComputeTarget, WorkspaceRef


@task(task_run_name="connect to the {ws.backend} workspace", **retrying())
def connect_workspace(ws: WorkspaceRef) -> WorkspaceRef:
    forward_workspace_logs()
    workspace = workspaces.connect(ws)
    get_run_logger().info("connected to %s", workspace.name)
    return ws


def plan_connecting(step: Step, values: Values, ws: WorkspaceRef) -> Planned:
    why = "every run" if workspaces.readable(ws) else "creates it"  # a new local workspace is not made to be planned
    return Planned([Row(step.named([ws]), RUNS, why)], ws)


@task(task_run_name="provision {spec.name}", **retrying())
def provision_compute(ws: WorkspaceRef, spec: ComputeSpec) -> ComputeTarget:
    target = workspaces.open_workspace(ws).provision_compute(spec)
    verb = "created" if target.created else "attached existing"
    get_run_logger().info("%s compute target %r (%s, up to %d nodes)", verb, target.name, target.kind, target.max_nodes)
    return target


def plan_provisioning(step: Step, values: Values, ws: WorkspaceRef, spec: ComputeSpec) -> Planned:
    """Creates it or attaches it, with the settings it would ask for; the target that would be provisioned."""
    entry = backend(ws.backend)
    attached = workspaces.readable(ws) and workspaces.open_workspace(ws).has_compute(spec.name)
    kind = entry.workspace_class().compute_kind  # only its name enters a training run's key
    target = ComputeTarget.from_spec(spec, kind=kind, created=not attached)
    why = provisions(spec, entry.compute_settings(spec), attached)
    return Planned([Row(step.named([ws, spec]), RUNS, why)], target)


@task(task_run_name="delete {compute.name}")
def delete_compute_target(ws: WorkspaceRef, compute: ComputeTarget) -> None:
    """The tutorial's last cell, `compute_target.delete()`: opt-in (--delete-compute)."""
    workspaces.open_workspace(ws).delete_compute(compute)
    get_run_logger().info("deleted compute target %r", compute.name)
