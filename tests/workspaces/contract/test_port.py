"""The rest of the port's contract, on every backend (the workspaces of conftest.py): provisioning creates then
attaches, an upload is idempotent by content and `holds` what it uploaded, the registry finds, creates and moves
the champion as steps/registry.py expects, a fetched model's sha256 is checked, a cancelled flow's successor
may start runs again. The table has no backend the suite does not open."""

import pytest

from steps.registry import register
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.contract.conftest import OPENED_BY
from workspaces.backends import BACKENDS
from workspaces.base import ComputeSpec
from workspaces.errors import DataError, RunCancelled


def test_every_backend_of_the_table_is_held_to_the_contract():
    assert set(OPENED_BY) == set(BACKENDS)


def test_provisioning_creates_a_target_then_attaches_it(workspace):
    spec = ComputeSpec(name="cpu-cluster", min_nodes=0, max_nodes=2)
    assert not workspace.has_compute("cpu-cluster")
    created = workspace.provision_compute(spec)
    attached = workspace.provision_compute(spec.model_copy(update={"max_nodes": 3}))
    assert (created.created, attached.created, attached.max_nodes) == (True, False, 3)
    assert created.kind == attached.kind == type(workspace).compute_kind and workspace.has_compute("cpu-cluster")


def test_an_upload_is_idempotent_by_content_and_held_until_its_files_change(workspace, tmp_path):
    files = write_tiny_datastore_files(tmp_path / "data")
    first = workspace.upload(files, "mnist")
    assert workspace.upload(files, "mnist") == first and workspace.holds(first)
    files[0].write_bytes(files[0].read_bytes() + b"\0")  # another content under the same name
    changed = workspace.upload(files, "mnist")
    assert changed.content_hash != first.content_hash
    assert workspace.holds(changed)  # (the first may be held too: SDK v2 keeps each content as a version)


def test_the_registry_creates_a_version_once_and_moves_the_champion(workspace, job_and_compute, tmp_path):
    runs = []
    for rate in (0.8, 0.4):
        job, compute = job_and_compute(rate)
        runs.append(workspace.stream_logs(workspace.submit(job, compute), lambda line: None))
    first = register(workspace, runs[0], "sklearn_mnist", {})
    again = register(workspace, runs[0], "sklearn_mnist", {})
    assert (first.created, first.champion, again.created, again.version) == (True, True, False, first.version)
    second = workspace.create_model_version(runs[1], "sklearn_mnist", {})
    assert second.version != first.version and workspace.champion("sklearn_mnist").version == first.version
    workspace.set_champion(second, first)
    assert workspace.champion("sklearn_mnist").version == second.version
    assert workspace.find_model_version("sklearn_mnist", runs[0].run_id).version == first.version
    history = workspace.model_versions("sklearn_mnist")  # every version, oldest first, dated by the registry
    assert [(v.version, v.run_id) for v in history] == [
        (first.version, runs[0].run_id),
        (second.version, runs[1].run_id),
    ]
    assert all(v.registered_at[:4].isdigit() and v.registered_at <= history[-1].registered_at for v in history)
    assert workspace.model_versions("no-such-model") == []
    assert workspace.holds(first) and workspace.holds(second)
    assert workspace.fetch_model(first, tmp_path / "fetched").exists()
    with pytest.raises(DataError, match="refusing to load it"):
        workspace.fetch_model(first.model_copy(update={"sha256": "0" * 64}), tmp_path / "refused")


def test_a_stopped_flow_refuses_new_runs_until_the_next_flow_starts(workspace, job_and_compute):
    job, compute = job_and_compute()
    workspace.stop_all_runs()  # the flow was cancelled: nothing new may start
    with pytest.raises(RunCancelled):
        workspace.submit(job, compute)
    workspace.start_flow()  # the next flow of this process
    run = workspace.submit(job, compute)
    assert workspace.stream_logs(run, lambda line: None).accuracy > 0.9
