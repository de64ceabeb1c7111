"""A fake of the Azure adapter's seam (workspaces/azureml_sdk.py): an Azure ML workspace on this machine.

It records every call and fails on cue, and its runs are real: `submit` executes the ScriptRunConfig it is
given (source folder, entry script, arguments) as a process, with `$AZUREML_DATAREFERENCE_<name>` replaced by
the datastore folder the configuration's data reference names, as Azure ML's runtime does, and MLflow logging
to a store of the run's own, from which `run_metrics` reads as `run.get_metrics()` does. So a wrong
configuration fails here as it would on the cluster.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from pathlib import Path

import requests
from mlflow import MlflowClient

# each fake run logs to an MLflow file store of its own, as an Azure ML run has its own metrics store
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
PREEMPTED = {"error": {"code": "ServiceError", "message": "The low-priority node running the job was preempted"}}


def http_error(status: int, text: str = "") -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} {text}".strip(), response=response)


class FakeAzureSdk:
    def __init__(self, root: Path, workspace_name: str = "fake-workspace"):
        self.root = Path(root)
        self.workspace_name, self.description = workspace_name, "a fake of the SDK (tests)"
        self.calls: list[tuple[str, tuple]] = []
        self.failures: dict[str, list[BaseException]] = defaultdict(list)  # method -> raised on its next calls
        self.preempt: list[str] = []  # run names whose next attempt loses its node
        self.computes: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.registry: list[dict] = []
        self.lock = threading.Lock()

    def _call(self, method: str, *args) -> None:
        with self.lock:
            self.calls.append((method, args))
            if self.failures[method]:
                raise self.failures[method].pop(0)

    def called(self, method: str) -> list[tuple]:
        return [args for name, args in self.calls if name == method]

    # compute
    def find_compute(self, name):
        self._call("find_compute", name)
        return self.computes.get(name)

    def create_compute(self, name, provisioning, write_line):
        self._call("create_compute", name, provisioning)
        provisioning.validate_configuration()  # the real SDK object
        scale = provisioning.scale_settings
        write_line('Creating.\nSucceededProvisioning operation finished, operation "Succeeded"')
        self.computes[name] = {
            "type": "AmlCompute",
            "vm_size": provisioning.vm_size,
            "min_nodes": scale.minimum_node_count,
            "max_nodes": scale.maximum_node_count,
            "idle_seconds": scale.idle_seconds_before_scaledown,
        }

    def update_compute(self, name, min_nodes, max_nodes, idle_seconds):
        self._call("update_compute", name, min_nodes, max_nodes, idle_seconds)
        self.computes[name].update(min_nodes=min_nodes, max_nodes=max_nodes, idle_seconds=idle_seconds)

    def delete_compute(self, name):
        self._call("delete_compute", name)
        del self.computes[name]

    # datastore
    def datastore_name(self, name):
        self._call("datastore_name", name)
        return name or "workspaceblobstore"

    def _datastore(self, datastore: str) -> Path:
        return self.root / "datastores" / datastore

    def read_datastore_file(self, datastore, path):
        self._call("read_datastore_file", datastore, path)
        file = self._datastore(datastore) / path
        return file.read_bytes() if file.is_file() else None

    def upload_files(self, datastore, paths, target):
        self._call("upload_files", datastore, [Path(p).name for p in paths], target)
        (self._datastore(datastore) / target).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copyfile(path, self._datastore(datastore) / target / Path(path).name)

    # runs
    def submit(self, experiment, config, tags):
        self._call("submit", experiment, tags["run_name"])
        run_id = f"{experiment}_{uuid.uuid4().hex[:8]}"
        folder = self.root / "runs" / run_id
        shutil.copytree(config.source_directory, folder)
        run = {
            "id": run_id,
            "name": tags["run_name"],
            "folder": folder,
            "status": "Running",
            "error": None,
            "mlflow": f"file://{folder / 'mlruns'}",
            "config": config,
        }
        if tags["run_name"] in self.preempt:
            self.preempt.remove(tags["run_name"])
            (folder / "std_log.txt").write_text("Starting the job\nloading data\n")
            run.update(status="Failed", error=PREEMPTED, process=None)
        else:
            run["process"] = self._start(config, folder, run["mlflow"])
        self.runs[run_id] = run
        return run_id, f"https://ml.azure.com/runs/{run_id}?wsid=fake"

    def _start(self, config, folder: Path, tracking: str) -> subprocess.Popen:
        mounts = {
            f"$AZUREML_DATAREFERENCE_{name}": str(self._datastore(ref.data_store_name) / ref.path_on_data_store)
            for name, ref in config.run_config.data_references.items()
        }
        arguments = [mounts.get(str(a), str(a)) for a in config.arguments]
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PYTHONUNBUFFERED": "1"}
        env.pop("MLFLOW_RUN_ID", None)
        with open(folder / "std_log.txt", "wb") as log:
            return subprocess.Popen(
                [sys.executable, config.script, *arguments],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run_details(self, run_id):
        self._call("run_details", run_id)
        run = self.runs[run_id]
        process = run.get("process")
        if run["status"] == "Running" and process is not None and process.poll() is not None:
            failed = {"error": {"code": "UserError", "message": f"Execution failed: exit code {process.returncode}"}}
            run.update(
                status="Completed" if process.returncode == 0 else "Failed",
                error=None if process.returncode == 0 else failed,
            )
        return {
            "runId": run_id,
            "status": run["status"],
            "error": run["error"],
            "logFiles": {"user_logs/std_log.txt": f"fake://{run_id}/std_log.txt"},
        }

    def read_url(self, url):
        self._call("read_url", url)
        run_id, name = url.removeprefix("fake://").split("/", 1)
        return (self.runs[run_id]["folder"] / name).read_text()

    def cancel(self, run_id):
        self._call("cancel", run_id)
        run = self.runs[run_id]
        if run.get("process") is not None and run["process"].poll() is None:
            os.killpg(run["process"].pid, signal.SIGKILL)
            run["process"].wait()
        run["status"] = "Canceled" if run["status"] == "Running" else run["status"]

    def run_metrics(self, run_id):
        self._call("run_metrics", run_id)
        client = MlflowClient(tracking_uri=self.runs[run_id]["mlflow"])
        found = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
        return dict(found[0].data.metrics) if found else {}

    def run_file_names(self, run_id):
        self._call("run_file_names", run_id)
        folder = self.runs[run_id]["folder"]
        return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]

    def download_run_file(self, run_id, name, dest):
        self._call("download_run_file", run_id, name)
        shutil.copyfile(self.runs[run_id]["folder"] / name, dest)

    # models
    def models(self, name, run_id=None, tags=None):
        self._call("models", name, run_id, tags)
        found = [m for m in self.registry if m["name"] == name and run_id in (None, m["run_id"])]
        for key, value in tags or []:
            found = [m for m in found if m["tags"].get(key) == value]
        return [json.loads(json.dumps({k: v for k, v in m.items() if k != "file"})) for m in reversed(found)]

    def register_model(self, run_id, name, path, tags, properties):
        self._call("register_model", run_id, name, path)
        version = str(1 + sum(m["name"] == name for m in self.registry))
        stored = self.root / "models" / name / version / Path(path).name
        stored.parent.mkdir(parents=True)
        shutil.copyfile(self.runs[run_id]["folder"] / path, stored)
        model = {
            "name": name,
            "version": version,
            "run_id": run_id,
            "tags": dict(tags),
            "url": f"azureml://models/{name}/{version}",
            "file": stored,
        }
        self.registry.append(model)
        return {k: v for k, v in model.items() if k != "file"}

    def set_model_tags(self, name, version, add, remove):
        self._call("set_model_tags", name, version, add, remove)
        model = next(m for m in self.registry if m["name"] == name and m["version"] == version)
        for key in remove:
            model["tags"].pop(key, None)
        model["tags"].update(add)

    def download_model(self, name, version, dest):
        self._call("download_model", name, version)
        model = next(m for m in self.registry if m["name"] == name and m["version"] == version)
        Path(dest).mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(model["file"], dest))
