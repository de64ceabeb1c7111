"""What the local workspace asks of the flow's parameters and environment, checked before anything is done (the
backends table, workspaces/backends.py, names these): how its runs start, and whether a plan may look at it."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workspaces.base import ComputeSpec, WorkspaceRef
from workspaces.errors import ConfigError

RUN_PROCESSES = ("fork", "exec")  # how local runs start: forked.py


def local_run_process(environ: Mapping[str, str]) -> str:
    """MNIST_FLOW_RUN_PROCESS: 'fork' (the default: from the flow's fork server) or 'exec' (a fresh interpreter)."""
    model = environ.get("MNIST_FLOW_RUN_PROCESS") or "fork"
    if model not in RUN_PROCESSES:
        raise ConfigError(f"MNIST_FLOW_RUN_PROCESS {model!r}: expected 'fork' (the default) or 'exec'")
    return model


def check_settings(params: Any, environ: Mapping[str, str]) -> None:
    """The parameters' rules for a local run (ValueError with the sentence the user reads)."""
    try:
        local_run_process(environ)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def cores() -> int:
    """As many runs at once as the machine has cores (the default max_nodes)."""
    return os.cpu_count() or 1


def compute_settings(spec: ComputeSpec) -> str:
    return f"{spec.min_nodes} to {spec.max_nodes} nodes"


def readable(ref: WorkspaceRef) -> bool:
    """Whether a plan may open it: one that does not exist yet would be created (its locks/ is made at opening)."""
    return Path(ref.directory, "locks").is_dir()
