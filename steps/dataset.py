"""What a dataset is: its files, the names the tutorial gives them, and the checksums they must have.

The checksums travel with the description, so a download is checked against what the description promises
and not against whatever a mirror serves. `MNIST` is the real one (checksums from the design, §5); tests
describe their own tiny files the same way and pass the description as the flow's `dataset` parameter.
"""

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from workspaces.paths import component_problem, inside

SHA256 = re.compile(r"^[0-9a-f]{64}$")
REQUIRED = ("train-images.gz", "train-labels.gz", "test-images.gz", "test-labels.gz")  # what train.py reads


def single_name(value: str, what: str) -> str:
    """`value` if it can be one file name; ValueError with the sentence the user reads otherwise."""
    problem = component_problem(value)
    if problem:
        raise ValueError(f"{what} {value!r}: {problem}")
    return value


class DataFile(BaseModel):
    """One file: where a mirror serves it, the name it gets here, and the content it must have. Both names
    become paths (on this machine, in a mirror's folder or URL), so each is one file name: a run's parameters
    come from whoever starts it, and must not reach outside the workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="The file's name on a mirror (one name, no folder).")
    name: str = Field(description="Its name in the downloads folder and the datastore, as the tutorial saves it.")
    sha256: str = Field(pattern=SHA256.pattern, description="Its content's sha256: 64 lowercase hexadecimal digits.")

    @field_validator("source", "name")
    @classmethod
    def _one_file_name(cls, value: str, info: ValidationInfo) -> str:
        return single_name(value, f"dataset file {info.field_name}")

    @field_validator("sha256")
    @classmethod
    def _is_sha256(cls, value: str) -> str:
        if not SHA256.match(value):
            raise ValueError(f"sha256 {value!r}: expected 64 lowercase hexadecimal digits")
        return value


class Dataset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The dataset's name (one name, no folder).")
    files: tuple[DataFile, ...] = Field(description="Its four files: train and test images and labels, gzipped IDX.")

    @field_validator("name")
    @classmethod
    def _dataset_name_is_a_name(cls, value: str) -> str:
        return single_name(value, "dataset name")

    @field_validator("files")
    @classmethod
    def _has_the_four_files(cls, files: tuple[DataFile, ...]) -> tuple[DataFile, ...]:
        missing = [name for name in REQUIRED if name not in {f.name for f in files}]
        if missing:
            raise ValueError(f"dataset lacks {', '.join(missing)}; expected the four files {', '.join(REQUIRED)}")
        return files

    @property
    def checksums(self) -> dict[str, str]:
        return {f.name: f.sha256 for f in self.files}


class LocalFiles(BaseModel):
    """A dataset's files on this machine, with their checked sha256s (name -> sha256)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    folder: str
    files: dict[str, str]

    @property
    def paths(self) -> list[Path]:
        return [inside(self.folder, name) for name in self.files]


MNIST = Dataset(
    name="mnist",
    files=(
        DataFile(
            source="train-images-idx3-ubyte.gz",
            name="train-images.gz",
            sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        DataFile(
            source="train-labels-idx1-ubyte.gz",
            name="train-labels.gz",
            sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        DataFile(
            source="t10k-images-idx3-ubyte.gz",
            name="test-images.gz",
            sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        DataFile(
            source="t10k-labels-idx1-ubyte.gz",
            name="test-labels.gz",
            sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ),
)
