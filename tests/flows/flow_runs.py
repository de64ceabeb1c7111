"""Running the real flow in the test process, and reading the local workspace's MLflow store."""

from pathlib import Path

from mlflow import MlflowClient

from flows.main import mnist_training


def run_flow(**arguments):
    """The flow's final state, run in this process against the session's Prefect server."""
    return mnist_training(**arguments, return_state=True)


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


def training_processes(marker: str) -> list[int]:
    """Pids of the processes whose command line mentions `marker` (a workspace's datastore: its local runs)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found
