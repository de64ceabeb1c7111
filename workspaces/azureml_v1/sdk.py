"""The seam: the few Azure ML SDK v1 calls that need the network, and nothing else.

The adapter (workspace.py) talks only to an object of this shape, which tests make as the flow does, over a real
azureml-core Workspace whose requests reach a fake of Azure ML at the HTTP level (tests/workspaces/azureml_v1/
http_seam.py). Values crossing the seam are plain (dicts, strings, paths); SDK objects that need no network
(provisioning configuration, ScriptRunConfig) are built by jobs.py and passed through.

Authentication, in this order: a prefect-azure `AzureMlCredentials` block named by --credentials-block; a
service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (with the workspace from
AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE_NAME, or from config.json); config.json with
the Azure CLI's or an interactive login (the tutorial's `Workspace.from_config()`). The secret goes to the SDK
and nowhere else: the description logged names only where the credentials came from.
"""

import concurrent.futures
import contextlib
import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import requests
from azureml._restclient.exceptions import ServiceException
from azureml._restclient.experiment_client import ExperimentClient
from azureml.core import Datastore, Experiment, Model, Run, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.exceptions import ComputeTargetException

from workspaces.azureml_common.errors import status_code
from workspaces.azureml_common.settings import AZURE_SERVICE_PRINCIPAL, AZURE_WORKSPACE_VARIABLES
from workspaces.base import JOB_KEY_TAG, WorkspaceRef
from workspaces.errors import WorkspaceError
from workspaces.paths import inside

SUBMIT_SECONDS = 300.0  # the longest a submit (its snapshot and the start of its run) may take before it is retried


def connect_sdk(ref: WorkspaceRef) -> "AzureSdk":
    if ref.credentials_block:
        from prefect_azure import AzureMlCredentials

        try:
            block = AzureMlCredentials.load(ref.credentials_block)
        except ValueError as exc:
            raise WorkspaceError(
                f"no AzureML Credentials block named {ref.credentials_block!r} ({exc}); "
                "create it as docs/azureml-v1.md shows"
            ) from None
        workspace = block.get_workspace()  # type: ignore[union-attr]  # (sync_compatible: a Workspace here)
        return AzureSdk(workspace, f"the service principal of Prefect block {ref.credentials_block!r}")
    if all(os.environ.get(v) for v in AZURE_SERVICE_PRINCIPAL):
        from azureml.core.authentication import ServicePrincipalAuthentication

        auth = ServicePrincipalAuthentication(
            tenant_id=os.environ["AZURE_TENANT_ID"],
            service_principal_id=os.environ["AZURE_CLIENT_ID"],
            service_principal_password=os.environ["AZURE_CLIENT_SECRET"],
        )
        if all(os.environ.get(v) for v in AZURE_WORKSPACE_VARIABLES):
            subscription, group, name = (os.environ[v] for v in AZURE_WORKSPACE_VARIABLES)
            workspace = Workspace(subscription_id=subscription, resource_group=group, workspace_name=name, auth=auth)
        else:
            workspace = Workspace.from_config(path=ref.config_path, auth=auth)
        return AzureSdk(workspace, "the service principal in AZURE_CLIENT_ID/AZURE_CLIENT_SECRET")
    return AzureSdk(Workspace.from_config(path=ref.config_path), f"{ref.config_path} and the Azure CLI login")


class LineWriter(io.TextIOBase):
    """A file-like object that hands each complete line written to it to `sink`."""

    def __init__(self, sink: Callable[[str], None]):
        self.sink, self.pending = sink, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in filter(str.strip, lines):
            self.sink(line)
        return len(text)


