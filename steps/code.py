"""The training code as a cache input: Prefect's TASK_SOURCE hashes only a task's own lines, so the hash of
the whole training folder, and the versions of the libraries it runs on, are given to the steps explicitly."""

from importlib.metadata import version
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from workspaces.files import sha256_tree

LIBRARIES = ("scikit-learn", "numpy", "joblib", "mlflow")


class TrainingCode(BaseModel):
    model_config = ConfigDict(frozen=True)

    folder: str
    sha256: str
    libraries: dict[str, str]


def describe_training_code(folder: str) -> TrainingCode:
    return TrainingCode(folder=folder, sha256=sha256_tree(Path(folder)), libraries={n: version(n) for n in LIBRARIES})
