"""Caching every step in the workspace, so that a re-run only does what changed.

A step's key is `INPUTS + StepCode`: its inputs, and the code it runs (its task's module and the project modules
that imports, plumbing/step_code.py) with its name (INPUTS alone would let two tasks with equal inputs share a key;
Prefect's TASK_SOURCE would miss a change in steps/). Its result persists in the workspace's `results/`, with
`results/code/<step>.json` saying which code it last ran, so a plan can name what changed; concurrent flows take
the key's lock first (SERIALIZABLE isolation), so two flows started together compute a step once. Four additions
to Prefect:

- `FlockLockManager`: Prefect's FileSystemLockManager writes lock files that never expire unless a hold
  timeout is given, and transactions give none, so a flow killed mid-step would make the next one wait forever.
  This one holds an flock, which the kernel releases when the holder dies, however it dies.
- `StillTrue`: a cache hit cannot look at files. Before the lookup, this policy reads the cached value and
  asks whether what it points to still exists (downloaded files, datastore content, a run's model, a model
  version); if not, or if the flow was asked to `refresh_cache`, it drops the record and the step runs again.
- `StepCode`: the code a step runs, in its key (see above).
- `workspace_task`: the workspace (and so the folder of results and locks) is known only when the flow runs,
  so a step is bound to the `WorkspaceRef` it receives as its first argument at each call.
"""

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
from prefect import Task, task
from prefect.cache_policies import INPUTS, CachePolicy
from prefect.filesystems import LocalFileSystem
from prefect.locking.protocol import LockManager
from prefect.logging import get_run_logger
from prefect.results import ResultStore
from prefect.utilities.callables import get_call_parameters
from prefect.utilities.hashing import hash_objects

import workspaces
from plumbing.step_code import code_hash, step_code, what_changed
from workspaces import locks
from workspaces.base import WorkspaceRef
from workspaces.files import write_bytes_atomically
from workspaces.paths import inside

REFRESH_PARAMETER = "refresh_cache"  # the flow parameter that recomputes every step


class FlockLockManager(LockManager):
    """Prefect's lock protocol on flock (see workspaces/locks.py): a dead holder's locks vanish with it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._held: dict[str, tuple[str, int]] = {}  # key -> (holder, descriptor)

    def _path(self, key: str) -> Path:
        return inside(self.folder, f"{key}.lock")

    def acquire_lock(self, key: str, holder: str, acquire_timeout=None, hold_timeout=None) -> bool:
        if self.is_lock_holder(key, holder):
            return True
        fd = locks.wait_for(self._path(key), timeout=acquire_timeout)
        if fd is None:
            return False
        self._held[key] = (holder, fd)
        return True

    async def aacquire_lock(self, key: str, holder: str, acquire_timeout=None, hold_timeout=None) -> bool:
        call = partial(self.acquire_lock, key, holder, acquire_timeout, hold_timeout)
        return await anyio.to_thread.run_sync(call)

    def release_lock(self, key: str, holder: str) -> None:
        if not self.is_lock_holder(key, holder):
            raise ValueError(f"No lock held by {holder} for transaction with key {key}")
        _, fd = self._held.pop(key)
        locks.release(fd)

    def is_locked(self, key: str, use_cache: bool = False) -> bool:
        return key in self._held or locks.is_locked(self._path(key))

    def is_lock_holder(self, key: str, holder: str) -> bool:
        entry = self._held.get(key)
        return entry is not None and entry[0] == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        fd = locks.wait_for(self._path(key), timeout=timeout)
        if fd is None:
            return False
        locks.release(fd)
        return True

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await anyio.to_thread.run_sync(partial(self.wait_for_lock, key, timeout))


Check = Callable[[Any, dict[str, Any]], bool]  # (cached value, the task's inputs) -> still true?


def still_held(part: Callable[[Any], Any] = lambda value: value) -> Check:
    """The still-true check of a step whose value (or `part` of it) points into the workspace it was given as
    `ws`: a datastore folder, a finished run, a model version. The workspace says whether it still holds it."""

    def check(value: Any, inputs: dict[str, Any]) -> bool:
        return workspaces.open_workspace(inputs["ws"]).holds(part(value))

    return check


@dataclass
class StepCode(CachePolicy):
    """The code the step runs, and the step's own name (two steps of one module with equal inputs differ)."""

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str | None:
        fn = task_ctx.task.fn
        return hash_objects(fn.__qualname__, code_hash(fn.__module__), raise_on_failure=True)


def code_record(results: str | Path, fn: Callable) -> Path:
    """Where the code a step last ran with is kept: results/code/<module>.<function>.json."""
    return inside(results, "code", f"{fn.__module__}.{fn.__qualname__}.json")


def recording_code(fn: Callable) -> Callable:
    """`fn`, which says beside its results which code computed its newest one, once it returns. A cached step
    does not run and keeps its record (its key holds the code it ran). Not a completion hook: Prefect logs two
    lines for each hook of each step, cached or not (42 of a warm 16-rate run's 75 lines, and their cost)."""

    @functools.wraps(fn)
    def run(ws: WorkspaceRef, *args, **kwargs):
        result = fn(ws, *args, **kwargs)
        recorded = json.dumps(step_code(fn.__module__), indent=1, sort_keys=True).encode()
        write_bytes_atomically(code_record(ws.results_dir, fn), recorded)
        return result

    return run


