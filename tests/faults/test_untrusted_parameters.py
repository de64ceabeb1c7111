"""A run's parameters are untrusted: whoever may start a deployment run chooses them, and the worker acts
with its own rights. Names that become paths are single names; every path built from one stays inside its
folder; a deployment run's folders are the worker's to allow. Each case lists the whole temporary tree before
and after: nothing may appear outside the workspace."""

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flows.cli import check_command_line
from flows.parameters import TrainingParameters
from steps.download import download_files
from tests.flows.flow_runs import run_flow
from tests.idx_files import write_tiny_mnist
from workspaces.errors import ConfigError
from workspaces.marker import MARKER
from workspaces.paths import component_problem

PAYLOAD = b"echo owned\n"


def tree(folder: Path, leave_out: Path | None = None) -> set[str]:
    """Every file and folder under `folder` (but `leave_out`), relative, as a set."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if leave_out is None or not (p == leave_out or p.is_relative_to(leave_out))
    }


@pytest.fixture
def mirror_with_payload(tmp_path) -> tuple[Path, dict]:
    """The tiny MNIST in a mirror folder, plus payload.txt, and a description of the four files."""
    folder = tmp_path / "mirror"
    dataset = write_tiny_mnist(folder)
    (folder / "payload.txt").write_bytes(PAYLOAD)
    return folder, dataset


def with_fifth_file(dataset: dict, source: str, name: str) -> dict:
    extra = {"source": source, "name": name, "sha256": hashlib.sha256(PAYLOAD).hexdigest()}
    return {**dataset, "files": [*dataset["files"], extra]}


TRAVERSALS = [
    ("payload.txt", "../../../evil/PWNED.txt", r"dataset file name '../../../evil/PWNED.txt': expected a single name"),
    ("payload.txt", "{tmp}/evil/PWNED.txt", r"dataset file name '.*/evil/PWNED.txt': expected a single name"),
    ("../mirror/payload.txt", "PWNED.txt", r"dataset file source '../mirror/payload.txt': expected a single name"),
    ("payload.txt", "PWNED\x00.txt", r"dataset file name 'PWNED\\x00.txt': expected no NUL or control characters"),
    ("payload.txt", "..", r"dataset file name '..': expected a name, not '.' or '..'"),
]


@pytest.mark.parametrize("source, name, message", TRAVERSALS, ids=["dot-dot", "absolute", "source", "nul", "parent"])
def test_a_name_that_would_leave_the_workspace_is_refused_before_anything(
    prefect_api, mirror_with_payload, tmp_path, source, name, message
):
    folder, dataset = mirror_with_payload
    before = tree(tmp_path)
    bad = with_fifth_file(dataset, source, name.format(tmp=tmp_path))
    state = run_flow(workspace_dir=str(tmp_path / "ws"), mirrors=[str(folder)], dataset=bad, max_nodes=1)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ConfigError) and "\n" not in str(error)
    assert re.match(message, str(error)), str(error)
    assert tree(tmp_path) == before  # not even the workspace was created


@pytest.mark.parametrize("planted", ["downloads", "downloads/train-images.gz", "datastore"])
def test_a_symlink_in_the_workspace_pointing_out_is_refused(prefect_api, mirror_with_payload, tmp_path, planted):
    folder, dataset = mirror_with_payload
    outside, workspace = tmp_path / "evil", tmp_path / "ws"
    outside.mkdir()
    link = workspace / planted
    link.parent.mkdir(parents=True)
    (workspace / MARKER).touch()  # a workspace, with a link planted in it
    link.symlink_to(outside / Path(planted).name)
    if "." not in planted:  # a folder
        (outside / planted).mkdir()
    before = tree(tmp_path, leave_out=workspace)
    state = run_flow(workspace_dir=str(workspace), mirrors=[str(folder)], dataset=dataset, max_nodes=1)
    error = str(state.result(raise_on_failure=False))
    assert state.is_failed() and "leads outside" in error and "refusing to use it" in error, error
    assert tree(tmp_path, leave_out=workspace) == before  # nothing written through the link


def test_the_command_line_refuses_the_traversal_in_one_line(mirror_with_payload, tmp_path, monkeypatch, capsys):
    folder, dataset = mirror_with_payload
    (tmp_path / "dataset.json").write_text(json.dumps(with_fifth_file(dataset, "payload.txt", "../../evil/x")))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        check_command_line(["--dataset", "dataset.json", "--mirror", str(folder)])
    assert exit_status.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: dataset file name '../../evil/x': expected a single name, without '/' or '\\'"
    ]


# ---- any string: refused up front, or every write stays inside the workspace --------------------------------
PATH_BITS = ["/", "\\", ".", "..", "\x00", "\n", "~", " ", "a", "é", "\ud800"]
PATHY = st.lists(st.sampled_from(PATH_BITS), max_size=8).map("".join)
NAMES = st.one_of(st.text(max_size=40), PATHY, st.sampled_from(["..", ".", "/etc/passwd", "../x", "C:\\x", "a/b"]))


@given(source=NAMES, name=NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_dataset_names_are_refused_or_kept_inside_the_workspace(tiny_data, source, name):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        mirror, workspace = root / "mirror", root / "ws"
        dataset = write_tiny_mnist(mirror)
        try:
            described = TrainingParameters.from_flow({"dataset": with_fifth_file(dataset, source, name)}).dataset
        except ConfigError as error:
            assert "\n" not in str(error)
            return
        assert component_problem(source) is None and component_problem(name) is None
        assume(
            source not in {f["source"] for f in dataset["files"]} and name not in {f["name"] for f in dataset["files"]}
        )
        (mirror / source).write_bytes(PAYLOAD)
        before = tree(root, leave_out=workspace)
        download_files(described, workspace / "downloads", (str(mirror),), say=lambda line: None)
        assert (workspace / "downloads" / name).read_bytes() == PAYLOAD  # accepted: it works, where it should
        assert tree(root, leave_out=workspace) == before
        assert all(p.resolve().is_relative_to(workspace.resolve()) for p in workspace.rglob("*"))


@given(value=NAMES)
@settings(max_examples=200, deadline=None)
def test_any_other_name_parameter_is_refused_or_a_single_name(value):
    for field in ("experiment_name", "compute_name", "datastore", "credentials_block"):
        arguments = {field: value, "backend": "azureml"} if field == "credentials_block" else {field: value}
        try:
            TrainingParameters.from_flow(arguments)
        except ConfigError:
            continue
        assert component_problem(value) is None, (field, value)


def test_a_deployment_run_may_use_only_the_folders_the_worker_allows(tmp_path, monkeypatch, training_copy):
    monkeypatch.setenv("MNIST_FLOW_ALLOWED_ROOTS", os.pathsep.join([str(tmp_path / "allowed"), str(tmp_path / "ws")]))
    (tmp_path / "allowed").mkdir()
    with pytest.raises(
        ConfigError,
        match=r"training_dir '.*training' is outside the folders this worker lets a "
        r"deployment run use \(.*allowed, .*ws\); to allow it, add its folder "
        r"to MNIST_FLOW_ALLOWED_ROOTS",
    ):
        TrainingParameters.from_flow(
            {"training_dir": str(training_copy), "workspace_dir": str(tmp_path / "ws")}, from_deployment=True
        )
    link = tmp_path / "allowed" / "link"
    link.symlink_to(training_copy)  # a symlink inside an allowed root, pointing out: resolved, refused
    with pytest.raises(ConfigError, match="training_dir .*link' is outside the folders"):
        TrainingParameters.from_flow({"training_dir": str(link)}, from_deployment=True)
    # the command line (the machine's own user) may; and what the worker's own environment names is allowed
    assert TrainingParameters.from_flow({"training_dir": str(training_copy)}).training_dir == str(training_copy)
    monkeypatch.setenv("MNIST_FLOW_ALLOWED_ROOTS", str(tmp_path))
    TrainingParameters.from_flow(
        {"training_dir": str(link), "workspace_dir": str(tmp_path / "ws")}, from_deployment=True
    )
