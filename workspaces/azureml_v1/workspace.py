"""The Azure ML workspace (SDK v1): the same port as the local workspace, on a real compute cluster.

Every call that needs the network goes through the seam (sdk.py, made by `make_sdk`, which tests replace with one
over a Workspace of theirs: its authentication their own, its requests answered by a fake of Azure ML over HTTP);
the SDK objects that need none are built by jobs.py. SDK errors are translated by azureml_common/errors.py into
retried (TransientError) or final ones; what both Azure adapters do with runs alike is azureml_common/adapter.py.
Which cell of the tutorial each call does: connect `Workspace.from_config()`; provision_compute
`ComputeTarget(ws, name)` or `ComputeTarget.create` and `wait_for_completion`; upload `ds.upload(...)`; submit
`exp.submit(est)`; stream_logs `run.wait_for_completion(show_output=True)`; register_model `run.register_model`;
delete_compute `compute_target.delete()`. SDK v1 has no model aliases: `champion` is a tag that only one version
carries.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from workspaces.azureml_common.adapter import AzureAdapter
from workspaces.azureml_v1.jobs import provisioning_configuration, script_run_config, training_environment
from workspaces.azureml_v1.registry import AzureRegistry
from workspaces.base import JOB_KEY_TAG, MODEL_FILE, ComputeTarget, DataRef, KnownRun, RunHandle, RunResult
from workspaces.errors import FlowError, TransientError
from workspaces.files import sha256_file
from workspaces.owners import FLOW_RUN_TAG
from workspaces.paths import inside

if TYPE_CHECKING:  # names used in annotations only
    from collections.abc import Sequence

    from workspaces.base import ComputeSpec, LogSink, ModelVersion, TrainingJob, WorkspaceRef


log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


def make_sdk(ref: WorkspaceRef):
    """The seam's real side; tests replace this function to give the seam a Workspace whose requests reach a fake."""
    from workspaces.azureml_v1.sdk import connect_sdk

    return connect_sdk(ref)


