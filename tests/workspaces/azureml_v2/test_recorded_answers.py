"""The SDK v2 fake cannot drift from what Azure answered: every stored answer is its recording, unedited (its digest
is pinned here, taken when it was copied from Azure/azure-sdk-assets), and every answer the fake gives to a
recorded operation, in a whole life of a workspace through the adapter, has the recorded status and shape
(recorded.py: `differences`). An operation no recording holds is our reading, listed in docs/azureml-v2.md."""

import hashlib
import json
import re
from urllib.parse import unquote, urlparse

import pytest

from steps.registry import register
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.azureml_v2 import recorded
from tests.workspaces.azureml_v2.contract import opened
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec

# sha256 of each stored answer's status and body (JSON, keys sorted), as copied from its recording
PINNED = {
    "code_version_get": "7e059bdd8a015891a1282b02a819b84c7329736dd2895ab40b22beb22c20900a",
    "compute_get": "41726d5a2b69a5a02e968e2f7e9baa0bf176ff7bf19e641056d56cfe62ff5bda",
    "compute_operation_in_progress": "e2e7365c5642a0f333191ff00b786a9b1893a7126513488ef4e90aef0935986c",
    "compute_operation_succeeded": "51183f4e5fe2919eba10b24e4b2182580736bb96b6abe0ccf98068e0fefff173",
    "compute_put": "4bbf99d14fe51c8b7cda1b6c9a6e0c14670c26d3ef44a30c2b01f368a9cf6cdf",
    "data_version_get": "47901a6ee919a3b4db1b1d90adf867d89328750cd36051a5640fbaa867a1ddf6",
    "data_version_put": "77284e1dc8289641416ccec42f6659573473efa5ac88cf77ec4dd9ac224503f4",
    "datastore_get": "de70cbfc1e1ddb2c93341c714c666d41f4320129eceb3566a6514e4525a11614",
    "datastore_list_secrets": "1690f3de5ece23b131e6f1363ef350f4c045f04358370fd31199ceac90eb61c5",
    "job_get": "dd2bb7e8cfb5c106d9906106b2d5b00e9e87b844077918c3da8ffcac8ff4a3e1",
    "job_put": "3c1a726ca117c82622a7a807e2a2c9da4e75a6cb3b99d104f2a4ad07e062c334",
    "model_version_get": "6ac61e955505f5f1c3b421190e40281689845e4cd8f2187f8760c75fba4a3923",
    "model_version_put": "aa2e48b82265f906de6849ce4e894dd5dd07886f1ece329b24d9bd520daf7920",
    "model_versions_list": "57760b17704d01bf8b43126a34e82b2fdb08ebb37861f1863b543d554f4da191",
    "model_versions_list_missing": "0b5cbcc66b1e87cb4d46e8fa9cdf9e145dea7f3fc201198b90b222ada9a8ed1e",
    "workspace_get": "5f8161d77efdf5b8181116869548828265a0dffa0363f8dd53e491d917aa9ada",
}
# which recorded answer an answer of the fake is: (method, path pattern, its status or None for any) -> the name,
# and the status it must have where that differs from the recording's (a code version's PUT: the recording is
# its GET, the same resource; 201 as the other versions' PUTs answer)
OPERATIONS: list[tuple[str, str, int | None, str, int | None]] = [
    ("GET", r"/workspaces/[^/]+$", 200, "workspace_get", None),
    ("GET", r"/computes/[^/]+$", 200, "compute_get", None),
    ("PUT", r"/computes/[^/]+$", None, "compute_put", None),
    ("GET", r"/datastores/[^/]+$", 200, "datastore_get", None),
    ("POST", r"/datastores/[^/]+/listSecrets$", None, "datastore_list_secrets", None),
    ("PUT", r"/data/[^/]+/versions/[^/]+$", None, "data_version_put", None),
    ("GET", r"/data/[^/]+/versions/[^/]+$", 200, "data_version_get", None),
    ("PUT", r"/codes/[^/]+/versions/[^/]+$", None, "code_version_get", 201),
    ("PUT", r"/jobs/[^/]+$", None, "job_put", None),
    ("GET", r"/jobs/[^/]+$", 200, "job_get", None),
    ("GET", r"/models/[^/]+/versions$", 404, "model_versions_list_missing", None),
    ("GET", r"/models/[^/]+/versions$", 200, "model_versions_list", None),
    ("PUT", r"/models/[^/]+/versions/[^/]+$", 201, "model_version_put", None),  # (200: an update, our reading)
    ("GET", r"/models/[^/]+/versions/[^/]+$", 200, "model_version_get", None),
]


