"""The scoring flow's parameters, declared once as the training flow's are (flows/parameters.py): the run form,
the enforced schema and `python flows/score.py --help` all come from this model."""

import re
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from flows.checks import check_folder_creatable, check_tracking_uri
from flows.parameters import FlowParameters, tracking_from_environment, workspace_from_environment
from steps.registry import CHAMPION, MODEL_NAME
from workspaces.backends import DEFAULT_BACKEND
from workspaces.base import WorkspaceRef

MODEL_REF = re.compile(r"^([1-9][0-9]{0,8}|[A-Za-z][A-Za-z0-9_-]{0,254})$")  # a version number or an alias


class ScoringParameters(FlowParameters):
    """What one run of mnist-scoring is given."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, title="Scoring parameters")

    model: str = Field(
        CHAMPION,
        pattern=MODEL_REF.pattern,
        description=f"The version of {MODEL_NAME} to score with: a version number (3) or an alias (champion).",
    )
    images: str | None = Field(
        None,
        description="The digits to score: an IDX images file (gzipped or not), or a folder of 28x28 grayscale PNGs "
        "(in sub-folders named 0 to 9, they are labelled). Default: the workspace's MNIST test set.",
    )
    labels: str | None = Field(
        None, description="The IDX labels file of an IDX images file, if known: gives accuracy and a confusion matrix."
    )
    workspace_dir: str = Field(
        default_factory=workspace_from_environment,
        min_length=1,
        description="The local workspace whose registry holds the model. Default: $MNIST_FLOW_WORKSPACE, "
        "else .workspace.",
    )
    tracking_uri: str | None = Field(
        default_factory=lambda: tracking_from_environment(DEFAULT_BACKEND),
        title="Tracking URI",
        description="The MLflow tracking server whose registry holds the model (as the training flow's "
        "--tracking-uri). Default: $MLFLOW_TRACKING_URI, else the workspace's own SQLite file.",
    )
    output_dir: str | None = Field(
        None, description="Where predictions.csv is written. Default: the workspace's scores/ folder."
    )

    @field_validator("model", mode="before")
    @classmethod
    def _version_or_alias(cls, model: Any) -> str:
        if not MODEL_REF.match(str(model)):
            raise ValueError(f"model {model!r}: expected a version number (such as 3) or an alias (such as champion)")
        return str(model)

    @field_validator("workspace_dir")
    @classmethod
    def _a_workspace(cls, folder: str) -> str:
        if not Path(folder).is_dir():
            raise ValueError(f"no workspace registry at {folder!r} (no such folder); train a model there first")
        return str(Path(folder).resolve())

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_server(cls, uri: str | None) -> str | None:
        return check_tracking_uri(uri)

    @field_validator("images", "labels")
    @classmethod
    def _existing(cls, path: str | None, info: Any) -> str | None:
        if path is not None and not Path(path).exists():
            raise ValueError(f"{info.field_name} {path!r}: no such file or folder")
        return str(Path(path).resolve()) if path is not None else None

    @field_validator("output_dir")
    @classmethod
    def _writable(cls, folder: str | None) -> str | None:
        return check_folder_creatable(folder, "output folder", "--output-dir") if folder is not None else None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "ScoringParameters":
        if self.tracking_uri is None and not (Path(self.workspace_dir) / "mlflow.db").is_file():
            raise ValueError(
                f"no workspace registry at {self.workspace_dir!r} (no mlflow.db, and no --tracking-uri); "
                "train a model there first"
            )
        if self.labels is not None and (self.images is None or Path(self.images).is_dir()):
            raise ValueError(
                "--labels goes with an IDX images file (--images); a PNG folder is labelled by sub-folders"
            )
        return self

    @classmethod
    def local_paths(cls, arguments: dict[str, Any]) -> dict[str, list[str]]:
        names = ("workspace_dir", "images", "labels", "output_dir")
        return {name: [str(arguments[name])] for name in names if arguments.get(name)}

    @property
    def workspace(self) -> WorkspaceRef:
        return WorkspaceRef(backend=DEFAULT_BACKEND, directory=self.workspace_dir, tracking_uri=self.tracking_uri)

    @property
    def predictions_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path(self.workspace_dir) / "scores"
