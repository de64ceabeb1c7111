"""A workspace folder says it is one: the file MARKER, written when a flow first opens it. A folder given as the
workspace that holds other files and no marker (a symlink to `/`, a home folder given by mistake) is refused in one
line before anything is written into it, `--plan` included: the flow would otherwise adopt it and fill it with
its caches, datastore and registry. A workspace made before the marker existed is known by its layout, and
adopted (marked) when opened."""

import os
from pathlib import Path

MARKER = ".mnist-flow-workspace"
LAYOUT = {"mlflow.db", "locks", "datastore", "runs", "results", "downloads"}  # a workspace of an earlier version


def check_workspace_folder(folder: str) -> None:
    """ValueError, with the sentence the user reads, if `folder` holds files and is not a workspace."""
    path = Path(folder)
    if not path.is_dir() or (path / MARKER).is_file():
        return  # new (made when opened), or a workspace
    try:
        names = {entry.name for entry in os.scandir(path)}
    except OSError as exc:
        raise ValueError(f"workspace folder {folder!r} cannot be read ({exc.strerror}); choose another") from None
    if not names or len(names & LAYOUT) >= 2:
        return  # empty, or a workspace made before the marker
    raise ValueError(
        f"workspace folder {folder!r} holds other files and is not an mnist-flow workspace (it has no {MARKER}); "
        "choose a new or empty folder, or an existing workspace, with --workspace-dir (or MNIST_FLOW_WORKSPACE)"
    )


def mark_workspace_folder(folder: str) -> None:
    """Say the folder is a workspace (made if new): once, when a flow first opens it."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / MARKER
    if not marker.is_file():
        marker.write_text("This folder is an mnist-flow workspace (docs/local-workspace.md).\n")
