"""The project's caching (plumbing/caching.py): flock locks in Prefect's lock protocol, the still-true check,
results persisted in the workspace. Real Prefect tasks on the session's server, real processes for the locks."""

import subprocess
import sys
from pathlib import Path

import pytest
from prefect import flow

from plumbing.caching import FlockLockManager, workspace_task
from tests.flows.flow_runs import flow_run_id
from tests.prefect_api import task_states
from workspaces.base import WorkspaceRef

CALLS: list[str] = []


@workspace_task(still_true=lambda path, inputs: Path(path).is_file(), exclude=("noise",))
def write_marker(ws: WorkspaceRef, name: str, noise: int = 0) -> str:
    CALLS.append(name)
    path = ws.reports_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name)
    return str(path)


@workspace_task()
def write_marker_twin(ws: WorkspaceRef, name: str, noise: int = 0) -> str:
    CALLS.append(f"twin {name}")
    return name


@flow
def markers(directory: str, name: str, noise: int = 0, refresh_cache: bool = False) -> str:
    ws = WorkspaceRef(backend="local", directory=directory)
    write_marker_twin(ws, name, noise)
    return write_marker(ws, name, noise)


def run(tmp_path, **arguments):
    CALLS.clear()
    state = markers(directory=str(tmp_path / "ws"), **{"name": "a.txt", **arguments}, return_state=True)
    assert state.is_completed(), state.message
    return state


def test_a_step_is_computed_once_then_read_from_the_workspace(prefect_api, tmp_path):
    run(tmp_path)
    assert CALLS == ["twin a.txt", "a.txt"]  # equal inputs, but each task its own key (INPUTS + StepCode)
    second = run(tmp_path, noise=7)  # an excluded input does not change the key
    assert CALLS == ["twin a.txt"] and task_states(flow_run_id(second))["write_marker"] == ["Cached"]
    assert list((tmp_path / "ws" / "results").glob("*"))  # persisted in the workspace given


def test_a_cached_value_that_no_longer_holds_is_recomputed(prefect_api, tmp_path):
    path = Path(run(tmp_path).result())
    path.unlink()
    second = run(tmp_path)
    assert CALLS == ["a.txt"] and path.is_file()
    assert task_states(flow_run_id(second))["write_marker"] == ["Completed"]


def test_refresh_cache_recomputes_every_step(prefect_api, tmp_path):
    run(tmp_path)
    run(tmp_path, refresh_cache=True)
    assert CALLS == ["twin a.txt", "a.txt"]


def test_a_lock_has_one_holder_and_is_released(tmp_path):
    first, second = FlockLockManager(tmp_path), FlockLockManager(tmp_path)
    assert first.acquire_lock("key", holder="a")
    assert first.is_lock_holder("key", "a") and not first.is_lock_holder("key", "b")
    assert second.is_locked("key") and not second.acquire_lock("key", holder="b", acquire_timeout=0.3)
    assert not second.wait_for_lock("key", timeout=0.3)
    with pytest.raises(ValueError, match="No lock held by b"):
        first.release_lock("key", holder="b")
    first.release_lock("key", holder="a")
    assert not second.is_locked("key") and second.acquire_lock("key", holder="b", acquire_timeout=0.3)
    second.release_lock("key", holder="b")


def test_a_lock_held_by_a_killed_process_does_not_block(tmp_path):
    code = (
        "import sys, time; from plumbing.caching import FlockLockManager; "
        "FlockLockManager(sys.argv[1]).acquire_lock('key', 'dead'); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    manager = FlockLockManager(tmp_path)
    assert manager.is_locked("key")
    holder.kill()
    holder.wait()
    assert manager.acquire_lock("key", holder="next", acquire_timeout=5)  # the kernel released it
