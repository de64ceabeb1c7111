"""The training code as a cache input: the hash of the training folder's files as they are uploaded to the compute,
and the versions of the libraries it runs on, given to the steps that run it explicitly (and carried by every
training run as its tags: the job key)."""

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
