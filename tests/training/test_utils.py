"""The IDX reader that runs on the compute: the tutorial's shapes, and a clear refusal of malformed files."""

import gzip

import numpy as np
import pytest

from tests.idx_files import idx_images, idx_labels, synthetic_digits, write_gz
from training.utils import IdxFormatError, load_data, load_split


def write_split(folder, split, images, labels):
    write_gz(folder / f"{split}-images.gz", idx_images(images))
    write_gz(folder / f"{split}-labels.gz", idx_labels(labels))


def test_load_data_keeps_the_tutorials_shapes(tmp_path):
    images, labels = synthetic_digits(12, seed=0)
    write_split(tmp_path, "train", images, labels)
    loaded = load_data(tmp_path / "train-images.gz", False)
    assert loaded.shape == (12, 784) and loaded.dtype == np.uint8
    assert np.array_equal(loaded, images.reshape(12, 784))
    assert load_data(tmp_path / "train-labels.gz", True).shape == (12, 1)


def test_load_split_scales_pixels_to_0_1_as_float32(tmp_path):
    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "test", images, labels)
    X, y = load_split(tmp_path, "test")
    assert X.dtype == np.float32 and X.min() >= 0.0 and X.max() == 1.0
    assert np.array_equal(y, labels)


def test_the_parsed_split_is_kept_and_memory_mapped_by_the_next_reader(tmp_path):
    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "train", images, labels)
    first, first_labels = load_split(tmp_path, "train")
    assert not isinstance(first, np.memmap) and len(list((tmp_path / ".parsed").glob("*.npy"))) == 2
    again, again_labels = load_split(tmp_path, "train")
    assert isinstance(again, np.memmap) and np.array_equal(again, first) and np.array_equal(again_labels, labels)
    assert again.dtype == np.float32 and not list((tmp_path / ".parsed").glob("*.tmp"))

    other, other_labels = synthetic_digits(20, seed=1)  # new contents under the same names: parsed anew
    write_split(tmp_path, "train", other, other_labels)
    changed, _ = load_split(tmp_path, "train")
    assert not isinstance(changed, np.memmap) and np.array_equal(changed * 255, other.reshape(20, 784))


def test_a_folder_where_nothing_can_be_kept_is_read_all_the_same(tmp_path):
    """As on a read-only mount (the tests run as root, who may write anywhere): `.parsed` cannot be made."""
    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "test", images, labels)
    (tmp_path / ".parsed").write_text("a file, not a folder")
    for _ in range(2):
        X, y = load_split(tmp_path, "test")
        assert not isinstance(X, np.memmap) and np.array_equal(y, labels) and X.shape == (20, 784)


@pytest.mark.parametrize(
    "raw, label, message",
    [
        (idx_images(np.zeros((2, 28, 28)), magic=0x00000801), False, "magic number 0x00000801, expected 0x00000803"),
        (idx_labels(np.zeros(3), magic=0x00000803), True, "magic number 0x00000803, expected 0x00000801"),
        (idx_images(np.zeros((4, 28, 28)))[:-100], False, "truncated: header promises 3136 bytes"),
        (idx_labels(np.zeros(4)) + b"\0\0", True, "has trailing bytes"),
        (idx_images(np.zeros((0, 28, 28))), False, "empty images file"),
        (b"\0\0\x08", False, "too short for an IDX images header"),
    ],
    ids=["images-magic", "labels-magic", "truncated", "trailing", "empty", "header-only"],
)
def test_malformed_files_are_refused_by_name(tmp_path, raw, label, message):
    path = tmp_path / "file.gz"
    write_gz(path, raw)
    with pytest.raises(IdxFormatError, match=message) as error:
        load_data(path, label)
    assert str(path) in str(error.value)


def test_a_file_that_is_not_gzip_is_refused(tmp_path):
    path = tmp_path / "train-images.gz"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(IdxFormatError, match="not a readable gzip file"):
        load_data(path)


def test_image_and_label_counts_must_match(tmp_path):
    images, labels = synthetic_digits(10, seed=0)
    write_split(tmp_path, "train", images, labels[:9])
    with pytest.raises(IdxFormatError, match="9 labels for 10 images"):
        load_split(tmp_path, "train")


def test_labels_must_be_digits(tmp_path):
    images, labels = synthetic_digits(10, seed=0)
    labels[3] = 11
    write_split(tmp_path, "train", images, labels)
    with pytest.raises(IdxFormatError, match="label 11 found, expected digits 0..9"):
        load_split(tmp_path, "train")