def digest(answer: dict) -> str:
    return hashlib.sha256(
        json.dumps({"status": answer["status"], "body": answer["body"]}, sort_keys=True).encode()
    ).hexdigest()


def operation_of(method: str, url: str, status: int, body) -> tuple[str, int] | None:
    """The recorded answer an answer of the fake is one of, and the status it must have; None for one no
    recording holds."""
    path = unquote(urlparse(url).path)
    if method == "GET" and "/computeOperationsStatus/" in path:
        name = f"compute_operation_{'succeeded' if body.get('status') == 'Succeeded' else 'in_progress'}"
        return name, 200
    for wanted, pattern, answered, name, must in OPERATIONS:
        if method == wanted and re.search(pattern, path) and answered in (None, status):
            return name, must or recorded.stored(name)["status"]
    return None


def test_each_stored_answer_is_its_recording_unedited():
    assert recorded.names() == sorted(PINNED), "an answer was added or removed without pinning its digest"
    for name in recorded.names():
        answer = recorded.stored(name)
        assert answer["recording"].endswith(".json") and len(answer["commit"]) == 40 and answer["entry"] >= 0, name
        assert digest(answer) == PINNED[name], f"recorded/{name}.json is not what {answer['recording']} holds"


def test_differences_finds_a_missing_a_new_and_a_retyped_field_but_not_a_null_or_a_tag():
    recorded_body = {"name": "x", "properties": {"status": "Running", "tags": {"a": "1"}, "limits": None}}
    assert recorded.differences(recorded_body, recorded_body) == []
    served = {"name": "x", "properties": {"status": 3, "tags": {"b": "2"}, "limits": {"timeout": "PT1H"}, "new": 1}}
    assert recorded.differences(recorded_body, served) == [
        "properties.new: served, not recorded",
        "properties.status: recorded str, served number",
    ]
    assert recorded.differences(recorded_body, {"properties": {}}) == [
        "name: recorded, not served",
        "properties.status: recorded, not served",
        "properties.tags: recorded, not served",
        "properties.limits: recorded, not served",
    ]


@pytest.fixture
def lived(fake_azure_v2, request, tmp_path, training_copy):
    """A workspace's life through the adapter, the real azure-ai-ml on the fake: every recorded operation it
    sends (a compute created then found, data uploaded then found, a job followed to its end, a first
    registration on a name never registered, then the registry read)."""
    workspace = opened(request, tmp_path)
    files = write_tiny_datastore_files(tmp_path / "data")
    data = workspace.upload(files, "mnist")
    assert workspace.upload(files, "mnist") == data and workspace.holds(data)
    compute = workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    workspace.provision_compute(ComputeSpec(name="cpu-cluster"))
    result = workspace.stream_logs(workspace.submit(a_job_on(data, training_copy, compute.name), compute), print)
    version = register(workspace, result, "sklearn_mnist", {"accuracy": repr(result.accuracy)})
    found = workspace.find_model_version("sklearn_mnist", result.run_id)
    assert workspace.holds(version) and found is not None and found.version == version.version
    return fake_azure_v2.answered


def test_the_fakes_answers_have_the_recorded_status_and_shape(lived):
    compared: set[str] = set()
    for method, url, status, body in lived:
        found = operation_of(method, url, status, body)
        if found is None:
            continue
        name, must = found
        assert status == must, f"{method} {url}: answered {status}, recorded {must} ({name})"
        drift = recorded.differences(recorded.stored(name)["body"], body)
        assert drift == [], (
            f"{method} {url} answers otherwise than {name} ({recorded.stored(name)['recording']}): {drift}"
        )
        compared.add(name)
    assert compared == set(PINNED), f"no answer of the fake was compared with {sorted(set(PINNED) - compared)}"
