"""The tutorial's Estimator runs, as plain values: one training job per regularization rate."""

from collections.abc import Sequence

from steps.code import TrainingCode
from workspaces.base import ComputeTarget, DataRef, TrainingJob


def run_name(rate: float) -> str:
    return f"reg-{rate:g}"


def training_jobs(
    experiment: str, rates: Sequence[float], data: DataRef, code: TrainingCode, compute: ComputeTarget
) -> list[TrainingJob]:
    return [
        TrainingJob(
            experiment=experiment,
            run_name=run_name(rate),
            regularization=rate,
            data=data,
            source_dir=code.folder,
            source_hash=code.sha256,
            compute=compute.name,
        )
        for rate in rates
    ]
