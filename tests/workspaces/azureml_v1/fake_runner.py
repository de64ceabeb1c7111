"""One run of a fake Azure ML workspace (fake_azureml.py, and the SDK v2 fake), as a detached process:
`python -m tests.workspaces.azureml_v1.fake_runner <run folder>`.

It walks Azure ML's statuses in the run's run.json in the order the SDK documents them (azureml/core/run.py,
`Run.get_status`: NotStarted -> Starting -> Preparing (the image) -> Queued (waiting for nodes, `queue_seconds`,
read again while it waits) -> Running -> Finalizing -> Completed or Failed; CancelRequested -> Canceled when
cancelled), runs the submitted entry script in the run's snapshot with its resolved arguments and its own MLflow
store, and copies every line it prints into each of the runtime's log files as it comes. While the script runs, the
statuses in `interruptions` ([status, seconds], such as NotResponding when its heartbeat is lost) are reported in
turn, then Running again. It lives on when the flow that submitted it dies, as a cloud run does.

The failure texts are Azure ML's as users have reported them (public threads: Azure/MachineLearningNotebooks
#1360 and #1242): a script that exits non-zero, and a low-priority node that is pre-empted.
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from workspaces.local.forked import ForkedProcess, ForkServer, alive, request_run

SCRIPT_FAILED = {
    "code": "UserError",
    "message": "AzureMLCompute job failed. JobFailed: Submitted script failed with a non-zero exit code; see the "
    "driver log file for details. Reason: Job failed with non-zero exit Code",
}
PREEMPTED = {
    "code": "UserError",
    "message": "AzureMLCompute job failed. PreemptionError: Nodes of this job got pre-empted. Check if the run has "
    "failed or restarted. Reason: Received pre-emption warning signal",
}
POLL = 0.1
# each fake run logs to an MLflow file store of its own, as an Azure ML run has its own metrics store; the fakes
# read it back (MLflow refuses a file store unless told it is wanted)
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
# the log files a run writes, by the runtime of the cluster: the common runtime's, the older driver log, or both
RUNTIME_LOGS = {"common": ("user_logs/std_log.txt",), "legacy": ("azureml-logs/70_driver_log.txt",)}
RUNTIME_LOGS["both"] = RUNTIME_LOGS["common"] + RUNTIME_LOGS["legacy"]


def write_json(path: Path, value) -> None:
    """`value` as the JSON file `path`, whole or not at all (writers may share a process: a name per thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def locked(record: Path):
    """The run record's lock, held while it is read and written again (the runner's process and the fake's)."""
    with open(record.with_name(".run.json.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class Run:
    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "run.json"

    def read(self) -> dict:
        return json.loads(self.path.read_text())

    def update(self, **changes) -> None:
        with locked(self.path):  # the fake service changes the record too (tags, a cancel request)
            self._update(changes)

    def _update(self, changes: dict) -> None:
        record = {**self.read(), **changes}
        if "status" in changes:  # every status the run went through, for the tests to check the walk
            record["history"] = [*record.get("history", []), changes["status"]]
            # the run history's times: started when its script starts, ended at its end (ISO 8601, as the SDK)
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            if changes["status"] == "Running":
                record["startTimeUtc"] = now
            if changes["status"] in ("Completed", "Failed", "Canceled"):
                record["endTimeUtc"] = now
        tmp = self.path.with_name(f".run.json.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, self.path)

    def cancelled(self) -> bool:
        return bool(self.read().get("cancel_requested"))


# The runs' scripts are forked from a warm interpreter, the local workspace's fork server (one per process that
# serves a fake, shared by its runners), not started as fresh `python train.py` processes: a fresh one spent about
# 2 s of CPU importing MLflow and scikit-learn, some 90 times a suite, on 2 cores the suite's largest cost after
# its flows. A cluster starts a fresh interpreter; the SDKs cannot tell the difference, and the local workspace's
# exec model (tests/flows/test_stopping.py) still runs one. If the server cannot start, runs start fresh ones.
_scripts: ForkServer | None = None
_scripts_lock = threading.Lock()


def script_server() -> socket.socket | None:
    """This process's fork server for the runs' scripts, started on the first run (or again, if it died): its
    control socket, which each runner inherits; None if it refused to start."""
    global _scripts
    with _scripts_lock:
        _scripts = alive(_scripts)
        return None if _scripts.refused else _scripts.control


def start_runner(folder: Path) -> int:
    """This module run for the run in `folder`, in a session of its own that outlives the flow, as a run on Azure
    does (both fakes start runs so): its pid."""
    project = Path(__file__).resolve().parents[3]
    scripts = script_server()
    fds = () if scripts is None else (scripts.fileno(),)
    with open(folder / "runner.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.workspaces.azureml_v1.fake_runner", str(folder), *map(str, fds)],
            cwd=project,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            pass_fds=fds,
        ).pid


def start_script(run: Run, record: dict, scripts: socket.socket | None) -> tuple[ForkedProcess | subprocess.Popen, IO]:
    """The run's script started in its snapshot, in a session of its own: its process and its output (stdout and
    stderr together), forked from `scripts` if it is given and answers, else a fresh interpreter."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file://{run.folder / 'mlruns'}", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_RUN_ID", None)
    argv = [record["script"], *record["arguments"]]
    cwd = run.folder / "snapshot"
    if scripts is not None:
        read_end, write_end = os.pipe()
        try:
            with open(os.devnull) as no_node_lock:
                forked = request_run(scripts, argv, cwd, env, write_end, no_node_lock.fileno())
            return forked, os.fdopen(read_end, "rb")
        except OSError as error:
            os.close(read_end)
            print(f"the fork server did not start the script ({error}): a fresh interpreter", file=sys.stderr)
        finally:
            os.close(write_end)
    fresh = subprocess.Popen(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert fresh.stdout is not None
    return fresh, fresh.stdout


def copy_output(output: IO, logs: list[Path], first_line: threading.Event) -> None:
    with contextlib.ExitStack() as stack, output:
        files = [stack.enter_context(open(log, "ab", buffering=0)) for log in logs]
        for line in output:
            for file in files:
                file.write(line)
            first_line.set()


def prepared(run: Run, at_most: float = 30.0) -> None:
    """Prepare (the image, on Azure: minutes) until the run is named: its tags come in the submit's second request,
    and what a test asks of runs of one name (how long they queue ...) is applied to it then. A run whose test
    asked that waits for its name up to 10 minutes (30 s ran out on a loaded machine: a run meant to stay
    Queued went on and ran); others up to `at_most`, in case their tags never come."""
    deadline = time.monotonic() + (600 if run.read().get("awaits_its_name") else at_most)
    while not run.read().get("tags") and time.monotonic() < deadline:
        time.sleep(POLL)


def queued(run: Run) -> bool:
    """Wait in the queue as long as the run's queue_seconds say (read again: set once the run is named); False if
    cancelled meanwhile."""
    started = time.monotonic()
    while time.monotonic() - started < float(run.read().get("queue_seconds") or 0):
        if run.cancelled():
            return False
        time.sleep(POLL)
    return not run.cancelled()


def interrupted(run: Run, first_line: threading.Event) -> None:
    """Once the script printed, report each of the run's interruptions for its time, then Running again (in a
    thread beside the script)."""
    first_line.wait()
    for status, seconds in run.read().get("interruptions") or []:
        run.update(status=status)
        time.sleep(seconds)
        if run.read()["status"] == status:
            run.update(status="Running")


def main(folder: Path, scripts: socket.socket | None) -> None:
    run = Run(folder)
    record = run.read()
    run.update(status="Starting")
    run.update(status="Preparing")
    prepared(run)
    run.update(status="Queued")
    if not queued(run):
        return run.update(status="Canceled")
    logs = [folder / name for name in record["logs"]]
    for log in logs:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    script, output = start_script(run, record, scripts)
    run.update(status="Running")
    first_line = threading.Event()
    copier = threading.Thread(target=copy_output, args=(output, logs, first_line))
    copier.start()
    threading.Thread(target=interrupted, args=(run, first_line), daemon=True).start()
    while script.poll() is None:
        if run.cancelled():
            run.update(status="CancelRequested")
            while os.path.exists(run.read().get("cancelling_held_by") or ""):  # Azure takes its time (even hours)
                time.sleep(POLL)
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
            copier.join()
            return run.update(status="Canceled")
        if run.read().get("preempt") and first_line.is_set():  # the node is taken away while the script runs
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
            copier.join()
            return run.update(status="Failed", error={"error": PREEMPTED})
        time.sleep(POLL)
    copier.join()
    run.update(status="Finalizing")
    if script.returncode == 0:
        run.update(status="Completed")
    else:
        run.update(status="Failed", error={"error": SCRIPT_FAILED})


if __name__ == "__main__":
    main(Path(sys.argv[1]), socket.socket(fileno=int(sys.argv[2])) if len(sys.argv) > 2 else None)
