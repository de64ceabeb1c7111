"""The local workspace's datastore, compute and locks, used directly (no Prefect)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from workspaces import locks
from workspaces.base import ComputeSpec
from workspaces.errors import WorkspaceError
from workspaces.local.workspace import LocalWorkspace
from workspaces.owners import OWNER_TAG


@pytest.fixture
def workspace(tmp_path):
    return LocalWorkspace(tmp_path / "ws")


def data_files(folder, contents):
    folder.mkdir(exist_ok=True)
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in contents]


def test_upload_copies_only_what_changed(workspace, tmp_path):
    files = data_files(tmp_path / "data", {"train-images.gz": b"a", "train-labels.gz": b"b"})
    first = workspace.upload(files, "mnist")
    stored = workspace.root / "datastore" / "mnist" / "train-images.gz"
    stamp = stored.stat().st_mtime_ns
    time.sleep(0.01)
    (tmp_path / "data" / "train-labels.gz").write_bytes(b"changed")
    second = workspace.upload(files, "mnist")
    assert stored.stat().st_mtime_ns == stamp  # same content: not copied again
    assert (workspace.root / "datastore" / "mnist" / "train-labels.gz").read_bytes() == b"changed"
    assert first.files["train-images.gz"] == second.files["train-images.gz"]
    assert first.content_hash != second.content_hash
    assert workspace.holds(second) and not workspace.holds(first)


def test_an_interrupted_copy_leaves_no_half_file(workspace, tmp_path, monkeypatch):
    files = data_files(tmp_path / "data", {"train-images.gz": b"x" * 1000})

    def copy_half_then_fail(source, target):
        target.write_bytes(source.read_bytes()[:500])
        raise KeyboardInterrupt

    monkeypatch.setattr("workspaces.files.shutil.copyfile", copy_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        workspace.upload(files, "mnist")
    folder = workspace.root / "datastore" / "mnist"
    assert list(folder.iterdir()) == []  # no file under its final name, no temporary left, no manifest entry
    monkeypatch.undo()
    assert workspace.holds(workspace.upload(files, "mnist"))


def test_compute_is_created_then_attached(workspace):
    first = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=2))
    second = workspace.provision_compute(ComputeSpec(name="cpu-cluster", max_nodes=3))
    assert first.created and not second.created
    assert second.max_nodes == 3  # scale settings follow the request, as AmlCompute.update does


def test_max_nodes_bounds_the_runs_at_once(workspace):
    compute = workspace.provision_compute(ComputeSpec(name="two", max_nodes=2))
    held = [workspace.compute.acquire_node(compute, cancelled=lambda: False) for _ in range(2)]
    calls = []
    assert workspace.compute.acquire_node(compute, cancelled=lambda: calls.append(1) or len(calls) > 2) is None
    locks.release(held[0])
    assert workspace.compute.acquire_node(compute, cancelled=lambda: False) is not None


def test_deleting_a_compute_target_leaves_no_node_file_but_one_a_run_still_holds(workspace):
    """--delete-compute left compute/<name>/node-0.lock behind."""
    compute = workspace.provision_compute(ComputeSpec(name="two", max_nodes=2))
    free, held = (workspace.compute.acquire_node(compute, cancelled=lambda: False) for _ in range(2))
    locks.release(free)
    workspace.delete_compute(compute)
    assert [p.name for p in (workspace.root / "compute" / "two").iterdir()] == ["node-1.lock"]  # still in use
    locks.release(held)
    workspace.provision_compute(ComputeSpec(name="two", max_nodes=1))
    workspace.delete_compute(compute)
    assert sorted(p.name for p in (workspace.root / "compute").iterdir()) == []


def test_a_lock_dies_with_its_holder(tmp_path):
    lock = tmp_path / "step.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import fcntl, os, sys, time
fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
""",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert locks.is_locked(lock)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    fd = locks.wait_for(lock, timeout=5)
    assert fd is not None  # the kernel released it: the next run does not wait
    locks.release(fd)


