"""What a team hears about a flow run: the events it emits to Prefect's event feed, for automations to act on
(automations/: a notification when the champion moves, when a flow run fails). Built here as plain values, with
the model, version, accuracy and run as the event's resource and payload; tasks/notify.py emits them. Only what
happened is told: a cached step does not run, so an all-cached flow run emits nothing.

    mnist-flow.model.registered       a new version of the model (not a run registered before)
    mnist-flow.model.champion-moved   the champion alias moved: from which version to which, and by how much
    mnist-flow.training.failed        a training run failed of its own (which rate, its log's last lines)
    mnist-flow.training.adopted       a finished run of the job was found and reused: nothing trained
    mnist-flow.training.re-attached   a run of the job under way was found and followed: nothing submitted
"""

from dataclasses import dataclass, field
from typing import Any

from workspaces.base import KnownRun, ModelVersion, RunResult, TrainingJob

PREFIX = "mnist-flow"


@dataclass(frozen=True)
class FlowEvent:
    event: str
    resource: dict[str, str]
    payload: dict[str, Any]
    related: list[dict[str, str]] = field(default_factory=list)


def model_resource(version: ModelVersion) -> dict[str, str]:
    return {
        "prefect.resource.id": f"{PREFIX}.model.{version.name}.{version.version}",
        "prefect.resource.name": f"{version.name} version {version.version}",
        f"{PREFIX}.model": version.name,
        f"{PREFIX}.version": version.version,
    }


def job_resource(job: TrainingJob) -> dict[str, str]:
    return {
        "prefect.resource.id": f"{PREFIX}.job.{job.key[:24]}",
        "prefect.resource.name": f"{job.experiment} {job.run_name}",
        f"{PREFIX}.experiment": job.experiment,
        f"{PREFIX}.run-name": job.run_name,
    }


def registered(version: ModelVersion, run: RunResult) -> FlowEvent:
    return FlowEvent(
        f"{PREFIX}.model.registered",
        model_resource(version),
        {
            "model": version.name,
            "version": version.version,
            "accuracy": round(version.accuracy, 6),
            "regularization": version.regularization,
            "run_id": run.run_id,
            "run_url": run.url,
            "data_sha256": run.data_hash,
            "champion": version.champion,
        },
    )


def champion_moved(version: ModelVersion, previous: ModelVersion | None) -> FlowEvent | None:
    """None when the alias did not move: the version is not the champion, or was already."""
    if not version.champion or (previous is not None and previous.version == version.version):
        return None
    gain = None if previous is None else round(version.accuracy - previous.accuracy, 6)
    related = [{**model_resource(previous), "prefect.resource.role": "previous-champion"}] if previous else []
    return FlowEvent(
        f"{PREFIX}.model.champion-moved",
        model_resource(version),
        {
            "model": version.name,
            "from_version": previous.version if previous else None,
            "to_version": version.version,
            "from_accuracy": round(previous.accuracy, 6) if previous else None,
            "to_accuracy": round(version.accuracy, 6),
            "gain": gain,
            "regularization": version.regularization,
            "run_id": version.run_id,
        },
        related,
    )


def training_failed(job: TrainingJob, error: str) -> FlowEvent:
    """`error` is the run's failure as the flow reports it: its status and its log's last lines."""
    return FlowEvent(
        f"{PREFIX}.training.failed",
        job_resource(job),
        {"run_name": job.run_name, "regularization": job.regularization, "error": error[-2000:]},
    )


def run_reused(job: TrainingJob, known: KnownRun, how: str) -> FlowEvent:
    """`how`: "adopted" (a finished run) or "re-attached" (one under way)."""
    return FlowEvent(
        f"{PREFIX}.training.{how}",
        job_resource(job),
        {
            "run_name": job.run_name,
            "regularization": job.regularization,
            "run_id": known.run_id,
            "status": known.status,
            "run_url": known.url,
        },
    )
