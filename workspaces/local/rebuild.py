"""Rebuilding a registered version from what was recorded about it (`python flows/main.py --reproduce 3`): the
run's own snapshot of the training code, checked against the code's recorded sha256; the data found by
the recorded sha256 of their contents (the datastore's files, else the workspace's downloads); the same regularization
rate and the same number of BLAS threads (measured: lbfgs gives other bits with 2 threads than with 1, and on
MNIST 30 other predictions, as it stops at its iteration limit before converging). It trains once, as an OS
process, in a fresh folder with a throwaway MLflow store: nothing reaches the workspace's history or registry.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from training.utils import PARSED_DIR_VARIABLE
from workspaces.base import MODEL_FILE, ModelVersion, Rebuilt, sha256_of_mapping
from workspaces.errors import DataError
from workspaces.files import SOURCE_IGNORE, sha256_file, sha256_tree
from workspaces.local.processes import THREAD_VARIABLES
from workspaces.local.tracking import LocalTracking
from workspaces.paths import inside

THREADS_TAG = "blas_threads"  # set on every local run at its creation (workspace.py)
DATA_PATH = "mnist"  # the tutorial's target path in the datastore
LEFT_BY_THE_RUN = (*SOURCE_IGNORE, "run.log")  # in a run's folder, beside the snapshot


def rebuild(root: Path, tracking: LocalTracking, version: ModelVersion, folder: Path) -> Rebuilt:
    """Train `version` again in `folder`; DataError naming what no longer matches if its inputs changed."""
    run = tracking.client.get_run(version.run_id)
    snapshot = inside(root, "runs", version.run_id)
    notes = [check_code(snapshot, version.tags.get("training_code_sha256", ""))]
    recorded_data = version.tags.get("data_sha256", "")
    data, found = find_data(root, recorded_data)
    data = copy_data(data, folder / "data", recorded_data)
    notes.append(found)
    threads = run.data.tags.get(THREADS_TAG, "")
    if not (threads.isdigit() and 0 < int(threads) <= 256):  # a tag anyone with the store may have edited
        notes.append(
            f"BLAS threads: recorded as {threads!r}, not a thread count; using 1"
            if threads
            else "BLAS threads: not recorded; using 1"
        )
        threads = ""
    else:
        notes.append(f"BLAS threads: {threads}, as the run had")
    code = folder / "code"
    shutil.copytree(snapshot, code, ignore=shutil.ignore_patterns(*LEFT_BY_THE_RUN))
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        **dict.fromkeys(THREAD_VARIABLES, threads or "1"),
    }
    command = [sys.executable, "train.py", "--data-folder", str(data), "--regularization", repr(version.regularization)]
    with open(folder / "run.log", "wb") as log:
        ended = subprocess.run(command, cwd=code, env={**base_env(), **env}, stdout=log, stderr=subprocess.STDOUT)
    if ended.returncode != 0:
        tail = (folder / "run.log").read_text(errors="replace").splitlines()[-5:]
        raise DataError(f"the rebuild's train.py exited {ended.returncode}: " + " | ".join(tail))
    recorded = tracking.download_run_file(version.run_id, MODEL_FILE, folder / "recorded")
    return Rebuilt(recorded, inside(code, MODEL_FILE), data, notes)


def check_code(snapshot: Path, recorded: str) -> str:
    if not (snapshot / "train.py").is_file():
        raise DataError(f"training code: the run's snapshot {snapshot} is gone; cannot rebuild the version")
    digest = sha256_tree(snapshot, ignore=LEFT_BY_THE_RUN)
    if digest != recorded:
        raise DataError(
            f"training code: the run's snapshot {snapshot} hashes to {digest[:12]}..., the version recorded "
            f"{recorded[:12]}...: it changed after the run; cannot rebuild the version from it"
        )
    return f"training code: the run's snapshot matches its recorded sha256 {recorded[:12]}..."


def find_data(root: Path, recorded: str) -> tuple[Path, str]:
    """The folder whose files hash to the data the version was trained on (their contents, whatever a manifest
    says): the datastore's, else the workspace's downloads (the same four files before their upload), and a note
    saying which; DataError naming what each holds if neither does."""
    places = {
        f"the datastore's {DATA_PATH} files": inside(root, "datastore", DATA_PATH),
        "the workspace's downloads": inside(root, "downloads"),
    }
    found: list[str] = []
    for place, folder in places.items():
        names = sorted(p.name for p in folder.glob("*.gz")) if folder.is_dir() else []
        digest = sha256_of_mapping({name: sha256_file(inside(folder, name)) for name in names})
        if digest == recorded:
            return folder, f"data: {place} match the recorded sha256 {recorded[:12]}..." + (
                f" ({found[0]})" if found else ""
            )
        found.append(f"{place} ({', '.join(names) or 'none'}) hash to {digest[:12]}...")
    raise DataError(
        f"data: {' and '.join(found)}; the version was trained on {recorded[:12]}...: cannot rebuild the version"
    )


def copy_data(source: Path, dest: Path, recorded: str) -> Path:
    """The found data files copied into the rebuild's folder, and checked there: train.py reads these, parses
    them itself (not the parsed arrays a run keeps beside the datastore's files, which no hash covers), and
    nothing that changes the workspace's files meanwhile reaches the rebuild."""
    dest.mkdir()
    names = sorted(p.name for p in source.glob("*.gz"))
    for name in names:
        shutil.copyfile(inside(source, name), inside(dest, name))
    digest = sha256_of_mapping({name: sha256_file(inside(dest, name)) for name in names})
    if digest != recorded:
        raise DataError(f"data: {source} changed while it was copied for the rebuild; run --reproduce again")
    return dest


def base_env() -> dict[str, str]:
    """What the rebuild's process inherits: this environment without a run's MLflow settings, nor a folder of
    parsed arrays (the rebuild parses its own checked copy of the files)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != PARSED_DIR_VARIABLE}
