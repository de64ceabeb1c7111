"""`python flows/main.py --reproduce VERSION`: a registered version rebuilt from what was recorded about it, and
every way that can fail reported as such; nothing registered, nothing added to the run history."""

from importlib.metadata import version as installed
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from flows.cli import main
from flows.main import mnist_training
from tests.flows.flow_runs import mlflow_runs, model_versions


@pytest.fixture
def workspace(trained_workspace):
    return trained_workspace


def reproduce(workspace, ref: str, capsys, *flags: str) -> tuple[int, list[str]]:
    code = main(mnist_training, ["--reproduce", ref, "--workspace-dir", str(workspace), *flags])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).strip().splitlines()


def test_a_version_rebuilds_identical_and_nothing_is_registered(workspace, capsys):
    runs_before = len(mlflow_runs(workspace))
    code, lines = reproduce(workspace, "champion", capsys)
    assert code == 0 and lines[-1] == "identical", lines
    assert lines[0].startswith("reproducing sklearn_mnist version 1 (run ")
    assert any(line.startswith("  training code: the run's snapshot matches") for line in lines)
    assert any(line.startswith("  data: the datastore's mnist files match") for line in lines)
    assert "  libraries: as recorded" in lines and any("BLAS threads: " in line for line in lines)
    [model_line] = [line for line in lines if line.startswith("  model file: sha256")]
    rebuilt, recorded = model_line.split()[3], model_line.split()[5]
    assert rebuilt == recorded
    assert len(model_versions(workspace)) == 1 and len(mlflow_runs(workspace)) == runs_before
    assert not list((workspace / "reproductions").iterdir())  # its copy of the data gone with the verdict


def test_a_kept_reproduction_is_where_it_says(workspace, capsys):
    code, lines = reproduce(workspace, "1", capsys, "--keep-reproduction")
    assert code == 0 and lines[-1] == "identical", lines
    [kept] = [line.removeprefix("  kept in ") for line in lines if line.startswith("  kept in ")]
    assert (Path(kept) / "code" / "outputs" / "sklearn_mnist_model.pkl").is_file()
    assert [p.name for p in (workspace / "reproductions").iterdir()] == [Path(kept).name]


def test_a_tampered_snapshot_is_reported_and_not_run(workspace, capsys):
    run_id = model_versions(workspace)[0].run_id
    with open(workspace / "runs" / run_id / "train.py", "a") as script:
        script.write("\n# edited after the run\n")
    code, lines = reproduce(workspace, "1", capsys)
    assert code == 1 and lines[-1] == "different", lines
    assert any("training code: the run's snapshot" in line and "changed after the run" in line for line in lines)
    assert not list((workspace / "reproductions").glob("*/code/outputs"))  # nothing was trained


def test_the_rebuild_parses_the_checked_files_not_the_arrays_kept_beside_them(workspace, capsys):
    """The parsed arrays the runs read (the one copy, beside the downloads) carry no recorded hash: changed, they
    would make a rebuild train on other data. The rebuild reads its own checked copy of the files instead."""
    kept = sorted((workspace / "downloads" / ".parsed").glob("*-images.npy"))
    assert kept, "the runs keep their parsed arrays beside the data"
    for images in kept:
        array = np.load(images, mmap_mode="r+")
        array[:] = 0  # same shape: a reader that trusted it would train on blank digits
        array.flush()
    code, lines = reproduce(workspace, "1", capsys)
    assert code == 0 and lines[-1] == "identical", lines


def damage(labels):
    labels.write_bytes(labels.read_bytes()[:-8] + bytes(8))  # a manifest beside it still names the old content


def test_a_datastore_file_that_changed_is_found_again_in_the_downloads(workspace, capsys):
    damage(workspace / "datastore" / "mnist" / "test-labels.gz")
    code, lines = reproduce(workspace, "1", capsys)
    assert code == 0 and lines[-1] == "identical", lines
    [data] = [line for line in lines if line.startswith("  data: ")]
    assert data.startswith("  data: the workspace's downloads match the recorded sha256")
    assert (
        "(the datastore's mnist files (test-images.gz, test-labels.gz, train-images.gz, train-labels.gz) hash" in data
    )


def test_a_data_file_that_changed_everywhere_is_reported(workspace, capsys):
    damage(workspace / "datastore" / "mnist" / "test-labels.gz")
    damage(workspace / "downloads" / "test-labels.gz")
    code, lines = reproduce(workspace, "1", capsys)
    assert code == 1 and lines[-1] == "different", lines
    assert any(
        "data: the datastore's mnist files" in line and "the workspace's downloads" in line and "cannot rebuild" in line
        for line in lines
    )


def test_a_library_version_that_differs_is_reported_not_hidden(workspace, capsys):
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_model_version_tag(
        "sklearn_mnist", "1", "version_numpy", "1.0.0"
    )
    code, lines = reproduce(workspace, "1", capsys)
    assert f"  libraries differ: numpy: 1.0.0 recorded, {installed('numpy')} here" in lines
    assert code == 0 and lines[-1] == "identical", lines  # the same numpy really ran: the bytes say so


def test_an_unknown_version_is_one_line_and_exit_2(workspace, capsys):
    code, lines = reproduce(workspace, "9", capsys)
    assert code == 2 and lines == [
        "error: sklearn_mnist has no version '9'; the registry holds versions 1 (champion -> 1)"
    ]


def test_a_reference_that_is_no_version_or_alias_is_refused_before_the_workspace_is_opened(tmp_path, capsys):
    code, lines = reproduce(tmp_path / "no-workspace", "../1", capsys)
    assert code == 2 and lines == [
        "error: --reproduce '../1': expected a version number (such as 3) or an alias (such as champion)"
    ]
    assert not (tmp_path / "no-workspace").exists()


def test_a_thread_count_tag_that_is_no_number_is_reported_and_not_used(workspace, capsys):
    run_id = model_versions(workspace)[0].run_id
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).set_tag(run_id, "blas_threads", "1; touch /tmp/x")
    code, lines = reproduce(workspace, "1", capsys)
    assert "  BLAS threads: recorded as '1; touch /tmp/x', not a thread count; using 1" in lines
    assert code == 0 and lines[-1] == "identical", lines


def test_keeping_a_reproduction_without_one_is_one_line(tmp_path, capsys):
    code = main(mnist_training, ["--keep-reproduction", "--workspace-dir", str(tmp_path / "ws")])
    assert code == 2 and capsys.readouterr().err.splitlines() == [
        "error: --keep-reproduction keeps what --reproduce rebuilds: give it with --reproduce VERSION"
    ]