class AzureMLWorkspace(AzureAdapter, AzureRegistry):
    poll_seconds = 5.0  # between two reads of a run's status and log, as the SDK's own polling

    def __init__(self, ref: WorkspaceRef, sdk):
        self.ref, self.sdk = ref, sdk
        self.name = f"Azure ML workspace {sdk.workspace_name!r}"
        self.datastore = self._call("finding the datastore", sdk.datastore_name, ref.datastore)
        self.environment = training_environment()
        self._init_runs()

    @staticmethod
    def _open_seam(ref: WorkspaceRef):
        return make_sdk(ref)

    # compute --------------------------------------------------------------------------------------------------
    def provision_compute(self, spec: ComputeSpec) -> ComputeTarget:
        found = self._call(f"looking up compute {spec.name!r}", self.sdk.find_compute, spec.name)
        if found is None:
            config = provisioning_configuration(spec)
            self._call("checking the provisioning configuration", config.validate_configuration)
            self._creating(spec)
            made = self._call(f"creating compute {spec.name!r}", self.sdk.create_compute, spec.name, config, log.info)
            self._provisioned(spec, made["provisioning_state"], made["errors"])
            return ComputeTarget.from_spec(spec, self.compute_kind, created=True)
        self._reusing(spec, found["type"], found["vm_size"], found["provisioning_state"], found["errors"])
        wanted = (spec.min_nodes, spec.max_nodes, spec.idle_seconds_before_scaledown)
        if (found["min_nodes"], found["max_nodes"], found["idle_seconds"]) != wanted:
            self._call(f"updating compute {spec.name!r}", self.sdk.update_compute, spec.name, *wanted)
            log.info("compute %r updated to %d to %d nodes", spec.name, spec.min_nodes, spec.max_nodes)
        return ComputeTarget.from_spec(spec, self.compute_kind, created=False, vm_size=found["vm_size"])

    def has_compute(self, name: str) -> bool:
        return self._call(f"looking up compute {name!r}", self.sdk.find_compute, name) is not None

    def delete_compute(self, compute: ComputeTarget) -> None:
        self._call(f"deleting compute {compute.name!r}", self.sdk.delete_compute, compute.name)

    # datastore ------------------------------------------------------------------------------------------------
    def _manifest(self, target: str) -> dict[str, str]:
        raw = self._call(
            "reading the datastore's manifest", self.sdk.read_datastore_file, self.datastore, f"{target}/{MANIFEST}"
        )
        return json.loads(raw) if raw else {}

    def upload(self, files: Sequence[Path], target: str) -> DataRef:
        """Upload what the datastore does not hold with the same sha256, then the manifest that says so."""
        digests = {Path(p).name: sha256_file(Path(p)) for p in files}
        held = self._manifest(target)
        changed = [Path(p) for p in files if held.get(Path(p).name) != digests[Path(p).name]]
        if changed:
            # the SDK logs and swallows a file's failed upload (data/azure_storage_datastore.py: a task's handler),
            # so each is checked in the datastore; the manifest records only what is there whole
            missing = self._call("uploading to the datastore", self.sdk.upload_files, self.datastore, changed, target)
            uploaded = {name: digest for name, digest in digests.items() if name not in missing}
            with tempfile.TemporaryDirectory() as folder:
                manifest = inside(folder, MANIFEST)
                manifest.write_text(json.dumps({**held, **uploaded}, indent=1, sort_keys=True))
                self._call("uploading the manifest", self.sdk.upload_files, self.datastore, [manifest], target)
            if missing:
                raise TransientError(
                    f"uploading to datastore {self.datastore}/{target}: {', '.join(sorted(missing))} did not arrive "
                    "whole (the SDK logged the failure and went on); retrying the upload"
                )
        log.info(
            "datastore %s/%s: %d file(s) uploaded, %d already there with the same content",
            self.datastore,
            target,
            len(changed),
            len(files) - len(changed),
        )
        return DataRef(datastore=self.datastore, path=target, files=digests, mount=f"{self.datastore}/{target}")

    # runs -----------------------------------------------------------------------------------------------------
    @staticmethod
    def _run_id(job: TrainingJob, attempt: int) -> str:
        """The id a job's `attempt`-th run gets, chosen here, before the call that creates it: a submit whose
        answer (or whose tagging, a second request) was lost can be found again by it."""
        return f"mnist_flow_{job.key[:24]}_{attempt}"

    def find_runs(self, job: TrainingJob) -> list[KnownRun]:
        """The job's runs, found by their key tag; and the run of the next attempt's id, should a submit have
        created it but not tagged it (it is tagged now)."""
        found = self._call(
            f"looking up runs of {job.run_name!r}", self.sdk.find_runs, job.experiment, {JOB_KEY_TAG: job.key}
        )
        untagged = self._call("looking up a run", self.sdk.find_run, self._run_id(job, len(found) + 1))
        if untagged is not None:
            self._call(f"tagging run {untagged['id']}", self.sdk.set_run_tags, untagged["id"], self._run_tags(job))
            found = [{**untagged, "tags": self._run_tags(job)}, *found]
        return [self._known(job, run["id"], run["status"], run["tags"], run["url"]) for run in found]

    def _completed_runs(self, experiment: str, limit: int) -> list[dict]:
        return self._call(f"reading experiment {experiment!r}'s runs", self.sdk.completed_runs, experiment, limit)

    def submit(self, job: TrainingJob, compute: ComputeTarget) -> RunHandle:
        self._refuse_when_stopping(job)
        config = script_run_config(job, compute.name, self.environment, compute.max_run_minutes)
        attempts = self._call("counting earlier runs", self.sdk.find_runs, job.experiment, {JOB_KEY_TAG: job.key})
        run_id = self._run_id(job, len(attempts) + 1)
        self._watch(run_id, job.run_name, job.experiment)  # from here on, stopping the flow cancels it
        try:
            url = self._call(
                f"submitting run {job.run_name!r}", self.sdk.submit, job.experiment, config, self._run_tags(job), run_id
            )
        except FlowError as error:
            url = self._submitted_after_all(job, run_id, error)
        self._submitted(run_id, url)
        return RunHandle(run_id=run_id, name=job.run_name, job=job, url=url)

    def _runs_of_flow_run(self, flow_run: str, experiment: str) -> list[dict]:
        found = self.sdk.find_runs(experiment, {FLOW_RUN_TAG: flow_run})
        return [{**run, "name": run["tags"].get("run_name", run["id"])} for run in found]

    def _submitted_after_all(self, job: TrainingJob, run_id: str, error: FlowError) -> str:
        """A submit that failed may have created its run: the SDK re-posts a submit whose answer was lost, and the
        service then says the run id exists (_execution/_commands.py); or its tagging, a second request, failed.
        The run is looked up by the id chosen for it: if it exists it is tagged and followed, else the error
        stands."""
        found = self._call("looking up a run", self.sdk.find_run, run_id)
        if found is None:
            self._live.pop(run_id, None)
            raise error
        log.info("run %s of %s exists though its submit failed (%s): following it", run_id, job.run_name, error)
        self._call(f"tagging run {run_id}", self.sdk.set_run_tags, run_id, self._run_tags(job))
        return found["url"]

    def stream_logs(self, run: RunHandle, sink: LogSink) -> RunResult:
        return self._follow_to_the_end(self.sdk, run, sink, lambda: self._metrics(run.run_id))

    def _metrics(self, run_id: str) -> dict[str, float]:
        return self._call(f"reading run {run_id}'s metrics", self.sdk.run_metrics, run_id)

    def _has_model(self, run_id: str) -> bool:
        return MODEL_FILE in self._call(f"listing run {run_id}'s files", self.sdk.run_file_names, run_id)

    def _cancel_remotely(self, run_id: str) -> None:
        self.sdk.cancel(run_id)

    def _run_status(self, run_id: str) -> str:
        return str(self.sdk.run_details(run_id).get("status"))

    def _run_statuses(self, experiment: str, run_ids: list[str]) -> dict[str, str]:
        return self.sdk.run_statuses(experiment, run_ids)

    # cache validity -------------------------------------------------------------------------------------------
    def holds(self, value: DataRef | RunResult | ModelVersion) -> bool:
        if isinstance(value, DataRef):
            held = self._manifest(value.path)
            return all(held.get(name) == digest for name, digest in value.files.items())
        if isinstance(value, RunResult):
            details = self._call("reading a cached run", self.sdk.run_details, value.run_id)
            files = self._call("listing a cached run's files", self.sdk.run_file_names, value.run_id)
            return details.get("status") == "Completed" and MODEL_FILE in files
        versions = self._call("reading a cached model", self.sdk.models, value.name)
        return any(v["version"] == value.version for v in versions)
