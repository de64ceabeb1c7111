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
