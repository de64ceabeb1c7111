"""upload_data: the tutorial's `ds.upload(src_dir='./data', target_path='mnist')`, content-addressed.

The datastore keeps the tutorial's layout (target path `mnist`, files `train-images.gz` ...), so a training
script written for the tutorial finds its data; the workspace copies only what it does not already hold
with the same sha256. The returned DataRef is what the runs receive as `--data-folder`.
"""

import workspaces
from plumbing.caching import still_held, workspace_task
from plumbing.retries import retrying
from steps.dataset import LocalFiles
from workspaces.base import DataRef, WorkspaceRef


@workspace_task(still_true=still_held(), task_run_name="upload to {target}", **retrying())
def upload_data(ws: WorkspaceRef, files: LocalFiles, target: str = "mnist") -> DataRef:
    return workspaces.open_workspace(ws).upload(files.paths, target)
