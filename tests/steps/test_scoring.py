"""What the scoring flow reads and writes, on its functions (steps/scoring.py): IDX files, gzipped or not, with or
without labels; folders of PNGs, labelled by sub-folder or not; each bad input one ConfigError naming the file;
the predictions' CSV and the least confident digits' titles. tests/flows/test_scoring.py runs the flow itself."""

import gzip

import numpy as np
import pytest
from PIL import Image

from steps.scoring import Digits, Predictions, least_confident_titles, predict, predictions_csv, read_digits
from tests.idx_files import idx_images, idx_labels, synthetic_digits
from workspaces.errors import ConfigError


def test_idx_files_gzipped_or_not_give_the_same_digits_scaled_to_the_input_contract(tmp_path):
    images, labels = synthetic_digits(12, seed=3)
    (tmp_path / "images.gz").write_bytes(gzip.compress(idx_images(images)))
    (tmp_path / "images.idx").write_bytes(idx_images(images))
    (tmp_path / "labels.idx").write_bytes(idx_labels(labels))
    zipped = read_digits(tmp_path / "images.gz", tmp_path / "labels.idx")
    plain = read_digits(tmp_path / "images.idx")
    assert zipped.images.dtype == np.float32 and zipped.images.shape == (12, 784)
    assert np.array_equal(zipped.images, plain.images) and zipped.images.max() <= 1.0
    assert zipped.labels.tolist() == labels.tolist() and plain.labels is None
    assert zipped.files == ["images.gz"] * 12 and zipped.indices == list(range(12))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(idx_images(synthetic_digits(3, 1, shape=(32, 32))[0])), "images of 32x32 pixels"),
        (lambda p: p.write_bytes(b"\x1f\x8b" + b"no gzip after all"), "not a readable gzip file"),
        (lambda p: p.write_bytes(idx_labels(np.arange(20))), "magic number 0x00000801, expected 0x00000803"),
    ],
    ids=["32x32", "broken gzip", "labels for images"],
)
def test_a_bad_idx_file_is_one_error_naming_it(tmp_path, write, message):
    write(tmp_path / "digits.idx")
    with pytest.raises(ConfigError, match=message) as raised:
        read_digits(tmp_path / "digits.idx")
    assert str(raised.value).startswith("digits.idx") and "\n" not in str(raised.value)


def test_labels_that_do_not_match_the_images_are_refused(tmp_path):
    images, labels = synthetic_digits(4, seed=2)
    (tmp_path / "images.idx").write_bytes(idx_images(images))
    (tmp_path / "few.idx").write_bytes(idx_labels(labels[:3]))
    (tmp_path / "twelve.idx").write_bytes(idx_labels(np.array([1, 2, 12, 3])))
    with pytest.raises(ConfigError, match="few.idx holds 3 labels for the 4 images of images.idx"):
        read_digits(tmp_path / "images.idx", tmp_path / "few.idx")
    with pytest.raises(ConfigError, match="twelve.idx: label 12 is not a digit"):
        read_digits(tmp_path / "images.idx", tmp_path / "twelve.idx")


def save_png(path, pixels, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.reshape(28, 28).astype(np.uint8)).convert(mode).save(path)


def test_png_folders_are_read_labelled_by_sub_folder_or_not_and_colour_is_made_gray(tmp_path):
    images, _ = synthetic_digits(3, seed=4)
    save_png(tmp_path / "labelled" / "7" / "a.png", images[0])
    save_png(tmp_path / "labelled" / "1" / "b.png", images[1], mode="RGB")
    save_png(tmp_path / "plain" / "c.png", images[2])
    (tmp_path / "plain" / ".DS_Store").write_text("a file a person does not see")
    labelled = read_digits(tmp_path / "labelled")
    assert labelled.files == ["1/b.png", "7/a.png"] and labelled.labels.tolist() == [1, 7]
    assert np.allclose(labelled.images[0] * 255, images[1].reshape(784), atol=1)  # RGB of a gray: the same grays
    plain = read_digits(tmp_path / "plain")
    assert plain.files == ["c.png"] and plain.labels is None and plain.indices == [0]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: (f / "7").mkdir(parents=True) or (f / "notes.txt").write_text("x"), "them; notes.txt is neither"),
        (lambda f: (f / "seven").mkdir(parents=True), "only sub-folders named 0 to 9 holding them; seven is neither"),
        (lambda f: f.mkdir(), "no PNG images in it"),
        (lambda f: f.mkdir() or Image.new("L", (32, 32)).save(f / "big.png"), "big.png: 32x32 pixels"),
        (lambda f: f.mkdir() or Image.new("L", (28, 28)).save(f / "a.png", format="JPEG"), "a.png: a JPEG image"),
        (lambda f: f.mkdir() or (f / "notes.png").write_text("not a picture"), "notes.png: not a readable PNG"),
    ],
    ids=["mixed", "not a digit", "empty", "wrong size", "a JPEG", "not an image"],
)
def test_a_bad_png_folder_is_one_error(tmp_path, make, message):
    folder = tmp_path / "digits"
    make(folder)
    with pytest.raises(ConfigError, match=message):
        read_digits(folder)


class TwoDigitModel:
    """A classifier that knows two digits, 3 and 7 (a model's classes_ need not be 0 to 9), and answers fixed
    probabilities: what `predict` makes of scikit-learn's predict_proba and classes_."""

    classes_ = np.array([3, 7])

    def predict_proba(self, images):
        return np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45]])[: len(images)]


def test_predictions_are_the_models_classes_with_their_probability_and_the_least_confident_first():
    digits = Digits(np.zeros((3, 784), np.float32), ["a.png", "b.png", "c.png"], [0, 0, 0], np.array([3, 3, 3]))
    predictions = predict(TwoDigitModel(), digits)
    assert predictions.predicted.tolist() == [3, 7, 3]
    assert predictions.probability.tolist() == pytest.approx([0.9, 0.6, 0.55])
    assert predictions.accuracy(digits) == pytest.approx(2 / 3)
    assert predictions.confusion(digits)[3][7] == 1 and predictions.confusion(digits)[3][3] == 2
    picks = predictions.least_confident(2)
    assert picks.tolist() == [2, 1]
    assert least_confident_titles(digits, predictions, picks) == ["3 (0.55)", "7 (0.60) ≠3"]


def test_the_predictions_csv_has_a_label_column_only_when_labels_are_known():
    predictions = Predictions(np.array([3, 7]), np.array([0.91234, 0.5]))
    unlabelled = Digits(np.zeros((2, 784), np.float32), ["x.idx", "x.idx"], [0, 1])
    assert predictions_csv(unlabelled, predictions).splitlines() == [
        "file,index,predicted,probability",
        "x.idx,0,3,0.9123",
        "x.idx,1,7,0.5000",
    ]
    labelled = Digits(unlabelled.images, unlabelled.files, unlabelled.indices, np.array([3, 1]))
    assert predictions_csv(labelled, predictions).splitlines()[2] == "x.idx,1,7,0.5000,1"
    assert predictions.accuracy(unlabelled) is None and predictions.confusion(unlabelled) is None
