"""The Azure ML workspace through SDK v2 (azure-ai-ml): the same port as the local and SDK v1 workspaces.

The tutorial's cells in SDK v2: connect `MLClient.from_config`; provision_compute `compute.get` or
`compute.begin_create_or_update(AmlCompute(...))`; upload the files to the datastore and a versioned
`Data(type=uri_folder)` named `mnist`, its version a hash of the files; submit `jobs.create_or_update(command(...))`;
stream_logs the job's log files where azure-ai-ml's `jobs.stream` finds them (history.py), polled; the metrics
from MLflow; register `models.create_or_update(Model(path="azureml://jobs/<job>/outputs/artifacts/paths/outputs/"))`;
delete_compute `compute.begin_delete`.

A job is named by the job's key and attempt (`mnist-flow-<key>-<n>`), and carries the key as a tag, in the one
request that creates it: a retried submit, or a flow started again after a crash, finds it by that name.
"""

from __future__ import annotations

import logging
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from workspaces.azureml_common.adapter import AzureAdapter
from workspaces.azureml_common.errors import translate
from workspaces.azureml_v2.client import Connection, connect_client
from workspaces.azureml_v2.history import LogFolder, RunHistory, default_output
from workspaces.azureml_v2.jobs import DATA_NAME, aml_compute, command_job, data_asset, data_version
from workspaces.azureml_v2.registry import V2Registry
from workspaces.azureml_v2.service import DataPlane
from workspaces.azureml_v2.storage import BlobFolder
from workspaces.base import JOB_KEY_TAG, MODEL_FILE, ComputeTarget, DataRef, KnownRun, RunHandle, RunResult
from workspaces.errors import FlowError
from workspaces.files import sha256_file
from workspaces.owners import FLOW_RUN_TAG

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workspaces.base import ComputeSpec, LogSink, ModelVersion, TrainingJob, WorkspaceRef

log = logging.getLogger(__name__)
ARTIFACT_STORE = "workspaceartifactstore"  # where a job's outputs and logs are kept: ExperimentRun/dcid.<job>/


def make_client(ref: WorkspaceRef) -> Connection:
    """The seam's real side; tests replace this function to give the client their transport."""
    return connect_client(ref)


