"""Local compute targets: a named record with the tutorial's AmlCompute settings, and `max_nodes` node slots.

A node is a lock file `compute/<name>/node-<i>.lock`. A run holds one for as long as its process lives
(the process inherits the lock), so at most `max_nodes` runs execute at once on the workspace, across every
flow that uses it, and a flow killed mid-run frees its nodes with its processes.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from workspaces.base import ComputeSpec, ComputeTarget
from workspaces.files import write_bytes_atomically
from workspaces.locks import exclusive, try_lock
from workspaces.paths import inside

log = logging.getLogger(__name__)
WAIT_POLL_SECONDS = 0.5
KIND = "local"  # what a local target is (the workspace's compute_kind)


class LocalCompute:
    def __init__(self, folder: Path, lock: Path):
        self.folder = Path(folder)
        self.lock = lock  # held while a record is read and written

    def _record(self, name: str) -> Path:
        return inside(self.folder, f"{name}.json")

    def create_or_attach(self, spec: ComputeSpec) -> ComputeTarget:
        """The tutorial's create-or-attach; an attached target takes the requested scale settings, as
        `AmlCompute.update` does, but keeps its VM size (Azure cannot change it without deleting the cluster)."""
        with exclusive(self.lock):
            record = self._record(spec.name)
            if not record.exists():
                target = ComputeTarget.from_spec(spec, KIND, created=True, shares_this_machine=True)
                write_bytes_atomically(record, target.model_dump_json().encode())
                log.info("created compute target %r: local, max_nodes=%d", spec.name, spec.max_nodes)
                return target
            existing = ComputeTarget.model_validate_json(record.read_text())
            log.info("found compute target %r, just use it (max_nodes=%d)", spec.name, existing.max_nodes)
            if existing.vm_size != spec.vm_size:
                log.warning(
                    "compute %r keeps its vm_size %s (%s requested); delete it to change it",
                    spec.name,
                    existing.vm_size,
                    spec.vm_size,
                )
            target = ComputeTarget.from_spec(
                spec, KIND, created=False, vm_size=existing.vm_size, shares_this_machine=True
            )
            if target.max_nodes != existing.max_nodes or target.min_nodes != existing.min_nodes:
                write_bytes_atomically(record, target.model_dump_json().encode())
                log.info("compute %r updated: max_nodes %d -> %d", spec.name, existing.max_nodes, spec.max_nodes)
            return target

    def delete(self, name: str) -> None:
        """The target's record, and its nodes' lock files that no run holds (a node in use keeps its file)."""
        with exclusive(self.lock):
            self._record(name).unlink(missing_ok=True)
            nodes = inside(self.folder, name)
            for node in sorted(nodes.glob("node-*.lock")) if nodes.is_dir() else []:
                if (fd := try_lock(node)) is not None:
                    node.unlink(missing_ok=True)
                    os.close(fd)
            with contextlib.suppress(OSError):  # (not empty: a node still in use)
                nodes.rmdir()
        log.info("deleted compute target %r", name)

    def acquire_node(self, compute: ComputeTarget, cancelled: Callable[[], bool]) -> int | None:
        """Block until one of the target's nodes is free and return the descriptor that holds it, or None
        if `cancelled()` turns true while waiting."""
        nodes = [inside(self.folder, compute.name, f"node-{i}.lock") for i in range(compute.max_nodes)]
        announced = False
        while not cancelled():
            for node in nodes:
                if (fd := try_lock(node)) is not None:
                    return fd
            if not announced:
                log.info("all %d nodes of compute %r are busy; waiting for one", compute.max_nodes, compute.name)
                announced = True
            time.sleep(WAIT_POLL_SECONDS)
        return None
