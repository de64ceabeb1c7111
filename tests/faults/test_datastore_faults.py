"""A datastore copy killed half-way (a real process, SIGKILL): never a half file under its final name, and the
next upload copies what is missing."""

import os
import signal
import subprocess
import sys
import time

from workspaces.local.workspace import LocalWorkspace

UPLOAD = """
import sys
from pathlib import Path
from workspaces.local.workspace import LocalWorkspace
LocalWorkspace(Path(sys.argv[1])).upload([Path(p) for p in sys.argv[2:]], "mnist")
"""


def test_an_upload_killed_half_way_leaves_no_half_file_and_is_redone(tmp_path):
    big = tmp_path / "train-images.gz"
    with open(big, "wb") as f:  # large enough that the copy is still going when the process is killed
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    small = tmp_path / "train-labels.gz"
    small.write_bytes(b"labels")
    workspace, stored = tmp_path / "ws", tmp_path / "ws" / "datastore" / "mnist"
    LocalWorkspace(workspace)  # the workspace exists before the upload starts
    upload = subprocess.Popen([sys.executable, "-c", UPLOAD, str(workspace), str(small), str(big)])
    while not list(stored.glob(".train-images.gz.*.part")) and upload.poll() is None:
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