def test_images_must_be_28_by_28(tmp_path):
    images, labels = synthetic_digits(10, seed=0, shape=(20, 20))
    write_split(tmp_path, "train", images, labels)
    with pytest.raises(IdxFormatError, match="images are 20x20, expected MNIST's 28x28"):
        load_split(tmp_path, "train")


def test_gzip_member_cut_short_is_refused(tmp_path):
    path = tmp_path / "train-images.gz"
    path.write_bytes(gzip.compress(idx_images(np.zeros((5, 28, 28))))[:-20])
    with pytest.raises(IdxFormatError, match="not a readable gzip file"):
        load_data(path)


def test_the_folder_a_compute_names_keeps_one_copy_for_every_folder_of_the_same_files(tmp_path):
    """The local workspace points its runs (train.py) at the arrays its flow keeps beside the downloads: the datastore's
    copy of the same files (same contents, so the same name) is read from there, and nothing is kept beside it."""
    images, labels = synthetic_digits(20, seed=0)
    for folder in ("downloads", "datastore"):
        (tmp_path / folder).mkdir()
        write_split(tmp_path / folder, "train", images, labels)
    first, _ = load_split(tmp_path / "downloads", "train")
    again, again_labels = load_split(
        tmp_path / "datastore", "train", parsed_dir=str(tmp_path / "downloads" / ".parsed")
    )
    assert isinstance(again, np.memmap) and np.array_equal(again, first) and np.array_equal(again_labels, labels)
    assert not (tmp_path / "datastore" / ".parsed").exists()


def waits_for_the_lock(reader, seconds: float = 120) -> None:
    """Until the kernel lists the reader as blocked on a flock (a `->` line of /proc/locks): it is waiting."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + seconds
    while not any(
        fields[1] == "->" and fields[5] == str(reader.pid)
        for fields in map(str.split, Path("/proc/locks").read_text().splitlines())
    ):
        assert reader.poll() is None, "the reader ended without waiting for the lock"
        assert time.monotonic() < deadline, f"process {reader.pid} never waited for the lock"
        time.sleep(0.05)


def test_readers_that_start_together_wait_for_the_first_ones_parse(tmp_path, processes):
    """A sweep's first runs start at once, each its own process: the second waits for the first's arrays rather
    than parsing again. Here the test is the first reader: it holds the lock, a reader process starts (hence
    `processes`: the slow tier), and the arrays the test keeps once the reader waits (blank digits, so they can be
    told from a parse) are what it returns."""
    import fcntl
    import subprocess
    import sys

    from tests.conftest import PROJECT
    from training.utils import keep, parsed_paths

    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "train", images, labels)
    kept = parsed_paths(
        str(tmp_path / ".parsed"),
        str(tmp_path / "train-images.gz"),
        str(tmp_path / "train-labels.gz"),
        np.dtype(np.float32),
    )
    (tmp_path / ".parsed").mkdir()
    reading = (
        "import sys; from training.utils import load_split; X = load_split(sys.argv[1], 'train')[0]; print(X.any())"
    )
    with open(f"{kept[0]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reader = subprocess.Popen(
            [sys.executable, "-c", reading, str(tmp_path)], cwd=PROJECT, stdout=subprocess.PIPE, text=True
        )
        waits_for_the_lock(reader)
        keep(kept, np.zeros((20, 784), np.float32), labels)
    assert reader.communicate(timeout=120)[0].strip() == "False"  # the blank digits the test kept, not a parse
    assert reader.returncode == 0


def test_a_file_system_without_locks_is_read_all_the_same(tmp_path, monkeypatch):
    """A blob mount may refuse flock (ENOLCK): the reader parses for itself, and keeps what it parsed."""
    import fcntl

    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "test", images, labels)
    X, y = load_split(tmp_path, "test")
    assert np.array_equal(y, labels) and np.array_equal(X * 255, images.reshape(20, 784))
    assert isinstance(load_split(tmp_path, "test")[0], np.memmap)


def test_a_stray_parsed_dir_variable_does_not_move_what_the_flow_keeps(tmp_path, monkeypatch):
    """MNIST_FLOW_PARSED_DIR is for train.py on the local compute; left in a person's shell, it is not where the
    flow's own steps write (nor what they trust): they keep beside their data."""
    monkeypatch.setenv("MNIST_FLOW_PARSED_DIR", str(tmp_path / "elsewhere"))
    images, labels = synthetic_digits(20, seed=0)
    write_split(tmp_path, "test", images, labels)
    load_split(tmp_path, "test")
    assert len(list((tmp_path / ".parsed").glob("*.npy"))) == 2 and not (tmp_path / "elsewhere").exists()
