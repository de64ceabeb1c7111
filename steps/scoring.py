"""Scoring digits with a registered model, the tutorial's part 2 on the local workspace: reading the digits (IDX
files, gzipped or not, or folders of 28x28 PNGs), predicting with probabilities, and what a person looks at
afterwards (accuracy and confusion matrix when the labels are known, the least confident predictions).

Plain functions, no Prefect. Everything a caller gave is read and checked before anything is written: a file
that is not what it claims to be is one ConfigError naming it.
"""

import csv
import gzip
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.metrics import confusion_matrix

from steps.dataset import LocalFiles
from steps.mnist import load_split
from training.utils import IdxFormatError, parse_idx
from workspaces.errors import ConfigError

SIDE = 28  # MNIST's images are 28x28
DIGITS = [str(d) for d in range(10)]


@dataclass(frozen=True)
class Digits:
    """Images as rows of 784 floats in 0..1 (the model's input contract), where each came from, and the labels if
    known."""

    images: np.ndarray
    files: list[str]  # per image: the file it was read from
    indices: list[int]  # per image: its position in that file (0 for a PNG)
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class Predictions:
    predicted: np.ndarray
    probability: np.ndarray  # of the predicted digit

    def accuracy(self, digits: Digits) -> float | None:
        return None if digits.labels is None else float(np.mean(self.predicted == digits.labels))

    def confusion(self, digits: Digits) -> list[list[int]] | None:
        if digits.labels is None:
            return None
        return confusion_matrix(digits.labels, self.predicted, labels=list(range(10))).tolist()

    def least_confident(self, count: int = 20) -> np.ndarray:
        return np.argsort(self.probability, kind="stable")[:count]


def read_digits(images: Path, labels: Path | None = None) -> Digits:
    """An IDX images file (with its IDX labels file, if given) or a folder of PNGs."""
    if images.is_dir():
        return read_png_folder(images)
    pixels = read_idx(images, label=False)
    if labels is None:
        return Digits(scaled(pixels), [images.name] * len(pixels), list(range(len(pixels))))
    known = read_idx(labels, label=True).reshape(-1)
    if len(known) != len(pixels):
        raise ConfigError(f"{labels.name} holds {len(known)} labels for the {len(pixels)} images of {images.name}")
    return Digits(scaled(pixels), [images.name] * len(pixels), list(range(len(pixels))), known.astype(np.int64))


def read_idx(path: Path, label: bool) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic number: MNIST's own files are gzipped, a converted copy may not be
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ConfigError(f"{path.name}: not a readable gzip file ({exc})") from None
    try:
        parsed = parse_idx(raw, label=label, source=path.name)
    except IdxFormatError as exc:
        raise ConfigError(str(exc)) from None
    if not label and (shape := struct.unpack(">II", raw[8:16])) != (SIDE, SIDE):
        raise ConfigError(f"{path.name}: images of {shape[0]}x{shape[1]} pixels; the model takes 28x28")
    if label and parsed.max() > 9:
        raise ConfigError(f"{path.name}: label {int(parsed.max())} is not a digit")
    return parsed


def read_png_folder(folder: Path) -> Digits:
    """A folder of PNGs (unlabelled), or of sub-folders 0 to 9 holding PNGs (labelled by their folder)."""
    entries = visible(folder)
    folders = [e for e in entries if e.is_dir()]
    odd = [e.name for e in entries if not e.is_dir()] if folders else []  # a file beside the labelled sub-folders
    odd += [f.name for f in folders if f.name not in DIGITS]
    if odd:
        one = len(odd) == 1
        raise ConfigError(
            f"{folder}: expected PNG files, or only sub-folders named 0 to 9 holding them; "
            f"{', '.join(sorted(odd)[:5])} {'is' if one else 'are'} neither: move {'it' if one else 'them'} out, or "
            "label every image by its sub-folder"
        )
    if folders:
        files = [(png, int(sub.name)) for sub in sorted(folders) for png in visible(sub)]
    else:
        files = [(png, -1) for png in entries]
    if not files:
        raise ConfigError(f"{folder}: no PNG images in it")
    pixels = np.stack([read_png(path) for path, _ in files])
    names = [str(path.relative_to(folder)) for path, _ in files]
    labels = np.array([label for _, label in files], dtype=np.int64) if folders else None
    return Digits(scaled(pixels), names, [0] * len(names), labels)


def visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def read_png(path: Path) -> np.ndarray:
    """A 28x28 PNG as 784 grayscale bytes (a colour PNG is converted to gray, as a person would expect)."""
    if not path.is_file():
        raise ConfigError(f"{path.name}: a folder inside a folder of digits; expected a PNG file")
    try:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            if image.format != "PNG":
                raise ConfigError(f"{path.name}: a {image.format} image; expected a PNG")
            if image.size != (SIDE, SIDE):
                raise ConfigError(f"{path.name}: {image.size[0]}x{image.size[1]} pixels; the model takes 28x28")
            gray = image.convert("L")
            return np.asarray(gray, dtype=np.uint8).reshape(SIDE * SIDE)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ConfigError(f"{path.name}: not a readable PNG image ({type(exc).__name__})") from None


def scaled(pixels: np.ndarray) -> np.ndarray:
    """Pixels divided by 255, as float32: the input contract train.py's model was trained and signed with."""
    return pixels.astype(np.float32) / 255.0


def predict(model, digits: Digits) -> Predictions:
    probabilities = model.predict_proba(digits.images)
    best = probabilities.argmax(axis=1)
    return Predictions(model.classes_[best].astype(np.int64), probabilities[np.arange(len(best)), best])


def predictions_csv(digits: Digits, predictions: Predictions) -> str:
    """file, index, predicted, probability (and label, when known): one row per image."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    labelled = digits.labels is not None
    writer.writerow(["file", "index", "predicted", "probability"] + (["label"] if labelled else []))
    for i, (file, index) in enumerate(zip(digits.files, digits.indices, strict=True)):
        row = [file, index, int(predictions.predicted[i]), f"{predictions.probability[i]:.4f}"]
        writer.writerow(row + ([int(digits.labels[i])] if digits.labels is not None else []))
    return out.getvalue()


def least_confident_titles(digits: Digits, predictions: Predictions, picks: np.ndarray) -> list[str]:
    """'3 (0.41)' per picked image, and the true digit when it differs: '3 (0.41) ≠7'."""
    titles = []
    for i in picks:
        title = f"{int(predictions.predicted[i])} ({predictions.probability[i]:.2f})"
        if digits.labels is not None and digits.labels[i] != predictions.predicted[i]:
            title += f" ≠{int(digits.labels[i])}"
        titles.append(title)
    return titles


def score_model(model, files: LocalFiles) -> tuple[float, list[list[int]]]:
    """The registered model on the workspace's MNIST test set: accuracy and confusion matrix (the flow's report)."""
    X_test, y_test = load_split(files, "test")
    predicted = model.predict(X_test)
    matrix = confusion_matrix(y_test, predicted, labels=list(range(10)))
    return float(np.average(predicted == y_test)), matrix.tolist()