class AzureSdk:
    def __init__(self, workspace, description: str):
        self.workspace, self.description = workspace, description
        self.workspace_name = workspace.name
        self._runs: dict[str, Run] = {}

    # compute
    def find_compute(self, name: str) -> dict | None:
        try:
            target = ComputeTarget(workspace=self.workspace, name=name)
        except ComputeTargetException as exc:
            if "notfound" in str(exc).replace(" ", "").lower():
                return None
            raise
        scale = getattr(target, "scale_settings", None)
        return {
            "type": target.type,
            "vm_size": getattr(target, "vm_size", "") or "",
            "min_nodes": getattr(scale, "minimum_node_count", 0),
            "max_nodes": getattr(scale, "maximum_node_count", 0),
            "idle_seconds": getattr(scale, "idle_seconds_before_scaledown", 0),
            "provisioning_state": getattr(target, "provisioning_state", None),
            "errors": getattr(target, "provisioning_errors", None),
        }

    def create_compute(self, name: str, provisioning, write_line: Callable[[str], None]) -> dict:
        """Create the cluster and wait for its provisioning to end; its state and errors (the SDK prints a failed
        provisioning, it does not raise it)."""
        target = ComputeTarget.create(self.workspace, name, provisioning)
        # provisioning runs alone in the flow, so catching the SDK's stdout here mixes nothing
        with contextlib.redirect_stdout(LineWriter(write_line)):
            target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
        return {"provisioning_state": target.provisioning_state, "errors": target.provisioning_errors}

    def update_compute(self, name: str, min_nodes: int, max_nodes: int, idle_seconds: int) -> None:
        AmlCompute(self.workspace, name).update(
            min_nodes=min_nodes, max_nodes=max_nodes, idle_seconds_before_scaledown=idle_seconds
        )

    def delete_compute(self, name: str) -> None:
        ComputeTarget(workspace=self.workspace, name=name).delete()

    # datastore
    def datastore_name(self, name: str | None) -> str:
        return (Datastore.get(self.workspace, name) if name else self.workspace.get_default_datastore()).name

    def read_datastore_file(self, datastore: str, path: str) -> bytes | None:
        with tempfile.TemporaryDirectory() as folder:
            Datastore.get(self.workspace, datastore).download(
                target_path=folder, prefix=path, overwrite=True, show_progress=False
            )
            local = inside(folder, path)
            return local.read_bytes() if local.is_file() else None

    def upload_files(self, datastore: str, paths: list[Path], target: str) -> set[str]:
        """Upload the files into the datastore's `target` folder; the names of those that did not arrive whole
        (the SDK swallows a file's failure: each is checked by its size and MD5, which the service keeps)."""
        store = Datastore.get(self.workspace, datastore)
        store.upload_files([str(p) for p in paths], target_path=target, overwrite=True, show_progress=False)
        blobs = store.blob_service.get_container_client(store.container_name).list_blobs(name_starts_with=f"{target}/")
        held = {blob.name: (blob.size, bytes(blob.content_settings.content_md5 or b"")) for blob in blobs}
        return {p.name for p in paths if held.get(f"{target}/{p.name}") != (p.stat().st_size, md5_file(p))}

    # runs
    def submit(self, experiment: str, config, tags: dict[str, str], run_id: str) -> str:
        """Create the run under `run_id`, then tag it: the two requests `Experiment.submit(config, tags=...)`
        makes (core/experiment.py calls `run.set_tags` after the submit function), made visible. The SDK posts the
        submit without a timeout (_execution/_commands.py: `requests.post`): it is given SUBMIT_SECONDS here, in a
        thread of its own, and a TimeoutError after that (the run may exist: the adapter looks it up by its id)."""

        def submitted() -> str:
            run = Experiment(self.workspace, experiment).submit(config, run_id=run_id)
            self._runs[run.id] = run
            run.set_tags(tags)
            return run.get_portal_url()

        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="azureml-submit")
        try:
            return pool.submit(submitted).result(timeout=SUBMIT_SECONDS)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"no answer to the submit of run {run_id} within {SUBMIT_SECONDS:g} s") from None
        finally:
            pool.shutdown(wait=False)  # a hung request keeps its thread; the flow goes on

    def find_runs(self, experiment: str, tags: dict[str, str]) -> list[dict]:
        """The experiment's runs carrying `tags`, newest first (Run.list's order)."""
        return [_run_dict(run) for run in Run.list(Experiment(self.workspace, experiment), tags=tags)]

    def completed_runs(self, experiment: str, limit: int) -> list[dict]:
        """The experiment's Completed runs that carry a job key, newest first, with their start and end times
        from their details (Run.list gives no times)."""
        runs = Run.list(Experiment(self.workspace, experiment), tags=JOB_KEY_TAG, status="Completed")
        return [{**_run_dict(run), **_times(run.get_details())} for run in itertools.islice(runs, limit)]

    def find_run(self, run_id: str) -> dict | None:
        try:
            return _run_dict(self._run(run_id))
        except ServiceException as exc:
            if exc.status_code == 404:
                return None
            raise

    def set_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self._run(run_id).set_tags(tags)

    def _run(self, run_id: str) -> Run:
        if run_id not in self._runs:
            self._runs[run_id] = Run.get(self.workspace, run_id)
        return self._runs[run_id]

    def run_details(self, run_id: str) -> dict:
        return self._run(run_id).get_details()

    def run_statuses(self, experiment: str, run_ids: list[str]) -> dict[str, str]:
        """The statuses of the experiment's runs `run_ids`, in one query: the run history's `runs:query` filtered
        on their ids, as `get_runs_by_run_ids` of the SDK's experiment client writes it (a page per 500)."""
        client = ExperimentClient(self.workspace.service_context, experiment)
        listed = client.get_runs_by_run_ids(run_ids=run_ids, page_size=500)
        return {dto.run_id: dto.status for dto in listed if dto.run_id and dto.status}  # as SDK v2's seam does

    def read_from(self, url: str, start: int) -> bytes:
        """A log file's bytes from `start` on, by its SAS URL (no credentials needed): an HTTP Range, so a log is
        read once. b"" while it is not there (a 404, as the SDK's own reader answers: _execution/_commands.py
        _get_content_from_uri) or has nothing new (416); a server that ignores the Range answers it whole."""
        response = requests.get(url, headers={"Range": f"bytes={start}-"}, timeout=60)
        if response.status_code in (404, 416):
            return b""
        if not response.ok:  # (raise_for_status would put the URL, its SAS signature included, in the error)
            raise requests.HTTPError(
                f"{response.status_code} {response.reason} reading a run's log file (its URL withheld: it holds a SAS)",
                response=response,
            )
        return response.content if response.status_code == 206 else response.content[start:]

    def cancel(self, run_id: str) -> None:
        self._run(run_id).cancel()

    def run_metrics(self, run_id: str) -> dict:
        return self._run(run_id).get_metrics()

    def run_file_names(self, run_id: str) -> list[str]:
        return self._run(run_id).get_file_names()

    def download_run_file(self, run_id: str, name: str, dest: Path) -> None:
        self._run(run_id).download_file(name, output_file_path=str(dest))

    # models
    def models(self, name: str, run_id: str | None = None, tags: list | None = None) -> list[dict]:
        return [_model_dict(m) for m in Model.list(self.workspace, name=name, run_id=run_id, tags=tags)]

    def register_model(self, run_id: str, name: str, path: str, tags: dict, properties: dict) -> dict:
        return _model_dict(
            self._run(run_id).register_model(model_name=name, model_path=path, tags=tags, properties=properties)
        )

    def delete_model(self, name: str, version: str) -> None:
        """Delete a version; one already gone (another flow deleted the same duplicate) is deleted."""
        try:
            Model(self.workspace, name=name, version=int(version)).delete()
        except Exception as exc:
            if status_code(exc) != 404 and "not found" not in str(exc).lower():
                raise

    def set_model_tags(self, name: str, version: str, add: dict, remove: list) -> None:
        model = Model(self.workspace, name=name, version=int(version))
        if remove:
            model.remove_tags(remove)
        if add:
            model.add_tags(add)

    def download_model(self, name: str, version: str, dest: Path) -> Path:
        model = Model(self.workspace, name=name, version=int(version))
        return Path(model.download(target_dir=str(dest), exist_ok=True))


def md5_file(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _run_dict(run) -> dict:
    return {"id": run.id, "status": run.status, "tags": dict(run.tags or {}), "url": run.get_portal_url()}


def _times(details: dict) -> dict:
    return {key: details.get(key) for key in ("startTimeUtc", "endTimeUtc")}


def _model_dict(model) -> dict:
    return {
        "name": model.name,
        "version": str(model.version),
        "run_id": model.run_id,
        "tags": dict(model.tags or {}),
        "url": model.url,
        "created": model.created_time.astimezone(UTC).isoformat(timespec="seconds") if model.created_time else "",
    }