def why_no_record(results: str | Path, fn: Callable) -> str:
    """'code changed: steps/baseline.py' when the step last ran other code, else 'no record' (other inputs)."""
    try:
        recorded = json.loads(code_record(results, fn).read_text())
    except (OSError, ValueError):
        return "no record"
    changed = what_changed(recorded, step_code(fn.__module__))
    return f"code changed: {', '.join(changed)}" if changed else "no record"


@dataclass
class StillTrue(CachePolicy):
    """`base`'s key, used only while `check(cached value, inputs)` holds (see the module docstring)."""

    base: CachePolicy = field(default_factory=lambda: INPUTS + StepCode())
    check: Check | None = None

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str | None:
        found = self.look_up(task_ctx, task_ctx.result_store, inputs, flow_parameters, **kwargs)
        if found.stale and found.key is not None:
            _drop(task_ctx.result_store, found.key, f"{task_ctx.task.name}: {found.why}")
        return found.key

    def look_up(self, task_ctx, store, inputs, flow_parameters, planning: bool = False, **kwargs) -> "Lookup":
        """The step's key and what its record says: what the run uses, and what `--plan` reports (one code).
        Only a plan reads a record that `refresh_cache` drops (the run must not: it may be what is broken)."""
        key = self.base.compute_key(task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs)
        if key is None or not store.exists(key):
            return Lookup(key, None, why_no_record(store.result_storage.basepath, task_ctx.task.fn))
        if refresh_requested(flow_parameters):
            return Lookup(
                key, store.read(key).result if planning else None, f"recomputed ({REFRESH_PARAMETER})", stale=True
            )
        value = store.read(key).result
        if self.check is not None and not self.check(value, inputs):
            return Lookup(key, value, "cached result no longer holds (its files are gone); recomputing", stale=True)
        return Lookup(key, value, "its record for these inputs holds", cached=True)


@dataclass(frozen=True)
class Lookup:
    key: str | None
    value: Any  # the record's value: the step's result if cached, what a deterministic step recomputes if stale
    why: str
    cached: bool = False
    stale: bool = False  # a record that will be dropped and recomputed


def refresh_requested(flow_parameters: Mapping[str, Any]) -> bool:
    """Whether the flow was asked to `refresh_cache`: among its parameters, or a field of one (its `params`)."""
    for value in (flow_parameters, *flow_parameters.values()):
        if isinstance(value, Mapping) and value.get(REFRESH_PARAMETER) is True:
            return True
        if getattr(value, REFRESH_PARAMETER, None) is True:
            return True
    return False


def _drop(store, key: str, reason: str) -> None:
    store.cache.pop(store._resolved_key_path(key), None)
    Path(store.result_storage.basepath, key).unlink(missing_ok=True)
    get_run_logger().info(reason)


class WorkspaceTask:
    """A Prefect task whose results and locks live in the workspace passed as its first argument."""

    def __init__(self, prefect_task: Task):
        self.task = prefect_task
        self.fn = prefect_task.fn.__wrapped__  # type: ignore[attr-defined]  # the plain function (recording_code)
        self.name = prefect_task.name

    def bound(self, ws: WorkspaceRef) -> Task:
        policy = self.task.cache_policy.configure(
            lock_manager=FlockLockManager(ws.results_dir / "locks"), isolation_level="SERIALIZABLE"
        )
        return self.task.with_options(result_storage=ws.results_dir, cache_policy=policy)

    def __call__(self, ws: WorkspaceRef, *args, **kwargs):
        return self.bound(ws)(ws, *args, **kwargs)

    def submit(self, ws: WorkspaceRef, *args, **kwargs):
        return self.bound(ws).submit(ws, *args, **kwargs)

    def plan(self, ws: WorkspaceRef, *args, flow_parameters: Mapping[str, Any], **kwargs) -> Lookup:
        """What calling this step would do, doing nothing: the key the run computes, looked up as the run does."""
        bound = self.bound(ws)
        inputs = get_call_parameters(self.fn, (ws, *args), kwargs)
        store = ResultStore(result_storage=LocalFileSystem(basepath=str(ws.results_dir)))
        policy = bound.cache_policy
        assert isinstance(policy, StillTrue)
        return policy.look_up(SimpleNamespace(task=bound), store, inputs, flow_parameters, planning=True)


def workspace_task(
    *, still_true: Check | None = None, exclude: tuple[str, ...] = (), **options
) -> Callable[[Callable], WorkspaceTask]:
    """`@task` with the project's caching: INPUTS (but `exclude`) + StepCode, persisted and locked in the
    workspace, valid while `still_true(cached value, inputs)` holds."""

    def decorate(fn: Callable) -> WorkspaceTask:
        inputs: CachePolicy = INPUTS
        for name in exclude:
            inputs = inputs - name
        policy = StillTrue(base=inputs + StepCode(), check=still_true)
        return WorkspaceTask(task(cache_policy=policy, persist_result=True, **options)(recording_code(fn)))

    return decorate
