"""The flow's parameters, declared once: this model is the flow's one parameter (Prefect builds the run form and
the schema the server enforces from it), and the command line is derived from it (flows/cli.py).

Values the environment decides are `default_factory`s, so they resolve where the flow runs (a deployment run on
the worker, not where it was deployed): the compute settings from the tutorial's AML_COMPUTE_CLUSTER_* variables,
the workspace from MNIST_FLOW_WORKSPACE, the mirrors from MNIST_MIRROR (comma-separated). The schema says what a
form can (types, choices, bounds, patterns); the validators below say the rest, and say it in one line naming the
value and what was expected (`ConfigError`), before anything is downloaded, provisioned or written.
"""

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlparse
from urllib.request import url2pathname

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from flows.checks import (
    BLOCK_NAME,
    COMPUTE_NAME,
    DATASTORE_NAME,
    check_allowed_roots,
    check_datastore_name,
    check_folder_creatable,
    check_mirror,
    check_tracking_uri,
    from_environment,
    whole_number,
)
from plumbing.retries import first_delay
from steps.dataset import MNIST, Dataset
from workspaces.backends import BACKENDS, DEFAULT_BACKEND, backend, choices
from workspaces.base import ComputeSpec, WorkspaceRef
from workspaces.errors import ConfigError
from workspaces.marker import check_workspace_folder

PROJECT = Path(__file__).resolve().parents[1]
PUBLIC_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
PositiveNumber = Annotated[float, Field(gt=0)]
NAME_RULES = {  # field -> the rule its value follows, and the line that says so
    "experiment_name": (
        EXPERIMENT_NAME,
        "experiment name {!r}: expected letters, digits, '-' or '_' (at most 255), starting with a letter or digit",
    ),
    "compute_name": (
        COMPUTE_NAME,
        "compute name {!r}: expected 2 to 16 letters, digits or '-', starting with a letter (Azure ML's rule)",
    ),
    "credentials_block": (
        BLOCK_NAME,
        "credentials block {!r}: expected a Prefect block name (lowercase letters, digits and '-')",
    ),
}


def tracking_from_environment(name: str) -> str | None:
    """$MLFLOW_TRACKING_URI for a workspace in a folder; a cloud backend's runs go to its workspace, whatever it
    says (an Azure ML user may well have it set to their workspace's azureml:// URI)."""
    known = BACKENDS.get(name)
    if not known or known.cloud:
        return None
    return check_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or None, "MLFLOW_TRACKING_URI")


def mirrors_from_environment() -> tuple[str, ...]:
    value = os.environ.get("MNIST_MIRROR", "")
    listed = [m.strip() for m in value.split(",") if m.strip()]
    if value.strip() and not listed:  # set, but naming no mirror: not a silent fall back to the public ones
        raise ValueError(f"MNIST_MIRROR={value!r}: expected mirrors (URLs or folders) separated by commas")
    return tuple(listed) or PUBLIC_MIRRORS


def nodes_for(data: dict[str, Any]) -> int:
    """The tutorial's AML_COMPUTE_CLUSTER_MAX_NODES, else the backend's default: as many runs at once as cores
    locally, the tutorial's 4 on Azure ML."""
    known = BACKENDS.get(data.get("backend", DEFAULT_BACKEND), BACKENDS[DEFAULT_BACKEND])
    return from_environment("AML_COMPUTE_CLUSTER_MAX_NODES", known.default_nodes(), whole_number)()


