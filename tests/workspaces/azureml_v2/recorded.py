"""Azure ML's answers as its own recorded sessions hold them, for both SDKs' fakes.

Each file of recorded/ is one answer of one recorded session of the azure-ai-ml test suite, in the public
repository Azure/azure-sdk-assets (`python/sdk/ml/azure-ai-ml/tests/recordings/<recording>`): it names the
recording, the entry (its index in the session's `Entries`) and the commit, and holds the answer's status, the
headers the SDK reads and the body, as recorded (the identifiers were already sanitized there). The bodies are
the recording's, not a reconstruction: tests/workspaces/azureml_v2/test_recorded_answers.py pins each one's
digest, and checks that every answer the fake gives to a recorded operation has the recorded status and shape.

What a fake does with one (`answer`): the recording's workspace and names rewritten to the test's, then the
fake's own state laid over the fields that carry it (a job's status, a model's tags ...).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("recorded")
# the recordings' sanitized subscription (two lengths occur), resource group and workspace
_SUBSCRIPTION = re.compile(r"00000000-0000-0000-0000-000000000(?:000)?")
_GROUP = re.compile(r"(resource[gG]roups)/00000(?=[/\"?])")
_WORKSPACE = re.compile(r"(workspaces)/00000(?=[/\"?])")


@functools.cache
def stored(name: str) -> dict:
    """The stored answer `name` (recorded/<name>.json), as a dict: recording, commit, entry, request, status,
    headers, body."""
    return json.loads((RECORDED / f"{name}.json").read_text())


def names() -> list[str]:
    return sorted(path.stem for path in RECORDED.glob("*.json"))


def answer(name: str, subscription: str, group: str, workspace: str) -> tuple[int, Any, dict]:
    """The recorded answer `name` (status, body, headers) in the test's workspace: a copy the caller may change."""
    recorded = stored(name)
    text = json.dumps([recorded["body"], recorded["headers"]])
    text = _SUBSCRIPTION.sub(subscription, text)
    text = _GROUP.sub(lambda m: f"{m[1]}/{group}", text)
    text = _WORKSPACE.sub(lambda m: f"{m[1]}/{workspace}", text)
    body, headers = json.loads(text)
    return recorded["status"], copy.deepcopy(body), headers


def workspace_in(region: str, subscription: str, group: str, workspace: str) -> dict:
    """The recorded workspace (recorded in westus) as the test's, in `region`: its location and the region its
    data plane is reached in, which the jobs' and the SDK v1's endpoints name."""
    _, body, _ = answer("workspace_get", subscription, group, workspace)
    body["name"], body["location"] = workspace, region
    properties = body["properties"]
    properties["discoveryUrl"] = properties["discoveryUrl"].replace("westus.", f"{region}.", 1)
    properties["mlFlowTrackingUri"] = properties["mlFlowTrackingUri"].replace("westus.", f"{region}.", 1)
    return body


def shape(value: Any) -> Any:
    """What an answer's value is, without its contents: a dict's keys and their shapes, a list's first item's
    shape, a scalar's JSON type (null is its own)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


# maps whose keys are the user's or the job's, not the service's: compared as maps, not key by key
FREE_FORM = {"tags", "properties.properties", "flavors", "inputs", "outputs", "environmentVariables", "parameters"}


def differences(recorded: Any, served: Any, path: str = "") -> list[str]:
    """How `served` differs in shape from `recorded`: a key the recording has and the answer lacks, or the other
    way round, or a value of another JSON type (a null on either side stands for any type: the service leaves
    unset fields null); each a line naming its path."""
    if recorded is None or served is None:  # (a field unset is null, whatever its type)
        return []
    where = path or "the body"
    if isinstance(recorded, dict):
        if not isinstance(served, dict):
            return [f"{where}: recorded an object, served {shape(served)}"]
        if any(path == free or path.endswith(f".{free}") for free in FREE_FORM):
            return []
        found = [f"{path}.{key}".lstrip(".") + ": recorded, not served" for key in recorded if key not in served]
        found += [f"{path}.{key}".lstrip(".") + ": served, not recorded" for key in served if key not in recorded]
        for key in recorded.keys() & served.keys():
            found += differences(recorded[key], served[key], f"{path}.{key}".lstrip("."))
        return found
    if isinstance(recorded, list):
        if not isinstance(served, list):
            return [f"{where}: recorded a list, served {shape(served)}"]
        return differences(recorded[0], served[0], f"{path}[0]") if recorded and served else []
    if shape(served) != shape(recorded):
        return [f"{where}: recorded {shape(recorded)}, served {shape(served)}"]
    return []
