"""A datastore copy killed half-way (a real process, SIGKILL): never a half file under its final name, and the
next upload copies what is missing."""

import os
import signal
import subprocess
import sys
import time

from workspaces.local.workspace import LocalWorkspace

# The upload, in its own process, whose copy of the big file stops half-way until it is killed: the kill lands
# mid-copy every time (a fast disk once finished the whole copy between two polls of the test)
UPLOAD = """
import shutil, sys, time
from pathlib import Path
import workspaces.files
from workspaces.local.workspace import LocalWorkspace

def copy_half_then_hang(source, dest):
    if not str(source).endswith("train-images.gz"):
        return shutil.copyfile(source, dest)
    with open(source, "rb") as src, open(dest, "wb") as out:
        out.write(src.read(1 << 20))
        out.flush()
    time.sleep(600)

workspaces.files.shutil = type("shutil", (), {"copyfile": staticmethod(copy_half_then_hang)})
LocalWorkspace(Path(sys.argv[1])).upload([Path(p) for p in sys.argv[2:]], "mnist")
"""


def test_an_upload_killed_half_way_leaves_no_half_file_and_is_redone(processes, tmp_path):
    big = tmp_path / "train-images.gz"
    with open(big, "wb") as f:  # large enough that the copy is still going when the process is killed
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    small = tmp_path / "train-labels.gz"
    small.write_bytes(b"labels")
    workspace, stored = tmp_path / "ws", tmp_path / "ws" / "datastore" / "mnist"
    LocalWorkspace(workspace)  # the workspace exists before the upload starts
    upload = subprocess.Popen([sys.executable, "-c", UPLOAD, str(workspace), str(small), str(big)])
    while not [p for p in stored.glob(".train-images.gz.*.part") if p.stat().st_size] and upload.poll() is None:
        time.sleep(0.01)
    upload.send_signal(signal.SIGKILL)
    upload.wait()
    assert upload.returncode == -signal.SIGKILL
    assert not (stored / "train-images.gz").exists()  # a half file never stands under the final name
    assert (stored / "train-labels.gz").read_bytes() == b"labels"  # what was whole stays

    data = LocalWorkspace(workspace).upload([small, big], "mnist")
    assert (stored / "train-images.gz").stat().st_size == big.stat().st_size
    assert sorted(p.name for p in stored.iterdir()) == ["manifest.json", "train-images.gz", "train-labels.gz"]
    assert LocalWorkspace(workspace).holds(data)