class AzureMLv2Workspace(AzureAdapter, V2Registry):
    poll_seconds = 10.0  # between two reads of a job's details and log

    def __init__(self, ref: WorkspaceRef, connection: Connection):
        self.ref, self.connection, self.ml = ref, connection, connection.ml
        self.name = f"Azure ML workspace {self.ml.workspace_name!r} (SDK v2)"
        default = ref.datastore or self._call("finding the datastore", lambda: self.ml.datastores.get_default().name)
        self.blobs = self._blob_folder("opening the datastore", default)
        self._artifacts: BlobFolder | None = None
        self.plane = DataPlane(connection.credential, connection.transport)
        self._history_at = ""  # the run history's endpoint, from the first job followed
        self._init_runs()

    @staticmethod
    def _open_seam(ref: WorkspaceRef):
        return make_client(ref)

    def _find(self, doing: str, function, *args) -> Any:
        """What `function` gets, or None where the service answers 404."""
        try:
            return function(*args)
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            raise translate(exc, doing) from exc

    @property
    def artifacts(self) -> BlobFolder:
        if self._artifacts is None:
            self._artifacts = self._blob_folder("opening the artifact store", ARTIFACT_STORE)
        return self._artifacts

    def _blob_folder(self, doing: str, datastore: str) -> BlobFolder:
        """A datastore's container, reached on this connection's transport, credential and storage options."""
        connection = self.connection
        return self._call(
            doing,
            BlobFolder,
            self.ml,
            datastore,
            connection.transport,
            connection.credential,
            **connection.storage_options,
        )

    # compute --------------------------------------------------------------------------------------------------
    def provision_compute(self, spec: ComputeSpec) -> ComputeTarget:
        found = self._find(f"looking up compute {spec.name!r}", self.ml.compute.get, spec.name)
        if found is None:
            self._creating(spec)
            self._call(
                f"creating compute {spec.name!r}",
                lambda: self.ml.compute.begin_create_or_update(aml_compute(spec)).result(),
            )
            return ComputeTarget.from_spec(spec, self.compute_kind, created=True)
        self._reusing(spec, str(found.type), str(found.size), found.provisioning_state, found.provisioning_errors)
        wanted = aml_compute(spec)
        scale = ("min_instances", "max_instances", "idle_time_before_scale_down")
        if any(getattr(found, a) != getattr(wanted, a) for a in scale):
            for attribute in scale:
                setattr(found, attribute, getattr(wanted, attribute))
            # begin_update, not begin_create_or_update: the latter, given a cluster read back without a subnet (the
            # service answers "subnet": null), fails inside the SDK (_set_full_subnet_name -> get_subnet_str(None))
            self._call(f"updating compute {spec.name!r}", lambda: self.ml.compute.begin_update(found).result())
            log.info("compute %r updated to %d to %d nodes", spec.name, spec.min_nodes, spec.max_nodes)
        return ComputeTarget.from_spec(spec, self.compute_kind, created=False, vm_size=str(found.size))

    def has_compute(self, name: str) -> bool:
        return self._find(f"looking up compute {name!r}", self.ml.compute.get, name) is not None

    def delete_compute(self, compute: ComputeTarget) -> None:
        self._call(f"deleting compute {compute.name!r}", lambda: self.ml.compute.begin_delete(compute.name).result())

    # datastore ------------------------------------------------------------------------------------------------
    def upload(self, files: Sequence[Path], target: str) -> DataRef:
        """The files in `<target>/<version>/` of the datastore and the data asset `mnist:<version>`, the version a
        hash of their sha256s: unchanged data is neither uploaded nor versioned again."""
        digests = {Path(p).name: sha256_file(Path(p)) for p in files}
        version, folder = data_version(digests), f"{target}/{data_version(digests)}"
        existing = self._find("looking up the data asset", self.ml.data.get, DATA_NAME, version)
        if existing is None:
            with tempfile.TemporaryDirectory() as staging:
                for path in map(Path, files):  # one folder of exactly these files
                    Path(staging, path.name).write_bytes(path.read_bytes())
                sent = self._call("uploading to the datastore", self.blobs.upload_folder, Path(staging), folder)
            self._call(
                "registering the data asset",
                self.ml.data.create_or_update,
                data_asset(self.blobs.name, folder, digests),
            )
            log.info(
                "data asset %s:%s registered; %d file(s) uploaded to %s/%s",
                DATA_NAME,
                version,
                sent,
                self.blobs.name,
                folder,
            )
        else:
            log.info("data asset %s:%s already holds these files; nothing uploaded", DATA_NAME, version)
        return DataRef(datastore=self.blobs.name, path=folder, files=digests, mount=f"azureml:{DATA_NAME}:{version}")

    # runs -----------------------------------------------------------------------------------------------------
    @staticmethod
    def _job_name(job: TrainingJob, attempt: int) -> str:
        return f"mnist-flow-{job.key[:24]}-{attempt}"

    def _jobs_of(self, job: TrainingJob) -> list[Any]:
        """The jobs of `job`'s attempts, oldest first: they are named by the key and attempt."""
        found: list[Any] = []
        while (
            one := self._find("looking up a job", self.ml.jobs.get, self._job_name(job, len(found) + 1))
        ) is not None:
            found.append(one)
        return found

    def find_runs(self, job: TrainingJob) -> list[KnownRun]:
        return [
            self._known(job, one.name, job_status(one), dict(one.tags or {}), one.studio_url)
            for one in reversed(self._jobs_of(job))
        ]

    def _completed_runs(self, experiment: str, limit: int) -> list[dict]:
        """The experiment's Completed jobs that carry a job key, newest first; the start and end of each come from
        the run history (the job resource has neither)."""

        def completed() -> list[Any]:
            return [
                one
                for one in self.ml.jobs.list()
                if one.experiment_name == experiment and one.status == "Completed" and JOB_KEY_TAG in (one.tags or {})
            ]

        jobs = self._call(f"listing experiment {experiment!r}'s jobs", completed)
        jobs.sort(key=lambda one: str(getattr(one.creation_context, "created_at", None) or ""), reverse=True)
        return [
            {
                **self._call(f"reading job {one.name}", self.plane.run_details, self._listed_tracking(one), one.name),
                "id": one.name,
                "tags": dict(one.tags),
            }
            for one in jobs[:limit]
        ]

    def _listed_tracking(self, job: Any) -> str:
        """A listed job's tracking endpoint: from the list's answer, else read with the job."""
        tracking = (job.services or {}).get("Tracking")
        return tracking.endpoint if tracking is not None and tracking.endpoint else self._tracking(job.name)

    def _code(self, job: TrainingJob) -> str:
        """The training folder in the datastore, under its hash: uploaded once (a file at a time, by sha256),
        referenced by every job."""
        folder = f"mnist-flow-code/{job.source_hash}"
        self._call("uploading the training code", self.blobs.upload_folder, Path(job.source_dir), folder)
        # The folder's URL: a command's `code` may be a URL, which the SDK registers as it is, not an
        # azureml://datastores/ path. (A URL of exactly seven '/' the SDK reads as a datastore's name in its
        # fourth part, so this one has two parts.)
        return f"{self.blobs.url}/{folder}/"

    def submit(self, job: TrainingJob, compute: ComputeTarget) -> RunHandle:
        self._refuse_when_stopping(job)
        name = self._job_name(job, len(self._jobs_of(job)) + 1)
        code, tags = self._code(job), self._run_tags(job)
        spec = command_job(job, name, compute.name, code, job.data.mount, tags, compute.max_run_minutes)
        self._watch(name, job.run_name, job.experiment)  # from here on, stopping the flow cancels it
        try:
            url = self._call(f"submitting run {job.run_name!r}", self.ml.jobs.create_or_update, spec).studio_url
        except FlowError as error:
            url = self._submitted_after_all(job, name, error)
        self._submitted(name, url)
        return RunHandle(run_id=name, name=job.run_name, job=job, url=url)

    def _runs_of_flow_run(self, flow_run: str, experiment: str) -> list[dict]:
        """The jobs whose properties name the flow run (Jobs_List's `properties` filter: the value is a property as
        well as a tag, since the listing filters tags by their key only)."""
        listed = self.ml.jobs.list(properties=f"{FLOW_RUN_TAG}={flow_run}")
        return [
            {"id": job.name, "status": job_status(job), "name": (job.tags or {}).get("run_name"), "url": job.studio_url}
            for job in listed
            if (job.properties or {}).get(FLOW_RUN_TAG) == flow_run
        ]

    def _submitted_after_all(self, job: TrainingJob, name: str, error: FlowError) -> str:
        """A PUT whose answer was lost may have created the job: azure-core sends it again, and the service then
        refuses it ("Job <name> already exists") or takes it as an update of the same job. Either way the job is
        looked up by its name: if it exists and carries this job's key it is followed, else the error stands."""
        found = self._find("looking up a job", self.ml.jobs.get, name)
        if found is None or (found.tags or {}).get(JOB_KEY_TAG) != job.key:
            self._live.pop(name, None)
            raise error
        log.info("job %s of %s exists though its submit failed (%s): following it", name, job.run_name, error)
        return str(found.studio_url)

    def _tracking(self, job_name: str) -> str:
        found = self._call("reading a job", self.ml.jobs.get, job_name)
        return found.services["Tracking"].endpoint

    def _metrics(self, job_name: str) -> dict[str, float]:
        return self._call(f"reading job {job_name}'s metrics", self.plane.metrics, self._tracking(job_name), job_name)

    def _has_model(self, job_name: str) -> bool:
        path = f"ExperimentRun/dcid.{job_name}/{MODEL_FILE}"
        return self._call(f"looking for job {job_name}'s model", self.artifacts.read, path) is not None

    def stream_logs(self, run: RunHandle, sink: LogSink) -> RunResult:
        job = self._call("reading a job", self.ml.jobs.get, run.run_id)
        tracking = self._history_at = job.services["Tracking"].endpoint
        history = RunHistory(self.plane, self.artifacts, tracking, self._log_folder(job))
        metrics = partial(self._call, f"reading run {run.name!r}'s metrics", self.plane.metrics, tracking, run.run_id)
        return self._follow_to_the_end(history, run, sink, metrics)

    def _log_folder(self, job: Any) -> LogFolder | None:
        """Where the job's runtime writes its logs (history.py): its default output folder, if it has one."""
        found = default_output(job)
        if found is None:
            return None
        datastore, prefix = found
        if datastore == ARTIFACT_STORE:
            return LogFolder(self.artifacts, prefix)
        return LogFolder(self._blob_folder(f"opening datastore {datastore!r}", datastore), prefix)

    def _cancel_remotely(self, job_name: str) -> None:
        self.ml.jobs.begin_cancel(job_name)

    def _run_status(self, job_name: str) -> str:
        return job_status(self.ml.jobs.get(job_name))

    def _run_statuses(self, experiment: str, job_names: list[str]) -> dict[str, str]:
        # the run history of this workspace, at the tracking endpoint its jobs give (all give the same)
        if not self._history_at:  # no job followed yet here (a cancellation hook's process): each job's own
            return {name: self._run_status(name) for name in job_names}
        return self.plane.run_statuses(self._history_at, experiment, job_names)

    # cache validity -------------------------------------------------------------------------------------------
    def holds(self, value: DataRef | RunResult | ModelVersion) -> bool:
        if isinstance(value, DataRef):
            return (
                self._find("reading a cached data asset", self.ml.data.get, DATA_NAME, value.mount.rsplit(":", 1)[1])
                is not None
            )
        if isinstance(value, RunResult):
            found = self._find("reading a cached run", self.ml.jobs.get, value.run_id)
            return found is not None and job_status(found) == "Completed" and self._has_model(value.run_id)
        return self._find("reading a cached model", self.ml.models.get, value.name, value.version) is not None


def job_status(job) -> str:
    """A job's status as the service spells it (the SDK hands an enum member, or a string)."""
    return str(getattr(job.status, "value", job.status))
