"""download_files against a real HTTP server on 127.0.0.1: mirrors in order, checksums, atomic writes."""

import pytest

from steps.dataset import Dataset
from steps.download import download_files
from tests.mirror_server import MirrorServer
from workspaces.errors import DataError, TransientError


def no_partial_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")] if folder.exists() else []


def test_downloads_every_file_checked_and_renamed_into_place(tiny_data, mirror, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    files = download_files(dataset, tmp_path / "dl", (mirror.url,), say=lambda line: None)
    assert sorted(p.name for p in files.paths) == [
        "test-images.gz",
        "test-labels.gz",
        "train-images.gz",
        "train-labels.gz",
    ]
    assert all(p.is_file() for p in files.paths)
    assert len(mirror.requests) == 4 and no_partial_files(tmp_path / "dl") == []


def test_files_already_present_and_valid_are_not_fetched_again(tiny_data, mirror, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    download_files(dataset, tmp_path, (mirror.url,), say=lambda line: None)
    (tmp_path / "test-labels.gz").unlink()
    said = []
    download_files(dataset, tmp_path, (mirror.url,), say=said.append)
    assert mirror.requests[4:] == ["t10k-labels-idx1-ubyte.gz"]
    assert sum("not downloaded again" in line for line in said) == 3


def test_a_corrupt_local_copy_is_replaced(tiny_data, mirror, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    (tmp_path / "train-labels.gz").write_bytes(b"garbage")
    download_files(dataset, tmp_path, (mirror.url,), say=lambda line: None)
    assert "train-labels-idx1-ubyte.gz" in mirror.requests
    assert (tmp_path / "train-labels.gz").read_bytes() != b"garbage"


@pytest.mark.parametrize("fault", ["http500", "http429", "truncate", "corrupt", "http404"])
def test_a_failing_mirror_is_skipped_for_the_next(tiny_data, tmp_path, fault):
    dataset = Dataset.model_validate(tiny_data[1])
    with MirrorServer(tiny_data[0]) as bad, MirrorServer(tiny_data[0]) as good:
        bad.faults = {f.source: fault for f in dataset.files}
        files = download_files(dataset, tmp_path, (bad.url, good.url), say=lambda line: None)
    assert len(bad.requests) == 4 and len(good.requests) == 4
    assert all(p.is_file() for p in files.paths) and no_partial_files(tmp_path) == []


def test_when_no_mirror_serves_a_file_the_error_lists_each_one(tiny_data, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    with MirrorServer(tiny_data[0]) as first, MirrorServer(tiny_data[0]) as second:
        first.faults = {"train-images-idx3-ubyte.gz": "corrupt"}
        second.faults = {"train-images-idx3-ubyte.gz": "http404"}
        with pytest.raises(DataError) as error:
            download_files(dataset, tmp_path, (first.url, second.url), say=lambda line: None)
    message = str(error.value)
    assert "no mirror served a valid train-images-idx3-ubyte.gz" in message
    assert f"{first.url}: wrong content: sha256" in message and f"{second.url}: HTTP 404" in message
    assert not (tmp_path / "train-images.gz").exists() and no_partial_files(tmp_path) == []


def test_network_failures_are_transient_so_the_step_is_retried(tiny_data, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    with MirrorServer(tiny_data[0]) as busy:
        busy.faults = {f.source: "http500" for f in dataset.files}
        with pytest.raises(TransientError, match="HTTP 500"):
            download_files(dataset, tmp_path, (busy.url, "http://127.0.0.1:9/"), say=lambda line: None)


def test_a_slow_mirror_times_out_and_the_next_is_used(tiny_data, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    with MirrorServer(tiny_data[0], slow_seconds=3) as slow, MirrorServer(tiny_data[0]) as good:
        slow.faults = {"train-images-idx3-ubyte.gz": "slow"}
        download_files(dataset, tmp_path, (slow.url, good.url), say=lambda line: None, timeout=0.5)
    assert (tmp_path / "train-images.gz").is_file()
    assert "train-images-idx3-ubyte.gz" in good.requests


def test_folder_and_file_url_mirrors(tiny_data, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    download_files(dataset, tmp_path / "a", (str(tiny_data[0]),), say=lambda line: None)
    download_files(dataset, tmp_path / "b", (tiny_data[0].as_uri(),), say=lambda line: None)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())


def test_a_folder_mirror_missing_a_file_falls_through(tiny_data, mirror, tmp_path):
    dataset = Dataset.model_validate(tiny_data[1])
    empty = tmp_path / "empty"
    empty.mkdir()
    download_files(dataset, tmp_path / "dl", (str(empty), mirror.url), say=lambda line: None)
    assert len(mirror.requests) == 4
