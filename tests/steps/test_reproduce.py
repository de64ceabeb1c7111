"""The verdict of `--reproduce` on its functions (steps/reproduce.py): which recorded libraries differ, and how a
rebuilt model compares with the registered one: the same bytes, the same predictions, or other predictions.
tests/flows/test_reproduce.py rebuilds a trained workspace's version through the command line."""

import copy

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from steps.reproduce import DIFFERENT, EQUIVALENT, IDENTICAL, compare, library_differences
from tests.idx_files import write_tiny_datastore_files
from training.utils import load_split


def test_only_the_recorded_libraries_whose_version_differs_are_named():
    tags = {"version_numpy": "1.0.0", "version_joblib": "1.5.0", "accuracy": "0.9"}  # scikit-learn not recorded
    here = {"numpy": "2.4.6", "joblib": "1.5.0", "scikit-learn": "1.9.1"}
    assert library_differences(tags, here) == ["numpy: 1.0.0 recorded, 2.4.6 here"]
    assert library_differences({}, here) == []


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("datastore")
    write_tiny_datastore_files(folder)
    return folder


def fitted(data) -> LogisticRegression:
    images, labels = load_split(str(data), "train")
    return LogisticRegression(max_iter=200).fit(images, labels)


def with_digits_0_and_1_swapped(model: LogisticRegression) -> LogisticRegression:
    """Another model: what a rebuild on other data or code would give (it takes every 0 for a 1, and back)."""
    other = copy.deepcopy(model)
    other.coef_[[0, 1]], other.intercept_[[0, 1]] = model.coef_[[1, 0]], model.intercept_[[1, 0]]
    return other


def saved(model, path, compress: int = 0):
    joblib.dump(model, path, compress=compress)
    return path


def test_the_same_model_file_is_identical(data, tmp_path):
    model = fitted(data)
    recorded = saved(model, tmp_path / "recorded.pkl")
    rebuilt = saved(model, tmp_path / "rebuilt.pkl")
    verdict, lines = compare(recorded, model, rebuilt, data)
    assert verdict == IDENTICAL and len(lines) == 1 and lines[0].startswith("model file: sha256 ")


def test_another_file_with_the_same_predictions_is_equivalent_and_says_how_close(data, tmp_path):
    model = fitted(data)
    recorded = saved(model, tmp_path / "recorded.pkl")
    rebuilt = saved(model, tmp_path / "rebuilt.pkl", compress=3)  # other bytes, the same coefficients
    verdict, lines = compare(recorded, model, rebuilt, data)
    assert verdict == EQUIVALENT
    assert lines[1:] == ["largest coefficient difference: 0", "predictions on the 100 test images: 0 differ"]


def test_a_model_that_predicts_otherwise_is_different_and_counts_the_digits(data, tmp_path):
    registered = fitted(data)
    recorded = saved(registered, tmp_path / "recorded.pkl")
    rebuilt = saved(with_digits_0_and_1_swapped(registered), tmp_path / "rebuilt.pkl")
    verdict, lines = compare(recorded, registered, rebuilt, data)
    _, test_labels = load_split(str(data), "test")
    zeros_and_ones = int(np.isin(test_labels, (0, 1)).sum())
    assert verdict == DIFFERENT and lines[-1] == f"predictions on the 100 test images: {zeros_and_ones} differ", lines
