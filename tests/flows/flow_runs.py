"""Running the real flow (in the test process, or as the command a user types), and reading the local
workspace's MLflow store."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from mlflow import MlflowClient

from flows.main import mnist_training
from tests.conftest import PROJECT

MAIN = PROJECT / "flows" / "main.py"
TWO_RATES = ("--regularization", "0.8", "--regularization", "0.4")  # flags of two training runs


def run_flow(**params):
    """The flow's final state, run in this process against the session's Prefect server with `params` (the
    fields of its one parameter)."""
    return mnist_training(params=params, return_state=True)


def flow_run_id(state):
    return state.state_details.flow_run_id


def mlflow_runs(workspace_dir) -> list:
    uri = f"sqlite:///{workspace_dir}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["attributes.start_time ASC"]) if experiments else []


def model_versions(workspace_dir, name: str = "sklearn_mnist") -> list:
    uri = f"sqlite:///{workspace_dir}/mlflow.db"
    return MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions(f"name='{name}'")


def edit_train_script(training_dir, before_main: str) -> None:
    """Insert `before_main` (lines of Python, indented for main()) at the start of train.py's main()."""
    script = training_dir / "train.py"
    text = script.read_text()
    script.write_text(text.replace("def main():\n", "def main():\n" + before_main, 1))


def held_while(hold: Path, training_dir, then: str = "") -> None:
    """train.py waits while the file `hold` exists (the `hold` fixture), then does `then`: a run the test keeps
    under way for as long as it needs, on a loaded machine too (a run's script that fails at once can have failed
    before the next line of the test, when it is forked from a warm interpreter)."""
    wait = f"    import os, time\n    while os.path.exists({str(hold)!r}):\n        time.sleep(0.05)\n"
    edit_train_script(training_dir, wait + then)


def training_processes(workspace: Path) -> list[int]:
    """Pids of the processes working in a run folder of `workspace`: its local runs, forked or fresh."""
    runs = f"{Path(workspace).resolve() / 'runs'}{os.sep}"
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"{os.readlink(proc / 'cwd')}{os.sep}".startswith(runs):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or a zombie
            pass
    return found


def stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name: state, parent pid, ... (OSError if the process is gone)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def has_ended(pid: int) -> bool:
    """Whether the process `pid` is gone, or a zombie (its parent died and nobody has reaped it yet)."""
    try:
        return stat_fields(pid)[0] == "Z"
    except OSError:
        return True


def descendants(pid: int) -> list[int]:
    """Pids of every process started by `pid`, and by those, and so on (to check later that none is left)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                children.setdefault(int(stat_fields(proc.name)[1]), []).append(int(proc.name))
        except OSError:
            pass
    found, parents = [], [pid]
    while parents:
        born = children.get(parents.pop(), [])
        found += born
        parents += born
    return sorted(found)


def fork_servers(parent: int) -> list[int]:
    """Pids of the fork servers (workspaces/local/forkserver.py) the process `parent` started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (
                proc.name.isdigit()
                and b"forkserver.py" in (proc / "cmdline").read_bytes()
                and int(stat_fields(proc.name)[1]) == parent  # its parent's pid
            ):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def flow_command(tmp_path: Path, mirror_url: str, dataset: dict, *flags: str, python=(sys.executable,)) -> list[str]:
    """`python flows/main.py` on the workspace tmp_path/ws, with `dataset` (written to tmp_path/dataset.json)
    from `mirror_url`, two nodes, and `flags`."""
    (tmp_path / "dataset.json").write_text(json.dumps(dataset))
    return [
        *python,
        str(MAIN),
        "--workspace-dir",
        str(tmp_path / "ws"),
        "--mirror",
        mirror_url,
        "--dataset",
        str(tmp_path / "dataset.json"),
        "--max-nodes",
        "2",
        *flags,
    ]


class FlowProcess:
    """A flow started as a command; its output (stdout and stderr) collected line by line as it comes."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code
