"""A fake of the Azure adapter's seam (workspaces/azureml_v1/sdk.py): an Azure ML workspace kept in a folder.

Shaped on the installed SDK (azureml-core 1.61), not invented:
- it raises only the SDK's own exception classes, built as the SDK builds them (sdk_errors.py), and only where
  the SDK would: `fail(method, error)` queues one for a method's next call, `after=True` once its work is done
  (a submit whose run was created, but whose answer was lost);
- `submit` creates the run under the id it is given and then tags it in a second step, as `Experiment.submit`
  does (`run.set_tags(tags)` after the submit function: core/experiment.py);
- each run lives in a detached process (fake_runner.py) that walks Azure ML's statuses (NotStarted, Queued,
  Preparing, Running, Finalizing, then Completed, Failed or Canceled; CancelRequested before Canceled) and writes
  its output under the runtime's log names (`user_logs/std_log.txt`, `azureml-logs/70_driver_log.txt`, or
  both). It outlives the flow that submitted it, as a cloud run does; its metrics exist once train.py logged them;
- the whole state is files under `root`, so a flow started again after a kill sees the same workspace.
Calls are recorded (`calls`, `called`) in the process that makes them; `created_runs()` counts from the files.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from mlflow import MlflowClient

from tests.workspaces.azureml_v1 import sdk_errors
from workspaces.base import JOB_KEY_TAG

# each fake run logs to an MLflow file store of its own, as an Azure ML run has its own metrics store
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
PROJECT = Path(__file__).resolve().parents[3]
RUNTIME_LOGS = {"common": ("user_logs/std_log.txt",), "legacy": ("azureml-logs/70_driver_log.txt",)}
RUNTIME_LOGS["both"] = RUNTIME_LOGS["common"] + RUNTIME_LOGS["legacy"]


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # writers may share a process
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


class FakeAzureSdk:
    def __init__(self, root: Path, workspace_name: str = "fake-workspace", runtime: str = "common"):
        self.root = Path(root)
        self.workspace_name, self.description = workspace_name, "a fake of the SDK (tests)"
        self.runtime = runtime  # which log files runs write: "common", "legacy" or "both"
        # how long a new run stays Queued, by run name: from the workspace's settings.json, so that a flow run
        # as a command (tests/faults) meets the same cluster as the test that set it up
        self.queue_seconds: dict[str, float] = read_json(self.root / "settings.json", {}).get("queue_seconds", {})
        self.calls: list[tuple[str, tuple]] = []
        self.failures: dict[str, list[tuple[BaseException, bool]]] = defaultdict(list)
        self.preempt: list[str] = []  # run names whose next run loses its node once running

    # ---- bookkeeping ----------------------------------------------------------------------------------------
    def fail(self, method: str, error: BaseException, after: bool = False) -> None:
        self.failures[method].append((error, after))

    def _call(self, method: str, *args) -> BaseException | None:
        """Record the call; raise a queued failure now, or hand back one to raise once the work is done."""
        self.calls.append((method, args))
        if self.failures[method]:
            error, after = self.failures[method].pop(0)
            if not after:
                raise error
            return error
        return None

    def called(self, method: str) -> list[tuple]:
        return [args for name, args in self.calls if name == method]

    def _run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def _run(self, run_id: str) -> dict:
        record = read_json(self._run_dir(run_id) / "run.json")
        if record is None:  # Run.get of an id the workspace has not: the run-history service's 404
            raise sdk_errors.service_error(404, "RunNotFound", f"Run {run_id} was not found")
        return record

    def created_runs(self) -> list[dict]:
        return [read_json(p) for p in sorted((self.root / "runs").glob("*/run.json"))]

    def stop_every_run(self) -> None:
        """Test clean-up: runs outlive flows (as on Azure), not the test."""
        for record in self.created_runs():
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.killpg(record.get("pid"), signal.SIGKILL)

    # ---- compute --------------------------------------------------------------------------------------------
    def computes(self) -> dict:
        return read_json(self.root / "computes.json", {})

    def find_compute(self, name):
        self._call("find_compute", name)
        return self.computes().get(name)

    def create_compute(self, name, provisioning, write_line):
        self._call("create_compute", name, provisioning)
        provisioning.validate_configuration()  # the real SDK object
        scale = provisioning.scale_settings
        write_line('InProgress..\nSucceededProvisioning operation finished, operation "Succeeded"')
        computes = self.computes()
        computes[name] = {
            "type": "AmlCompute",
            "vm_size": provisioning.vm_size,
            "min_nodes": scale.minimum_node_count,
            "max_nodes": scale.maximum_node_count,
            "idle_seconds": scale.idle_seconds_before_scaledown,
        }
        write_json(self.root / "computes.json", computes)

    def update_compute(self, name, min_nodes, max_nodes, idle_seconds):
        self._call("update_compute", name, min_nodes, max_nodes, idle_seconds)
        computes = self.computes()
        computes[name].update(min_nodes=min_nodes, max_nodes=max_nodes, idle_seconds=idle_seconds)
        write_json(self.root / "computes.json", computes)

    def delete_compute(self, name):
        self._call("delete_compute", name)
        computes = self.computes()
        del computes[name]
        write_json(self.root / "computes.json", computes)

    # ---- datastore ------------------------------------------------------------------------------------------
    def datastore_name(self, name):
        self._call("datastore_name", name)
        return name or "workspaceblobstore"

    def datastore(self, datastore: str) -> Path:
        return self.root / "datastores" / datastore

    def read_datastore_file(self, datastore, path):
        self._call("read_datastore_file", datastore, path)
        file = self.datastore(datastore) / path
        return file.read_bytes() if file.is_file() else None

    def upload_files(self, datastore, paths, target):
        self._call("upload_files", datastore, [Path(p).name for p in paths], target)
        (self.datastore(datastore) / target).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copyfile(path, self.datastore(datastore) / target / Path(path).name)

    # ---- runs -----------------------------------------------------------------------------------------------
    def submit(self, experiment, config, tags, run_id):
        late = self._call("submit", experiment, tags.get("run_name"))
        if (self._run_dir(run_id) / "run.json").exists():  # the service refuses a run id it holds
            raise sdk_errors.submit_error(409, "RunIdAlreadyExists", f"A run with id {run_id} already exists")
        folder = self._run_dir(run_id)
        shutil.copytree(config.source_directory, folder / "snapshot")
        mounts = {
            f"$AZUREML_DATAREFERENCE_{name}": str(self.datastore(ref.data_store_name) / ref.path_on_data_store)
            for name, ref in config.run_config.data_references.items()
        }
        preempt = tags.get("run_name") in self.preempt
        if preempt:
            self.preempt.remove(tags["run_name"])
        record = {
            "id": run_id,
            "experiment": experiment,
            "status": "NotStarted",
            "history": ["NotStarted"],
            "tags": {},
            "error": None,
            "script": config.script,
            "arguments": [mounts.get(str(a), str(a)) for a in config.arguments],
            "target": config.run_config.target,
            "logs": list(RUNTIME_LOGS[self.runtime]),
            "queue_seconds": self.queue_seconds.get(tags.get("run_name"), 0.0),
            "preempt": preempt,
            "created": time.time(),
        }
        write_json(folder / "run.json", record)
        with open(folder / "runner.log", "wb") as runner_log:  # the runner keeps its own descriptor
            command = [sys.executable, "-m", "tests.workspaces.azureml_v1.fake_runner", str(folder)]
            runner = subprocess.Popen(
                command,
                cwd=PROJECT,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=runner_log,
            )
        self._update(run_id, pid=runner.pid)
        if late is not None:  # the run exists; its answer (and the tagging) was lost
            raise late
        self.set_run_tags(run_id, tags)  # Experiment.submit tags the run in a second request
        return f"https://ml.azure.com/runs/{run_id}?wsid=fake"

    def _update(self, run_id: str, **changes) -> None:
        path = self._run_dir(run_id) / "run.json"
        write_json(path, {**read_json(path), **changes})

    def set_run_tags(self, run_id, tags):
        self._call("set_run_tags", run_id, dict(tags))
        record = self._run(run_id)
        self._update(run_id, tags={**record["tags"], **tags})

    def _summary(self, record: dict) -> dict:
        return {
            "id": record["id"],
            "status": record["status"],
            "tags": record["tags"],
            "url": f"https://ml.azure.com/runs/{record['id']}?wsid=fake",
        }

    def find_runs(self, experiment, tags):
        self._call("find_runs", experiment, dict(tags))
        found = [
            r
            for r in self.created_runs()
            if r["experiment"] == experiment and all(r["tags"].get(k) == v for k, v in tags.items())
        ]
        return [self._summary(r) for r in sorted(found, key=lambda r: r["created"], reverse=True)]

    def completed_runs(self, experiment, limit):
        self._call("completed_runs", experiment, limit)
        found = [
            r
            for r in self.created_runs()
            if r["experiment"] == experiment and r["status"] == "Completed" and JOB_KEY_TAG in r["tags"]
        ]
        newest = sorted(found, key=lambda r: r["created"], reverse=True)[:limit]
        return [{**self._summary(r), "startTimeUtc": r["startTimeUtc"], "endTimeUtc": r["endTimeUtc"]} for r in newest]

    def find_run(self, run_id):
        self._call("find_run", run_id)
        record = read_json(self._run_dir(run_id) / "run.json")
        return self._summary(record) if record else None

    def run_details(self, run_id):
        self._call("run_details", run_id)
        record = self._run(run_id)
        folder = self._run_dir(run_id)
        logs = {name: f"fake://{run_id}/{name}" for name in record["logs"] if (folder / name).exists()}
        details = {"runId": run_id, "target": record["target"], "status": record["status"], "logFiles": logs}
        if record["error"]:
            details["error"] = record["error"]
        return details

    def read_url(self, url):
        self._call("read_url", url)
        run_id, name = url.removeprefix("fake://").split("/", 1)
        return (self._run_dir(run_id) / name).read_text()

    def cancel(self, run_id):
        self._call("cancel", run_id)
        if self._run(run_id)["status"] not in ("Completed", "Failed", "Canceled"):
            self._update(run_id, cancel_requested=True)

    def run_metrics(self, run_id):
        self._call("run_metrics", run_id)
        self._run(run_id)
        client = MlflowClient(tracking_uri=f"file://{self._run_dir(run_id) / 'mlruns'}")
        found = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
        return dict(found[0].data.metrics) if found else {}

    def run_file_names(self, run_id):
        self._call("run_file_names", run_id)
        self._run(run_id)
        outputs = self._run_dir(run_id) / "snapshot" / "outputs"
        return [f"outputs/{p.relative_to(outputs).as_posix()}" for p in outputs.rglob("*") if p.is_file()]

    def download_run_file(self, run_id, name, dest):
        self._call("download_run_file", run_id, name)
        shutil.copyfile(self._run_dir(run_id) / "snapshot" / name, dest)

    # ---- models ---------------------------------------------------------------------------------------------
    def registry(self) -> list[dict]:
        return read_json(self.root / "registry.json", [])

    def models(self, name, run_id=None, tags=None):
        self._call("models", name, run_id, tags)
        found = [m for m in self.registry() if m["name"] == name and run_id in (None, m["run_id"])]
        for key, value in tags or []:
            found = [m for m in found if m["tags"].get(key) == value]
        return [{k: v for k, v in m.items() if k != "file"} for m in reversed(found)]

    def register_model(self, run_id, name, path, tags, properties):
        late = self._call("register_model", run_id, name, path)
        registry = self.registry()
        version = str(1 + sum(m["name"] == name for m in registry))
        stored = self.root / "models" / name / version / Path(path).name
        stored.parent.mkdir(parents=True)
        shutil.copyfile(self._run_dir(run_id) / "snapshot" / path, stored)
        model = {
            "name": name,
            "version": version,
            "run_id": run_id,
            "tags": dict(tags),
            "url": f"azureml://models/{name}/{version}",
            "file": str(stored),
        }
        write_json(self.root / "registry.json", [*registry, model])
        if late is not None:
            raise late
        return {k: v for k, v in model.items() if k != "file"}

    def register_by_hand(self, run_id, name, tags=None) -> str:
        """What a person does in the studio: a version of the run's model, without the adapter's tags."""
        registry = self.registry()
        version = str(1 + sum(m["name"] == name for m in registry))
        model = {
            "name": name,
            "version": version,
            "run_id": run_id,
            "tags": dict(tags or {}),
            "url": f"azureml://models/{name}/{version}",
            "file": "",
        }
        write_json(self.root / "registry.json", [*registry, model])
        return version

    def set_model_tags(self, name, version, add, remove):
        self._call("set_model_tags", name, version, add, remove)
        registry = self.registry()
        model = next(m for m in registry if m["name"] == name and m["version"] == version)
        for key in remove:
            model["tags"].pop(key, None)
        model["tags"].update(add)
        write_json(self.root / "registry.json", registry)

    def download_model(self, name, version, dest):
        self._call("download_model", name, version)
        model = next(m for m in self.registry() if m["name"] == name and m["version"] == version)
        Path(dest).mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(model["file"], dest))


def install(root: Path, poll_seconds: float = 0.2, **options) -> FakeAzureSdk:
    """Put the fake behind the adapter's seam in this process (what a flow run as a command needs)."""
    from workspaces.azureml_v1 import workspace

    sdk = FakeAzureSdk(root, **options)
    workspace.make_sdk = lambda ref: sdk
    workspace.AzureMLWorkspace.poll_seconds = poll_seconds
    return sdk
