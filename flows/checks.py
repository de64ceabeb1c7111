"""Checks of single parameters that need the environment or the file system; each raises ValueError with the
sentence the user will read (parameters.py turns it into a ConfigError)."""

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")  # Azure ML's rule: 2-16 characters


def check_tracking_uri(uri: str | None, given_by: str = "--tracking-uri") -> str | None:
    """An MLflow tracking server's URL, or None (the workspace's own SQLite file). A user or password in it
    would reach the flow's parameters, logs and artifacts: MLflow reads them from MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD instead, which never leave the worker's environment."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        shown = uri if "@" not in uri else "(a URI holding a user or password)"
        raise ValueError(
            f"tracking URI {shown!r}: {given_by} takes an MLflow tracking server's http(s) URL, such as "
            "http://mlflow.example:5000 (the local workspace's own store needs none)"
        )
    if parsed.username or parsed.password:
        raise ValueError(
            "tracking URI: must not hold a user or password (they would reach the run's parameters and logs); "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD on the worker instead"
        )
    return uri.rstrip("/")


def from_environment(variable: str, fallback: Any, convert: Callable[[str, str], Any] | None = None):
    """A default_factory: the variable's value where the flow runs (converted, a bad value named by its
    variable), else `fallback`."""

    def default() -> Any:
        value = os.environ.get(variable)
        if not value:
            return fallback
        return convert(value, variable) if convert else value

    return default


# ASCII digits only (str.isdigit and int() take Arabic-Indic ones too), at most nine: a count of nodes, minutes or
# seconds, not 1e3, 2.0 or 99999999999999999999 (which went through a float and became 1e20)
WHOLE = re.compile(r"-?[0-9]{1,9}")


def whole_number(value: Any, source: str) -> int:
    """The whole number `value` says (its bounds are the field's to check); ValueError naming `source` if none."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**9:
        return value
    if isinstance(value, str) and WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    raise ValueError(f"{source}={value!r}: expected a whole number")


def check_folder_creatable(folder: str, what: str, flag: str) -> str:
    """The folder's absolute path, if it exists as a folder or can be created; nothing is created here."""
    path = Path(folder).expanduser().absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{what} {folder!r} cannot be created: {probe} is a file, not a folder; choose another {flag}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {folder!r} cannot be written: {probe} is not writable; choose another {flag}")
    return str(path)


def check_mirror(mirror: str) -> str:
    """An http(s) URL, a file:// URL of a folder, or a folder (made absolute, so it means the same anywhere)."""
    parsed = urlparse(mirror)
    if parsed.password:
        raise ValueError("a mirror URL must not carry a password (it would be logged and stored as a parameter)")
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return mirror
    if parsed.scheme == "file" and Path(url2pathname(parsed.path)).is_dir():
        return mirror
    if not parsed.scheme and Path(mirror).expanduser().is_dir():
        return str(Path(mirror).expanduser().resolve())
    raise ValueError(f"mirror {mirror!r}: expected an http://, https:// or file:// URL, or an existing folder")


ALLOWED_ROOTS = "MNIST_FLOW_ALLOWED_ROOTS"  # the worker's say on which folders a deployment run may use


def allowed_roots(env: Mapping[str, str], project: Path) -> list[Path]:
    """The folders a deployment run's path parameters may lie in: $MNIST_FLOW_ALLOWED_ROOTS (separated by
    os.pathsep), else the project folder and the workspace the worker's environment names."""
    listed = [root for root in env.get(ALLOWED_ROOTS, "").split(os.pathsep) if root.strip()]
    roots = listed or [str(project), env.get("MNIST_FLOW_WORKSPACE", "")]
    return [Path(root).expanduser().resolve() for root in roots if root]


def check_allowed_roots(paths: Mapping[str, list[str]], env: Mapping[str, str], project: Path) -> None:
    """Each of the folders and files a deployment run asked for lies in an allowed root (symlinks resolved):
    a run's parameters come from whoever may start runs, and the worker writes and executes with its rights."""
    roots = allowed_roots(env, project)
    for what, values in paths.items():
        for value in values:
            resolved = Path(value).expanduser().resolve()
            if not any(resolved == root or root in resolved.parents for root in roots):
                raise ValueError(
                    f"{what} {value!r} is outside the folders this worker lets a deployment run use "
                    f"({', '.join(map(str, roots))}); to allow it, add its folder to {ALLOWED_ROOTS} in the "
                    f"worker's environment (folders separated by {os.pathsep!r})"
                )


DATASTORE_NAME = re.compile(r"^[A-Za-z0-9_]{1,255}$")  # Azure ML's rule: letters, digits and underscores


def check_datastore_name(name: str | None) -> str | None:
    if name is not None and not DATASTORE_NAME.match(name):
        raise ValueError(f"datastore {name!r}: expected letters, digits or '_' (Azure ML's rule for datastore names)")
    return name


BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
