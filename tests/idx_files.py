"""Tiny MNIST-shaped IDX files for tests, and the dataset description that travels with them."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

SOURCES = {  # the datastore name of each file -> its name on a mirror, as in the real MNIST
    "train-images.gz": "train-images-idx3-ubyte.gz",
    "train-labels.gz": "train-labels-idx1-ubyte.gz",
    "test-images.gz": "t10k-images-idx3-ubyte.gz",
    "test-labels.gz": "t10k-labels-idx1-ubyte.gz",
}


def idx_images(images: np.ndarray, magic: int = 0x00000803) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 0x00000801) -> bytes:
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def synthetic_digits(count: int, seed: int, shape: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Images where digit k is a bright square at its own place, over noise: easy, so accuracy is near 1."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(count, *shape))
    for image, label in zip(images, labels, strict=True):
        row, col = 2 + (label // 5) * 12, 2 + (label % 5) * 5
        image[row : row + 7, col : col + 4] = 255
    return images, labels


def write_gz(path: Path, raw: bytes) -> str:
    """Write gzipped `raw` (reproducibly: no name, no timestamp in the header); its sha256."""
    data = gzip.compress(raw, mtime=0)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_tiny_mnist(folder: Path, n_train: int = 200, n_test: int = 100, **overrides: bytes) -> dict:
    """The four files under their mirror names in `folder`; the dataset description (a flow parameter).
    `overrides` replace a file's raw IDX bytes by datastore name with dashes as underscores (train_labels=...)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = synthetic_digits(n_train, seed=1)
    test_x, test_y = synthetic_digits(n_test, seed=2)
    raw = {
        "train-images.gz": idx_images(train_x),
        "train-labels.gz": idx_labels(train_y),
        "test-images.gz": idx_images(test_x),
        "test-labels.gz": idx_labels(test_y),
    }
    raw.update({name.replace("_", "-") + ".gz": data for name, data in overrides.items()})
    files = [
        {"source": SOURCES[name], "name": name, "sha256": write_gz(folder / SOURCES[name], data)}
        for name, data in raw.items()
    ]
    return {"name": "tiny-mnist", "files": files}


def write_tiny_datastore_files(folder: Path) -> list[Path]:
    """The tiny files under the tutorial's datastore names (train-images.gz ...), as the flow uploads them."""
    description = write_tiny_mnist(folder)
    for file in description["files"]:
        (folder / file["source"]).rename(folder / file["name"])
    return sorted(folder / file["name"] for file in description["files"])
