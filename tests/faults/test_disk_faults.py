"""A workspace that cannot be written, or whose disk is full: one clear error, and nothing previously
registered is lost. The full disk is a small tmpfs (tests run as root, who writes into a mode-555 folder
anyway); where mounting is not allowed the full-disk cases are skipped with that reason."""

import subprocess

import numpy as np
import pytest

from tests.flows.flow_runs import model_versions
from workspaces.errors import WorkspaceError
from workspaces.local.workspace import LocalWorkspace


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); the full-disk cases need one")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk) -> None:
    with open(disk / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
        except OSError:
            pass
    for size in (65536, 4096, 1):  # the last crumbs too
        try:
            with open(disk / f"crumbs-{size}", "ab") as crumbs:
                while True:
                    crumbs.write(b"\0" * size)
                    crumbs.flush()
        except OSError:
            pass


def test_a_workspace_under_a_regular_file_fails_before_anything(flow, tmp_path, mirror):
    (tmp_path / "file").write_text("")
    error = str(flow(workspace_dir=str(tmp_path / "file" / "ws")).result(raise_on_failure=False))
    assert error.startswith("workspace folder") and "is a file, not a folder; choose another --workspace-dir" in error
    assert mirror.requests == []


def test_a_full_disk_is_one_clear_error_and_the_registry_survives(flow, small_disk):
    workspace = small_disk / "ws"
    first = flow(workspace_dir=str(workspace))
    assert first.is_completed(), first.message
    fill(small_disk)
    error = str(flow(workspace_dir=str(workspace), regularization=[0.3]).result(raise_on_failure=False))
    assert error.startswith("no space left on the device writing") and "free some space and run again" in error
    for path in small_disk.glob("crumbs-*"):
        path.unlink()
    (small_disk / "filler").unlink()
    assert [str(v.version) for v in model_versions(workspace)] == ["1"]
    model = LocalWorkspace(workspace).load_model(first.result(), small_disk / "model")  # its sha256 checked
    assert model.predict(np.zeros((1, 784), dtype=np.float32)).shape == (1,)


def test_a_copy_that_fills_the_disk_leaves_no_half_file(small_disk, tmp_path):
    workspace = LocalWorkspace(small_disk / "ws")
    big = tmp_path / "train-images.gz"
    big.write_bytes(b"\1" * (80 << 20))  # larger than the whole disk
    with pytest.raises(WorkspaceError, match="no space left on the device writing .*train-images.gz"):
        workspace.upload([big], "mnist")
    assert list((small_disk / "ws" / "datastore" / "mnist").iterdir()) == []
