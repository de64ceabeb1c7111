"""The input example the local registry shows with a registered model: the first test digits, or blank ones when
the datastore's images file is missing or no longer whole (registration goes on; only the example differs)."""

import gzip

import numpy as np

from workspaces.local.servable import MNIST_PIXELS, first_digits


def idx_images(count: int) -> bytes:
    header = (0x00000803).to_bytes(4, "big") + count.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    return header + bytes(range(256)) * (count * MNIST_PIXELS // 256) + bytes(count * MNIST_PIXELS % 256)


def test_the_first_digits_scaled_to_0_1(tmp_path):
    images = tmp_path / "test-images.gz"
    images.write_bytes(gzip.compress(idx_images(5)))
    digits = first_digits(images, 5)
    assert digits.shape == (5, MNIST_PIXELS) and digits.dtype == np.float32
    assert digits[0, 255] == 1.0 and digits[0, 0] == 0.0


def test_a_missing_or_cut_short_file_gives_blank_digits(tmp_path):
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_images(5))[:200])
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(idx_images(2)))
    for path in (tmp_path / "missing.gz", cut, short):
        assert not first_digits(path, 5).any()
