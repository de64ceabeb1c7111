"""The flow's parameters: one typed model, validated first thing in the flow and at the command line.

A value left out (None) takes its default when the model is built, not when this module is imported: the
compute settings from the tutorial's AML_COMPUTE_CLUSTER_* variables, the workspace from MNIST_FLOW_WORKSPACE,
the mirrors from MNIST_MIRROR (comma-separated). A deployment run therefore gets the worker's environment,
and exactly the command line's checks and messages. `ConfigError` carries one line naming the value and what
was expected; nothing has been downloaded, provisioned or written when it is raised.
"""

import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from flows.checks import (
    check_allowed_roots,
    check_azure_settings,
    check_compute_env,
    check_datastore_name,
    check_folder_creatable,
    check_mirror,
)
from steps.dataset import MNIST, Dataset
from workspaces.base import AZURE_BACKENDS, BACKENDS, Backend, ComputeSpec, WorkspaceRef
from workspaces.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[1]
PUBLIC_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")


class TrainingParameters(BaseModel):
    """Everything one run of the flow is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    regularization: tuple[float, ...] = (0.8,)
    experiment_name: str = "sklearn-mnist"
    backend: Backend = "local"
    workspace_dir: str = ".workspace"
    mirrors: tuple[str, ...] = PUBLIC_MIRRORS
    download_timeout: float = 30.0  # seconds without an answer or data before a mirror counts as failed
    dataset: Dataset = MNIST
    compute: ComputeSpec
    training_dir: str = str(PROJECT / "training")
    workspace_config: str = "config.json"
    credentials_block: str | None = None
    datastore: str | None = None
    refresh_cache: bool = False
    delete_compute: bool = False

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_environment(cls, values: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in values.items() if v is not None}
        if "workspace_dir" not in values and os.environ.get("MNIST_FLOW_WORKSPACE"):
            values["workspace_dir"] = os.environ["MNIST_FLOW_WORKSPACE"]
        if "mirrors" not in values and os.environ.get("MNIST_MIRROR"):
            values["mirrors"] = [m.strip() for m in os.environ["MNIST_MIRROR"].split(",") if m.strip()]
        backend = values.get("backend", "local")
        values["compute"] = check_compute_env(values.get("compute") or {}, os.environ, backend)
        return values

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
    def _known_backend(cls, backend: Any) -> Any:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected 'local', 'azureml' or 'azureml-v2'")
        return backend

    @field_validator("experiment_name")
    @classmethod
    def _azure_experiment_name(cls, name: str) -> str:
        if not EXPERIMENT_NAME.match(name):
            raise ValueError(
                f"experiment name {name!r}: expected letters, digits, '-' or '_' (at most 255), "
                "starting with a letter or digit"
            )
        return name

    @field_validator("workspace_dir")
    @classmethod
    def _creatable_folder(cls, folder: str) -> str:
        return check_folder_creatable(folder, "workspace folder", "--workspace-dir")

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

    @field_validator("datastore")
    @classmethod
    def _datastore_name(cls, name: str | None) -> str | None:
        return check_datastore_name(name)

    @model_validator(mode="after")
    def _azure_settings(self) -> "TrainingParameters":
        if self.backend in AZURE_BACKENDS:
            check_azure_settings(self.backend, self.workspace_config, self.credentials_block, os.environ)
        return self

    @classmethod
    def from_flow(cls, arguments: dict[str, Any], from_deployment: bool = False) -> "TrainingParameters":
        """Validate the flow's arguments (None meaning the default); ConfigError with one line if wrong. A
        deployment run's folders must lie where the worker allows (flows/checks.py: check_allowed_roots); the
        command line, run by the machine's own user, may use any."""
        compute_keys = set(ComputeSpec.model_fields) - {"name"} | {"compute_name"}
        compute = {k.removeprefix("compute_"): v for k, v in arguments.items() if k in compute_keys}
        values = {k: v for k, v in arguments.items() if k not in compute_keys}
        try:
            params = cls.model_validate({**values, "compute": {k: v for k, v in compute.items() if v is not None}})
            if from_deployment:  # checked as given (a symlink resolves there), where the worker allows
                check_allowed_roots(local_paths(values), os.environ, PROJECT)
            return params
        except (ValidationError, ValueError) as exc:
            raise ConfigError(one_line(exc) if isinstance(exc, ValidationError) else str(exc)) from None

    def flow_arguments(self, names: set[str]) -> dict[str, Any]:
        """The validated values of the flow arguments `names`, as plain JSON (what Prefect records)."""
        plain = self.model_dump(mode="json")
        compute = plain.pop("compute")
        plain.update({f"compute_{k}" if k == "name" else k: v for k, v in compute.items()})
        return {name: plain[name] for name in names}

    @property
    def workspace(self) -> WorkspaceRef:
        azure = self.backend in AZURE_BACKENDS
        return WorkspaceRef(
            backend=self.backend,
            directory=str(Path(self.workspace_dir).resolve()),
            config_path=str(Path(self.workspace_config).resolve()) if azure else None,
            credentials_block=self.credentials_block if azure else None,
            datastore=self.datastore if azure else None,
        )


def local_paths(arguments: dict[str, Any]) -> dict[str, list[str]]:
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
