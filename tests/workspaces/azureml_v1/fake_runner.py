"""One run of the fake Azure ML workspace (fake_sdk.py), as a detached process: `python -m ... <run folder>`.

It walks Azure ML's statuses in the run's run.json (NotStarted -> Queued -> Preparing -> Running -> Finalizing ->
Completed or Failed; CancelRequested -> Canceled when cancelled), runs the submitted entry script in the run's
snapshot with its resolved arguments and its own MLflow store, and copies every line it prints into each of
the runtime's log files as it comes. It lives on when the flow that submitted it dies, as a cloud run does.

The failure texts are Azure ML's as users have reported them (public threads: Azure/MachineLearningNotebooks
#1360 and #1242): a script that exits non-zero, and a low-priority node that is pre-empted.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

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


class Run:
    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "run.json"

    def read(self) -> dict:
        return json.loads(self.path.read_text())

    def update(self, **changes) -> None:
        record = {**self.read(), **changes}
        if "status" in changes:  # every status the run went through, for the tests to check the walk
            record["history"] = [*record.get("history", []), changes["status"]]
            # the run history's times: started when its script starts, ended at its end (ISO 8601, as the SDK)
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            if changes["status"] == "Running":
                record["startTimeUtc"] = now
            if changes["status"] in ("Completed", "Failed", "Canceled"):
                record["endTimeUtc"] = now
        tmp = self.path.with_name(f".run.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, self.path)

    def cancelled(self) -> bool:
        return bool(self.read().get("cancel_requested"))


def wait(run: Run, seconds: float) -> bool:
    """Sleep `seconds`; False if the run was cancelled meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if run.cancelled():
            return False
        time.sleep(POLL)
    return not run.cancelled()


def start_script(run: Run, record: dict) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file://{run.folder / 'mlruns'}", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_RUN_ID", None)
    command = [sys.executable, record["script"], *record["arguments"]]
    return subprocess.Popen(
        command,
        cwd=run.folder / "snapshot",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def copy_output(script: subprocess.Popen, logs: list[Path], first_line: threading.Event) -> None:
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(log, "ab", buffering=0)) for log in logs]
        for line in script.stdout:
            for file in files:
                file.write(line)
            first_line.set()


def main(folder: Path) -> None:
    run = Run(folder)
    record = run.read()
    run.update(status="Queued")
    if not wait(run, record["queue_seconds"]):
        return run.update(status="Canceled")
    run.update(status="Preparing")
    logs = [folder / name for name in record["logs"]]
    for log in logs:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    script = start_script(run, record)
    run.update(status="Running")
    first_line = threading.Event()
    copier = threading.Thread(target=copy_output, args=(script, logs, first_line))
    copier.start()
    while script.poll() is None:
        if run.cancelled():
            run.update(status="CancelRequested")
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
            copier.join()
            return run.update(status="Canceled")
        if record["preempt"] and first_line.is_set():  # the node is taken away while the script runs
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
    main(Path(sys.argv[1]))