class FlowParameters(BaseModel):
    """A flow's one parameter: validated in the flow's body (`from_flow`), so a command line and a deployment run
    get the same one-line messages, and a deployment run's paths are checked against the worker's allowed roots."""

    @classmethod
    def from_flow(cls, given: "Mapping[str, Any] | FlowParameters | None", from_deployment: bool = False) -> Self:
        """The validated parameters from what the flow was given (None: all defaults); ConfigError with one line
        if wrong. A deployment run's folders must lie where the worker allows (flows/checks.py:
        check_allowed_roots); the command line, run by the machine's own user, may use any."""
        if isinstance(given, FlowParameters):
            given = given.model_dump(exclude_unset=True)
        values = {k: v for k, v in (given or {}).items() if v is not None}
        try:
            params = cls.model_validate(values)
            first_delay(os.environ)  # the steps' retry back-off, read where the flow runs (plumbing/retries.py)
            if from_deployment:  # checked as given (a symlink resolves there), where the worker allows
                check_allowed_roots(cls.local_paths(values), os.environ, PROJECT)
            return params
        except (ValidationError, ValueError) as exc:
            raise ConfigError(one_line(exc) if isinstance(exc, ValidationError) else str(exc)) from None

    @classmethod
    def local_paths(cls, arguments: dict[str, Any]) -> dict[str, list[str]]:
        """The folders and files of this machine that the given arguments name."""
        raise NotImplementedError

    @property
    def workspace(self) -> WorkspaceRef:
        """The workspace the flow opens."""
        raise NotImplementedError

    def given(self, names: set[str]) -> dict[str, Any]:
        """The validated values of `names`, as plain JSON: what the command line hands the flow (and Prefect
        records as the run's parameters)."""
        plain = self.model_dump(mode="json")
        return {name: plain[name] for name in names}


def workspace_from_environment() -> str:
    return os.environ.get("MNIST_FLOW_WORKSPACE") or ".workspace"


