"""Data files that are not MNIST, described by a dataset whose sha256s match them (so only the structure is
wrong): the flow stops at download_mnist naming the file and the problem, with nothing provisioned, uploaded,
trained or registered, and nothing of the bad set left in the workspace."""

import numpy as np
import pytest

from tests.idx_files import idx_images, idx_labels, synthetic_digits, write_tiny_mnist
from tests.mirror_server import MirrorServer

IMAGES, LABELS = synthetic_digits(200, seed=1)
OUT_OF_RANGE = LABELS.copy()
OUT_OF_RANGE[7] = 12


@pytest.mark.parametrize(
    "override, message",
    [
        ({"train_images": idx_images(IMAGES, magic=0x00000801)}, "magic number 0x00000801, expected 0x00000803"),
        (
            {"train_images": idx_images(synthetic_digits(200, seed=1, shape=(20, 20))[0])},
            "images are 20x20, expected MNIST's 28x28",
        ),
        ({"train_labels": idx_labels(LABELS[:150])}, "150 labels for 200 images"),
        ({"train_labels": idx_labels(OUT_OF_RANGE)}, "label 12 found, expected digits 0..9"),
        ({"test_labels": idx_labels(np.zeros(0))}, "empty labels file"),
        ({"test_images": idx_images(synthetic_digits(100, seed=2)[0])[:-500]}, "truncated: header promises"),
    ],
    ids=["wrong-magic", "wrong-dimensions", "label-count", "label-range", "empty", "truncated"],
)
def test_bad_data_stops_the_flow_before_anything_is_provisioned(flow, tmp_path, override, message):
    dataset = write_tiny_mnist(tmp_path / "bad-mirror", **override)
    with MirrorServer(tmp_path / "bad-mirror") as server:
        error = str(flow(mirrors=[server.url], dataset=dataset).result(raise_on_failure=False))
    assert message in error and "check the dataset's files" in error
    workspace = tmp_path / "ws"
    assert list((workspace / "downloads").iterdir()) == []  # the set was refused whole
    assert not (workspace / "compute").exists() and not (workspace / "datastore" / "mnist").exists()
    assert list((workspace / "runs").iterdir()) == []
