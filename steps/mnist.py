"""MNIST as the flow's own steps read it: training/utils.py's checked loader, with its errors as DataError."""

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from steps.dataset import LocalFiles
from training import utils
from workspaces.errors import DataError
from workspaces.paths import inside


@contextlib.contextmanager
def malformed_as_data_error() -> Iterator[None]:
    """A file that is not what MNIST's format says, as the flow's DataError with what to check."""
    try:
        yield
    except utils.IdxFormatError as exc:
        raise DataError(f"{exc}; check the dataset's files (or its description's sha256s)") from exc


def load_split(files: LocalFiles, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images scaled to 0..1 as float32, and labels, of 'train' or 'test'; DataError if a file is malformed."""
    with malformed_as_data_error():
        return utils.load_split(files.folder, split)


def load_raw(files: LocalFiles, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Pixels as stored (0..255, uint8) and labels: for looking at the digits, no need to scale them."""
    return utils.load_pair(inside(files.folder, f"{split}-images.gz"), inside(files.folder, f"{split}-labels.gz"))


def check_mnist(paths: Mapping[str, Path]) -> dict[str, int]:
    """Parse the four files (by datastore name) as train.py will; the number of training and test images."""
    with malformed_as_data_error():
        return {
            split: len(utils.load_pair(paths[f"{split}-images.gz"], paths[f"{split}-labels.gz"])[1])
            for split in ("train", "test")
        }
