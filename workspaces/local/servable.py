"""The registered model as MLflow serves it, built once when a version is registered, from the run's pickle.

A training run saves only the tutorial's pickle: building an MLflow model costs a run about 2 CPU-seconds (skops
and MLflow's model code imported, the signature inferred, the files written: measured in benchmarks/), and of a
sweep's runs one is registered. Built here instead: the scikit-learn flavour in skops format (MLflow's safe
default, no pickle to trust when it is loaded), a signature (784 float32 values in 0..1 in, an integer label
out), an input example (the first test digit), and pip requirements written out rather than inferred (inference
loads the model again in a subprocess).
"""

import gzip
from importlib.metadata import version
from pathlib import Path

import joblib
import numpy as np

SERVING_PACKAGES = ("scikit-learn", "numpy", "skops")  # what the model's environment needs besides MLflow
MNIST_PIXELS = 28 * 28


def save_servable(pickle: Path, folder: Path, test_images: Path) -> None:
    """The MLflow model of the pickled classifier `pickle`, saved into `folder` (which must not exist)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    classifier = joblib.load(pickle)  # the run's own output, kept with the run: as trusted as the run
    sample = first_digits(test_images, 5)
    mlflow.sklearn.save_model(
        classifier,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        signature=infer_signature(sample, classifier.predict(sample)),
        input_example=sample[:1],
        pip_requirements=[f"{name}=={version(name)}" for name in SERVING_PACKAGES],
    )


def first_digits(images_gz: Path, count: int) -> np.ndarray:
    """The first `count` images of an MNIST images file, as a model takes them (float32, 0..1); blank digits
    if the file is not there or not whole (only the example shown with the model would differ)."""
    try:
        with gzip.open(images_gz) as gz:
            gz.read(16)  # the IDX header (checked when the data were uploaded)
            pixels = np.frombuffer(gz.read(count * MNIST_PIXELS), dtype=np.uint8).reshape(count, MNIST_PIXELS)
    except (OSError, EOFError, ValueError):  # missing, not gzip, or cut short since the upload
        return np.zeros((count, MNIST_PIXELS), dtype=np.float32)
    return pixels.astype(np.float32) / 255.0
