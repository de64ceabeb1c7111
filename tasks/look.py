"""look_at_digits: the tutorial's look at 30 random training digits, as a PNG in the workspace's reports/.

The picture is published as an artifact by tasks/report.py at every run, cached or not.
"""

from pathlib import Path

from plumbing.caching import workspace_task
from steps.dataset import LocalFiles
from steps.digits import sample_grid_png
from steps.mnist import load_raw
from workspaces.base import WorkspaceRef
from workspaces.files import write_bytes_atomically


@workspace_task(still_true=lambda path, inputs: Path(path).is_file(), task_run_name="look at the digits")
def look_at_digits(ws: WorkspaceRef, files: LocalFiles) -> str:
    images, labels = load_raw(files, "train")
    path = ws.reports_dir / "sample-digits.png"
    write_bytes_atomically(path, sample_grid_png(images, labels))
    return str(path)