def test_runs_left_running_by_a_dead_flow_are_marked_killed(tmp_path):
    first = LocalWorkspace(tmp_path / "ws")
    run_id, _ = first.tracking.start_run("sklearn-mnist", "reg-0.8", {})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = first.tracking.client.get_run(run_id).data.tags[OWNER_TAG]
    first.tracking.client.set_tag(run_id, OWNER_TAG, owner.rsplit(":", 2)[0] + f":{dead.stdout.strip()}:0")
    alive_run, _ = first.tracking.start_run("sklearn-mnist", "reg-0.4", {})
    _ = LocalWorkspace(tmp_path / "ws").tracking  # the next flow's connect, once it has opened the run history
    assert first.tracking.client.get_run(run_id).info.status == "KILLED"
    assert first.tracking.client.get_run(alive_run).info.status == "RUNNING"  # its owner (this process) lives


def test_an_unwritable_workspace_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WorkspaceError, match="a file stands where a folder is needed"):
        LocalWorkspace(tmp_path / "file" / "ws")


def test_a_file_written_whole_has_the_modes_the_umask_gives_not_owner_only(tmp_path):
    """Reports, predictions and datastore files were 0600 whatever the umask (mkstemp's mode): a team's shared
    workspace folder could not read them."""
    from workspaces.files import current_umask, write_bytes_atomically

    write_bytes_atomically(tmp_path / "report.png", b"png")
    assert (tmp_path / "report.png").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert current_umask() == os.umask(current_umask())  # (read right: setting it returns the one in force)


@pytest.mark.parametrize("tracking_uri, store", [(None, True), ("http://127.0.0.1:5000", False)])
def test_a_command_loads_the_workspace_before_its_flow_starts_and_creates_nothing(tmp_path, tracking_uri, store):
    """workspaces.preload, which flows/cli.py calls before the flow run starts (a second of imports inside the flow
    could add a second to it: workspaces.preload says why): the adapter, and MLflow's SQLite store unless a
    server keeps the runs; nothing is created, since the flow may yet refuse its parameters."""
    code = (
        "import sys, workspaces; from workspaces.base import WorkspaceRef; "
        f"workspaces.preload(WorkspaceRef(backend='local', directory={str(tmp_path / 'ws')!r}, "
        f"tracking_uri={tracking_uri!r})); "
        "print(sorted(m for m in ('workspaces.local.workspace', 'mlflow.store.tracking.sqlalchemy_store') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    expected = ["mlflow.store.tracking.sqlalchemy_store"] if store else []
    assert loaded.stdout.strip() == str(expected + ["workspaces.local.workspace"])
    assert not (tmp_path / "ws").exists()


def test_the_second_copy_of_the_parsed_arrays_an_earlier_version_kept_is_removed_at_open(tmp_path):
    """An earlier version kept the parsed arrays beside the datastore's files too (210 MB on MNIST); the runs now
    read the one copy beside the downloads, so the next flow to open the workspace lets the other go."""
    LocalWorkspace(tmp_path / "ws")
    earlier = tmp_path / "ws" / "datastore" / "mnist" / ".parsed"
    earlier.mkdir(parents=True)
    (earlier / "b240b2816607a6c77f1ccf0317218b2a-float32-images.npy").write_bytes(b"\0" * 1024)
    (tmp_path / "ws" / "datastore" / "mnist" / "train-images.gz").write_bytes(b"kept")
    LocalWorkspace(tmp_path / "ws")
    assert not earlier.exists()
    assert (tmp_path / "ws" / "datastore" / "mnist" / "train-images.gz").read_bytes() == b"kept"


def test_removing_the_earlier_copy_never_follows_a_symlink_out_of_the_workspace(tmp_path):
    """A datastore target planted as a symlink to a folder elsewhere: that folder's .parsed is not the workspace's."""
    LocalWorkspace(tmp_path / "ws")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".parsed").mkdir(parents=True)
    (elsewhere / ".parsed" / "someone-elses.npy").write_bytes(b"theirs")
    (tmp_path / "ws" / "datastore" / "planted").symlink_to(elsewhere, target_is_directory=True)
    LocalWorkspace(tmp_path / "ws")
    assert (elsewhere / ".parsed" / "someone-elses.npy").read_bytes() == b"theirs"
