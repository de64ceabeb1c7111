"""Measuring commands for benchmarks/run.py: wall time and peak memory of a process, and what Prefect and MLflow
recorded about a flow run (the Prefect server is plumbing/prefect_server.py's)."""

import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from plumbing.prefect_server import PrefectServer

PROJECT = Path(__file__).resolve().parents[1]
BASELINE_LINE = re.compile(
    r"baseline LogisticRegression\(\): accuracy ([\d.]+) on \d+ test images \(fit in ([\d.]+) s(?:, ([\d.]+) s of CPU)?"
)


@dataclass
class Measured:
    seconds: float
    peak_mb: float  # the process's own peak resident memory (VmHWM), not its children's
    output: str


def peak_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(command: list[str], env: dict[str, str]) -> Measured:
    """Run `command` to its end; raise with its output if it failed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = [0.0]

    def watch_memory() -> None:  # VmHWM only grows: the last reading before the end is the peak
        while process.poll() is None:
            peak[0] = max(peak[0], peak_of(process.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_memory, daemon=True)
    watcher.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-4000:]}")
    return Measured(seconds, round(peak[0], 1), output)


def flow_run_record(server: PrefectServer) -> dict:
    """The latest mnist-training run as Prefect recorded it: each step's seconds and the baseline's fit."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        run = next(
            r
            for r in client.read_flow_runs(sort="EXPECTED_START_TIME_DESC", limit=5)
            if client.read_flow(r.flow_id).name == "mnist-training"
        )
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        logs, page = [], None
        while page is None or len(page) == 200:  # the API returns at most 200 lines at a time
            page = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200, offset=len(logs)
            )
            logs += page
    steps: dict[str, float] = {}
    for task in sorted(tasks, key=lambda t: t.start_time or t.expected_start_time):  # the flow's order
        step = task.task_key.rsplit("-", 1)[0]  # the task function's name
        steps[step] = max(steps.get(step, 0.0), task.total_run_time.total_seconds())
    baseline = next((BASELINE_LINE.search(log.message) for log in logs if BASELINE_LINE.search(log.message)), None)
    figure = lambda group: float(baseline.group(group)) if baseline and baseline.group(group) else None  # noqa: E731
    return {
        "steps": steps,
        "baseline_accuracy": figure(1),
        "baseline_fit_seconds": figure(2),
        "baseline_cpu_seconds": figure(3),
    }


def training_runs(workspace: Path) -> list[dict[str, float]]:
    """Each training run's figures as the local workspace recorded them in MLflow: its process's peak memory and
    CPU seconds (getrusage, at its end), and the CPU seconds of its fit (train.py's own measure)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{workspace}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    names = ("peak_memory_mb", "process_cpu_seconds", "fit_cpu_seconds")
    return [
        {name: r.data.metrics[name] for name in names}
        for r in client.search_runs(experiments)
        if all(name in r.data.metrics for name in names)
    ]
