"""Checks of single parameters that need the environment or the file system; each raises ValueError with the
sentence the user will read (parameters.py turns it into a ConfigError)."""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from workspaces.base import ComputeSpec

COMPUTE_VARIABLES = {  # the tutorial's names
    "name": "AML_COMPUTE_CLUSTER_NAME",
    "min_nodes": "AML_COMPUTE_CLUSTER_MIN_NODES",
    "max_nodes": "AML_COMPUTE_CLUSTER_MAX_NODES",
    "vm_size": "AML_COMPUTE_CLUSTER_SKU",
}
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")  # Azure ML's rule: 2-16 characters


def check_compute_env(given: Mapping[str, Any], env: Mapping[str, str], backend: str) -> ComputeSpec:
    """The compute settings: given values first, then the tutorial's variables, then the tutorial's defaults
    (local: as many nodes as CPU cores, so runs use the whole machine; Azure ML: 4)."""
    if isinstance(given, ComputeSpec):
        given = given.model_dump()
    values, sources = {}, {}
    for field in ComputeSpec.model_fields:
        variable = COMPUTE_VARIABLES.get(field)
        if field in given:
            values[field], sources[field] = given[field], field
        elif variable and env.get(variable):
            values[field], sources[field] = env[variable], variable
    for field in ("min_nodes", "max_nodes", "idle_seconds_before_scaledown"):
        if field in values:
            values[field] = _whole_number(values[field], sources[field])
    values.setdefault("max_nodes", (os.cpu_count() or 1) if backend == "local" else 4)
    spec = {**ComputeSpec().model_dump(), **values}
    if spec["max_nodes"] < 1:
        raise ValueError(f"max_nodes {spec['max_nodes']}: expected at least 1 node")
    if spec["min_nodes"] < 0 or spec["idle_seconds_before_scaledown"] < 0:
        raise ValueError(f"min_nodes {spec['min_nodes']}, idle seconds {spec['idle_seconds_before_scaledown']}: "
                         "expected numbers of 0 or more")  # fmt: skip
    if spec["max_nodes"] < spec["min_nodes"]:
        raise ValueError(f"max_nodes {spec['max_nodes']} is below min_nodes {spec['min_nodes']}; "
                         "expected max_nodes >= min_nodes")  # fmt: skip
    if not COMPUTE_NAME.match(str(spec["name"])):
        raise ValueError(f"compute name {spec['name']!r}: expected 2 to 16 letters, digits or '-', "
                         "starting with a letter (Azure ML's rule)")  # fmt: skip
    if spec["vm_priority"] not in ("dedicated", "lowpriority"):
        raise ValueError(f"vm_priority {spec['vm_priority']!r}: expected 'dedicated' or 'lowpriority'")
    return ComputeSpec.model_validate(spec)


def _whole_number(value: Any, source: str) -> int:
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    except (TypeError, ValueError):
        raise ValueError(f"{source}={value!r}: expected a whole number") from None


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