class TrainingParameters(FlowParameters):
    """What one run of mnist-training is given. Left empty, a value takes its default; where the default comes
    from the worker's environment, the field says which variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, title="Training parameters")

    regularization: tuple[PositiveNumber, ...] = Field(
        (0.8,),
        min_length=1,
        description="Regularization rates, one training run each (C = 1/rate, as in the tutorial); the best run's "
        "model is registered. A rate given twice is one run.",
    )
    experiment_name: str = Field(
        "sklearn-mnist",
        pattern=EXPERIMENT_NAME.pattern,
        description="The experiment the runs belong to (letters, digits, '-' and '_').",
    )
    backend: str = Field(
        default_factory=from_environment("MNIST_FLOW_BACKEND", DEFAULT_BACKEND),
        json_schema_extra={"enum": list(BACKENDS)},  # the run form's choices
        description="Where to train: "
        + ", ".join(f"'{name}' ({entry.title})" for name, entry in BACKENDS.items())
        + f". Default: $MNIST_FLOW_BACKEND (each deployment sets its own), else {DEFAULT_BACKEND}.",
    )
    compute_name: str = Field(
        default_factory=from_environment("AML_COMPUTE_CLUSTER_NAME", "cpu-cluster"),
        pattern=COMPUTE_NAME.pattern,
        description="The compute target (Azure ML: 2 to 16 letters, digits or '-'). "
        "Default: $AML_COMPUTE_CLUSTER_NAME, else cpu-cluster.",
    )
    vm_size: str = Field(
        title="VM size",
        default_factory=from_environment("AML_COMPUTE_CLUSTER_SKU", "STANDARD_D2_V2"),
        min_length=1,
        description="Azure ML: the nodes' VM size. Default: $AML_COMPUTE_CLUSTER_SKU, else STANDARD_D2_V2.",
    )
    min_nodes: int = Field(
        default_factory=from_environment("AML_COMPUTE_CLUSTER_MIN_NODES", 0, whole_number),
        ge=0,
        description="Nodes kept when idle. Default: $AML_COMPUTE_CLUSTER_MIN_NODES, else 0.",
    )
    max_nodes: int = Field(
        default_factory=nodes_for,
        ge=1,
        description="Training runs executing at once (Azure ML: the cluster's nodes). "
        "Default: $AML_COMPUTE_CLUSTER_MAX_NODES, else the worker's CPU count locally and 4 on Azure ML.",
    )
    vm_priority: Literal["dedicated", "lowpriority"] = Field(
        "dedicated",
        title="VM priority",
        description="Azure ML: dedicated nodes, or cheaper low-priority ones that may be pre-empted.",
    )
    idle_seconds_before_scaledown: int = Field(
        1800,
        title="Idle seconds before scale-down",
        ge=0,
        description="Azure ML: idle seconds before a node is released.",
    )
    max_run_minutes: int = Field(
        180,
        ge=1,
        le=60 * 24 * 30,
        description="Azure ML: the longest a training run may take on its node before the service cancels it "
        "(minutes; the SDK's own default is 30 days of a billed node).",
    )
    workspace_dir: str = Field(
        default_factory=workspace_from_environment,
        min_length=1,
        description="The local workspace, and every backend's cache. Default: $MNIST_FLOW_WORKSPACE, "
        "else .workspace (in the worker's working folder).",
    )
    tracking_uri: str | None = Field(
        default_factory=lambda data: tracking_from_environment(data.get("backend", DEFAULT_BACKEND)),
        title="Tracking URI",
        description="Local workspace: an MLflow tracking server (http://host:5000) for the run history and the "
        "model registry, shared by a team; the cache and the datastore stay in the workspace folder. Default: "
        "$MLFLOW_TRACKING_URI, else the workspace's own SQLite file.",
    )
    mirrors: tuple[str, ...] = Field(
        default_factory=mirrors_from_environment,
        min_length=1,
        description="Where to download MNIST from, tried in order: http(s) or file:// URLs, or folders. "
        "Default: $MNIST_MIRROR (comma-separated), else the public mirrors.",
    )
    download_timeout: PositiveNumber = Field(
        30.0, description="Seconds a mirror may stay silent before the next one is tried."
    )
    dataset: Dataset = Field(MNIST, description="The data files and their sha256s (default: MNIST's four files).")
    training_dir: str = Field(str(PROJECT / "training"), description="The folder with train.py, run on the compute.")
    workspace_config: str = Field("config.json", description="Azure ML: the workspace's config.json (from the portal).")
    credentials_block: str | None = Field(
        default_factory=from_environment("MNIST_FLOW_CREDENTIALS_BLOCK", None),
        pattern=BLOCK_NAME.pattern,
        description="Azure ML: the name of a prefect-azure AzureMlCredentials block (never a secret itself). "
        "Default: $MNIST_FLOW_CREDENTIALS_BLOCK (the Azure deployments set it), else none.",
    )
    datastore: str | None = Field(
        None,
        pattern=DATASTORE_NAME.pattern,
        description="Azure ML: the datastore to upload to. Default: the workspace's default datastore.",
    )
    refresh_cache: bool = Field(False, description="Recompute every step (and train again) instead of reusing.")
    delete_compute: bool = Field(False, description="Delete the compute target at the end.")
    plan: bool = Field(
        False,
        description="Do nothing; say which steps would run and which come from the cache, and why (the answer is "
        "the run's `plan` artifact).",
    )

    @field_validator("regularization", mode="before")
    @classmethod
    def _positive_rates(cls, rates: Any) -> tuple[float, ...]:
        rates = [rates] if isinstance(rates, (int, float, str)) else list(rates)
        if not rates:
            raise ValueError("no regularization rate given; expected at least one positive number, such as 0.8")
        checked = []
        for rate in rates:
            if (value := positive_number(rate)) is None:
                raise ValueError(f"regularization rate {rate!r}: expected a positive finite number, such as 0.8")
            checked.append(value)
        return tuple(dict.fromkeys(checked))  # a rate given twice is one run

    @field_validator("backend", mode="before")
    @classmethod
    def _known_backend(cls, name: Any) -> Any:
        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}; expected {choices()}")
        return name

    @field_validator("experiment_name", "compute_name", "credentials_block", mode="before")
    @classmethod
    def _names_by_their_rules(cls, name: Any, info: ValidationInfo) -> Any:
        pattern, message = NAME_RULES[str(info.field_name)]
        if name is not None and not pattern.match(str(name)):
            raise ValueError(message.format(name))
        return name

    @field_validator("min_nodes", "max_nodes", "idle_seconds_before_scaledown", "max_run_minutes", mode="before")
    @classmethod
    def _whole_numbers(cls, value: Any, info: ValidationInfo) -> int:
        name = str(info.field_name)
        number = whole_number(value, name)
        if name == "max_run_minutes" and not 1 <= number <= 60 * 24 * 30:
            raise ValueError(f"max_run_minutes {number}: expected 1 to 43200 (30 days), such as 180")
        least = 1 if name == "max_nodes" else 0
        if number < least:
            raise ValueError(f"{name} {number}: expected {'at least 1 node' if least else '0 or more'}")
        return number

    @field_validator("vm_priority", mode="before")
    @classmethod
    def _known_priority(cls, priority: Any) -> Any:
        if priority not in ("dedicated", "lowpriority"):
            raise ValueError(f"vm_priority {priority!r}: expected 'dedicated' or 'lowpriority'")
        return priority

    @field_validator("workspace_dir")
    @classmethod
    def _creatable_folder(cls, folder: str) -> str:
        path = check_folder_creatable(folder, "workspace folder", "--workspace-dir")
        check_workspace_folder(path)
        return path

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_server(cls, uri: str | None) -> str | None:
        return check_tracking_uri(uri)

    @field_validator("mirrors", mode="before")
    @classmethod
    def _mirrors(cls, mirrors: Any) -> tuple[str, ...]:
        mirrors = [mirrors] if isinstance(mirrors, str) else list(mirrors)
        if not mirrors:
            raise ValueError("no mirror given; expected at least one URL or folder holding the MNIST files")
        return tuple(check_mirror(str(m)) for m in mirrors)

    @field_validator("download_timeout", mode="before")
    @classmethod
    def _positive_timeout(cls, seconds: Any) -> float:
        if (value := positive_number(seconds)) is None:
            raise ValueError(f"download timeout {seconds!r}: expected a positive number of seconds, such as 30")
        return value

    @field_validator("training_dir")
    @classmethod
    def _has_entry_script(cls, folder: str) -> str:
        if not (Path(folder) / "train.py").is_file():
            raise ValueError(f"training folder {folder!r} has no train.py; expected the tutorial's entry script")
        return str(Path(folder).resolve())

    @field_validator("datastore", mode="before")
    @classmethod
    def _datastore_name(cls, name: Any) -> Any:
        return check_datastore_name(name)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "TrainingParameters":
        """What a schema cannot say: rules between fields, and what needs the worker's machine."""
        if self.max_nodes < self.min_nodes:
            raise ValueError(
                f"max_nodes {self.max_nodes} is below min_nodes {self.min_nodes}; expected max_nodes >= min_nodes"
            )
        entry = backend(self.backend)
        if entry.sdk is not None and (missing := entry.sdk.missing(self.backend)):
            raise ValueError(missing)
        entry.check(self, os.environ)  # what the backend asks of the parameters and the environment
        return self

    @classmethod
    def local_paths(cls, arguments: dict[str, Any]) -> dict[str, list[str]]:
        return training_paths(arguments)

    @property
    def compute(self) -> ComputeSpec:
        return ComputeSpec(name=self.compute_name, **self.model_dump(include=set(ComputeSpec.model_fields) - {"name"}))

    @property
    def workspace(self) -> WorkspaceRef:
        cloud = backend(self.backend).cloud  # (a folder's workspace ignores these: they stay out of its cache keys)
        return WorkspaceRef(
            backend=self.backend,
            directory=str(Path(self.workspace_dir).resolve()),
            config_path=str(Path(self.workspace_config).resolve()) if cloud else None,
            credentials_block=self.credentials_block if cloud else None,
            datastore=self.datastore if cloud else None,
            tracking_uri=self.tracking_uri,
        )


def training_paths(arguments: dict[str, Any]) -> dict[str, list[str]]:
    """The folders and files of this machine that the given arguments name: where to write, what code to run,
    what to read (a mirror that is a folder or a file:// URL; an http(s) mirror is no folder of this machine)."""
    paths = {
        name: [str(arguments[name])]
        for name in ("workspace_dir", "training_dir", "workspace_config")
        if arguments.get(name)
    }
    mirrors = arguments.get("mirrors") or []
    mirrors = [str(m) for m in ([mirrors] if isinstance(mirrors, str) else mirrors)]
    folders = [url2pathname(urlparse(m).path) if m.startswith("file:") else m for m in mirrors]
    if folders := [folder for folder in folders if not urlparse(folder).scheme]:
        paths["mirrors"] = folders
    return paths


def positive_number(value: Any) -> float | None:
    """`value` as a positive finite float (from a number or a string), or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def one_line(exc: ValidationError) -> str:
    """The first problem pydantic found, as the sentence our validators wrote or 'field=value: problem'."""
    error = exc.errors()[0]
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}={error.get('input')!r}: {error['msg']}"
