"""The values both Azure adapters' layer-1 tests build SDK objects from: the tutorial's job and cluster."""

from tests.conftest import PROJECT
from workspaces.base import ComputeSpec, DataRef, RunResult, TrainingJob

# the tutorial's cluster, with the two settings whose spelling differs most between the SDKs set off default
TUTORIAL_CLUSTER = ComputeSpec(idle_seconds_before_scaledown=1200, vm_priority="lowpriority")


def a_job(mount: str, files: dict[str, str], rate: float = 0.8) -> TrainingJob:
    """A job of the tutorial: `reg-<rate>` trained on the data found at `mount`."""
    data = DataRef(datastore="workspaceblobstore", path="mnist", files=files, mount=mount)
    return TrainingJob(
        experiment="sklearn-mnist",
        run_name=f"reg-{rate:g}",
        regularization=rate,
        data=data,
        source_dir=str(PROJECT / "training"),
        source_hash="f" * 64,
        compute="cpu-cluster",
    )


def a_job_on(data: DataRef, training_dir, compute: str, rate: float = 0.8) -> TrainingJob:
    """A job of the tutorial: `reg-<rate>` trained on `data` (uploaded) with the folder `training_dir`."""
    return a_job(data.mount, data.files, rate).model_copy(
        update={"data": data, "source_dir": str(training_dir), "source_hash": "0" * 64, "compute": compute}
    )


def a_run_result(run_id: str, accuracy: float, rate: float = 0.8) -> RunResult:
    """A Completed run of `reg-<rate>` that logged `accuracy`."""
    return RunResult(
        run_id=run_id,
        name=f"reg-{rate:g}",
        status="Completed",
        regularization=rate,
        metrics={"accuracy": accuracy},
        data_hash="d" * 64,
        source_hash="s" * 64,
    )
